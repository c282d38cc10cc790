using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using MultiVip.Contracts;
using MultiVip.Control.State;
using MultiVip.Model.Errors;
using MultiVip.Model.Text;

namespace MultiVip.Server.Api;

/// <summary>
/// Turns every failure into <c>{code, message}</c> with the matching status: domain errors keep their
/// code, malformed or oversized bodies are the client's 4xx, and only real bugs are 500.
/// </summary>
internal static partial class ErrorHandling
{
    public static IApplicationBuilder UseApiErrors(this IApplicationBuilder app)
    {
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            // The middleware would log every exception at Error with its stack trace, a client's
            // 400 included (~1.6 KB each); the handler logs instead: a bug with its stack, a
            // client's mistake as one line.
            SuppressDiagnosticsCallback = _ => true,
            ExceptionHandler = async context =>
            {
                var exception = context.Features.Get<IExceptionHandlerFeature>()?.Error;
                var (status, body) = Describe(exception, context);
                var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("MultiVip.Server.Api");
                var path = ClientText.Escape(context.Request.Path.Value ?? "");
                if (exception is MultiVipException { Code: ErrorCode.InsufficientStorage or ErrorCode.ServiceUnavailable })
                {
                    // Known conditions of the machine, not bugs: one line that says what, no stack trace.
                    Log.Unavailable(logger, context.Request.Method, path, status, body.Code, ClientText.Escape(body.Message));
                }
                else if (status >= 500)
                {
                    Log.Unhandled(logger, context.Request.Method, path, exception);
                }
                else if (status != 499)
                {
                    var message = ClientText.Escape(body.Message);
                    Log.Refused(logger, context.Request.Method, path, status, body.Code, message);
                }

                context.Response.StatusCode = status;
                await context.Response.WriteAsJsonAsync(body, ApiJson.Options);
            },
        });

        // Empty 404/405 from routing get a body that says what exists.
        app.UseStatusCodePages(async statusContext =>
        {
            var context = statusContext.HttpContext;
            var code = context.Response.StatusCode switch
            {
                404 => ErrorCode.ResourceNotFound,
                401 => ErrorCode.Unauthorized,
                413 => ErrorCode.RequestTooLarge,
                415 => ErrorCode.UnsupportedMediaType,
                _ => ErrorCode.BadRequest,
            };
            var message = context.Response.StatusCode switch
            {
                404 => $"No API route matches {context.Request.Method} {context.Request.Path}. The routes are listed in {ApiRoutes.OpenApiDocument}.",
                405 => $"{context.Request.Method} is not allowed on {context.Request.Path}. The routes and their methods are listed in {ApiRoutes.OpenApiDocument}.",
                415 => RequestBody.NotJson(context.Request.ContentType),
                _ => $"The request failed with HTTP status {context.Response.StatusCode}.",
            };
            await context.Response.WriteAsJsonAsync(new ErrorBody(code.ToString(), message), ApiJson.Options);
        });
        return app;
    }

    private static readonly ErrorBody TooLarge = new(nameof(ErrorCode.RequestTooLarge),
        "The request body is larger than the server accepts (--max-request-body). API bodies are small JSON documents.");

    /// <summary>
    /// Refuses a declared body over the limit before any route runs, and closes the connection.
    /// Without this, a route that answers without reading the body (a 404, a 401, a DELETE) sends
    /// a keep-alive response, then Kestrel's drain of the unread body hits the limit and closes the
    /// socket under the client, whose next request on that pooled connection fails ("the response
    /// ended prematurely"). nginx's client_max_body_size checks Content-Length up front the same way.
    /// A chunked body of unknown length is still cut by Kestrel when it is read.
    /// </summary>
    public static IApplicationBuilder UseRequestBodyLimit(this IApplicationBuilder app, long maxBytes) => app.Use(async (context, next) =>
    {
        if (context.Request.ContentLength > maxBytes)
        {
            context.Response.StatusCode = 413;
            context.Response.Headers.Connection = "close";
            await context.Response.WriteAsJsonAsync(TooLarge, ApiJson.Options);
            return;
        }

        await next(context);
    });

    private static (int Status, ErrorBody Body) Describe(Exception? exception, HttpContext context) => exception switch
    {
        MultiVipException e => (e.Code.HttpStatus(), ErrorBody.From(e)),
        BadHttpRequestException { StatusCode: 413 } => (413, TooLarge),
        BadHttpRequestException e => (e.StatusCode, new ErrorBody(nameof(ErrorCode.BadRequest), e.Message)),
        JsonException e => (400, new ErrorBody(nameof(ErrorCode.BadRequest), RequestBody.Describe(e))),
        // The control plane re-runs stale commits; one that still escapes is the server's trouble, not a conflict of the request.
        StateConflictException e => (503, new ErrorBody(nameof(ErrorCode.ServiceUnavailable), e.Message)),
        OperationCanceledException when context.RequestAborted.IsCancellationRequested => (499, new ErrorBody("ClientClosedRequest", "The client closed the request.")),
        // The control plane or the store closed under the request: the server is stopping, or handing over to a new process.
        ObjectDisposedException => (503, new ErrorBody(nameof(ErrorCode.ServiceUnavailable), "The server is stopping or handing over to a new process (restart or upgrade); nothing was changed. Retry in a moment.")),
        _ => (500, new ErrorBody(nameof(ErrorCode.InternalError), "The server hit an internal error; nothing was changed by this request. See the server log for details.")),
    };

    private static partial class Log
    {
        [LoggerMessage(EventId = 2001, EventName = "UnhandledApiError", Level = LogLevel.Error, Message = "Unhandled error on {Method} {Path}")]
        public static partial void Unhandled(ILogger logger, string method, string path, Exception? exception);

        [LoggerMessage(EventId = 2002, EventName = "ApiRequestRefused", Level = LogLevel.Information, Message = "{Method} {Path} refused with {Status} {Code}: {Message}")]
        public static partial void Refused(ILogger logger, string method, string path, int status, string code, string message);

        [LoggerMessage(EventId = 2003, EventName = "ApiRequestNotStored", Level = LogLevel.Warning, Message = "{Method} {Path} answered {Status} {Code}: {Message}")]
        public static partial void Unavailable(ILogger logger, string method, string path, int status, string code, string message);
    }
}
