using MultiVip.Contracts;
using MultiVip.Server.Usage;

namespace MultiVip.Server.Api;

/// <summary>
/// Usage reports (docs/usage.md): one service's, or the whole subscription's. The range is
/// <c>?from=&amp;to=</c> in ISO 8601, clipped as [from, to); without them, this month so far.
/// Reading a report samples the data plane first, so its bytes are current.
/// </summary>
internal static class UsageRoutes
{
    public static void MapUsageApi(this IEndpointRouteBuilder api)
    {
        api.MapGet("/usage", async (string? from, string? to, UsageRecorder usage, CancellationToken ct) =>
            TypedResults.Ok(await usage.ReportAsync(null, from, to, ct)))
            .WithTags("Usage").WithName("GetUsage").WithSummary("Usage of every service and reserved IP: VIP-hours of extra VIPs, reserved-IP hours, bytes per VIP");

        api.MapGet("/services/{service}/usage", async (string service, string? from, string? to, UsageRecorder usage, CancellationToken ct) =>
            TypedResults.Ok(await usage.ReportAsync(service, from, to, ct)))
            .WithTags("Usage").WithName("GetServiceUsage").WithSummary("Get-AzureServiceUsage: VIP-hours of the service's extra VIPs, hours of the reserved IPs backing them, bytes per VIP");
    }
}
