using System.Diagnostics;
using System.Globalization;

namespace MultiVip.Server.Metrics;

/// <summary>
/// Counts every HTTP request the server answers (API, dashboard, /metrics) by route template,
/// method and status, and times it by route template: templates, never raw paths, so a client
/// cannot mint a series per URL. A request no route matched is counted as route "unmatched".
/// Runs first after routing, so the status is the one the client got, errors and refusals included.
/// </summary>
internal sealed class ApiRequestMetrics(RequestDelegate next, ServerMetrics metrics)
{
    public const string Unmatched = "unmatched";

    public async Task InvokeAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();

        // Routing has run (WebApplication puts it first); read the endpoint now, because the error
        // handler clears it before it answers.
        var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText is { } template ? Template(template) : Unmatched;
        try
        {
            await next(context);
        }
        finally
        {
            var method = KnownMethod(context.Request.Method);
            var status = context.Response.StatusCode.ToString(CultureInfo.InvariantCulture);
            metrics.ObserveRequest(route, method, status, Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
    }

    /// <summary>"/api/services/{service}" whether it was mapped as "/" in a group or with a trailing slash.</summary>
    private static string Template(string raw) => raw.Length > 1 ? raw.TrimEnd('/') : raw;

    /// <summary>Any other method string would be a client-chosen label value.</summary>
    private static string KnownMethod(string method) =>
        HttpMethods.IsGet(method) ? "GET"
        : HttpMethods.IsPost(method) ? "POST"
        : HttpMethods.IsPut(method) ? "PUT"
        : HttpMethods.IsDelete(method) ? "DELETE"
        : HttpMethods.IsPatch(method) ? "PATCH"
        : HttpMethods.IsHead(method) ? "HEAD"
        : HttpMethods.IsOptions(method) ? "OPTIONS"
        : "OTHER";
}
