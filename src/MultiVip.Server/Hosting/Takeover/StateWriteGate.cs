using MultiVip.Contracts;
using MultiVip.Model.Errors;

namespace MultiVip.Server.Hosting.Takeover;

/// <summary>
/// Closed once this server hands its state to a successor: from then on only the successor may
/// commit, so a change sent here (POST, PUT, PATCH, DELETE under /api) is answered 503 with
/// Retry-After and changes nothing; reads go on from the state in memory. The successor answers on
/// the same socket within seconds, so a client that retries lands there.
/// </summary>
internal sealed class StateWriteGate
{
    private volatile string? _closedBecause;

    public bool IsClosed => _closedBecause is not null;

    public void Close(string because) => _closedBecause = because;

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (_closedBecause is { } because
            && context.Request.Path.StartsWithSegments("/api", StringComparison.Ordinal)
            && !HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method) && !HttpMethods.IsOptions(context.Request.Method))
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            context.Response.Headers.RetryAfter = "1";
            await context.Response.WriteAsJsonAsync(new ErrorBody(nameof(ErrorCode.ServiceUnavailable), because), ApiJson.Options);
            return;
        }

        await next(context);
    }
}
