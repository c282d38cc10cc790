using MultiVip.DataPlane.Contract;
using MultiVip.Server.Dashboard;
using MultiVip.Server.Metrics;
using MultiVip.Server.Security;
using Prometheus;

namespace MultiVip.Server.Hosting;

/// <summary>
/// Wires metrics, the dashboard and its sign-in into the host, so <see cref="ServerHost"/> only
/// needs two calls. Authentication: the dashboard's paths take its session cookie (or the bearer
/// header); every other path, /metrics included, takes only the API's bearer token.
/// </summary>
internal static class Observability
{
    public const string MetricsPath = "/metrics";

    public static IServiceCollection AddMultiVipObservability(this IServiceCollection services, string token, MultiVip.Control.ControlPlane control, IHostedDataPlane dataPlane, TimeProvider? time = null)
    {
        // By the contract's read-back interfaces only: metrics and the dashboard never see which data plane runs.
        services.AddSingleton<IBackendHealthSource>(dataPlane);
        services.AddSingleton<ITrafficSource>(dataPlane);
        services.AddSingleton<IUdpSessionSource>(dataPlane);
        // A factory registration, so the container disposes it (it unsubscribes from the control plane).
        services.AddSingleton(sp => new ServerMetrics(control, dataPlane, sp.GetServices<IUdpSessionSource>(), sp.GetRequiredService<IAddressAnnouncer>(), sp.GetService<MultiVip.Control.Nodes.NodeHeartbeat>(), sp.GetService<AccessLogs.Status>()?.Writer));
        // The dashboard's 15-minute traffic charts: sampled in the background, bounded ring.
        services.AddSingleton(sp => new TrafficHistory(dataPlane, time ?? TimeProvider.System, sp.GetRequiredService<ILogger<TrafficHistory>>()));
        services.AddHostedService(sp => sp.GetRequiredService<TrafficHistory>());
        services.AddSingleton(sp => new DashboardFlash(time ?? TimeProvider.System));
        return services;
    }

    /// <summary>Outermost, before the error handler: counts what clients finally got (see <see cref="ApiRequestMetrics"/>).</summary>
    public static WebApplication UseMultiVipRequestMetrics(this WebApplication app)
    {
        app.UseMiddleware<ApiRequestMetrics>();
        return app;
    }

    public static WebApplication UseMultiVipAuthentication(this WebApplication app, string token)
    {
        app.UseMiddleware<HostCheckMiddleware>();
        app.UseWhen(c => DashboardSessionMiddleware.Owns(c.Request.Path), b => b.UseMiddleware<DashboardSessionMiddleware>());
        app.UseWhen(c => !DashboardSessionMiddleware.Owns(c.Request.Path), b => b.UseMiddleware<BearerTokenMiddleware>());
        return app;
    }

    public static WebApplication MapMultiVipObservability(this WebApplication app)
    {
        app.MapMetrics(MetricsPath, app.Services.GetRequiredService<ServerMetrics>().Registry);
        app.MapDashboard();
        return app;
    }
}
