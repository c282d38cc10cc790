using System.Globalization;
using MultiVip.DataPlane.Contract;
using MultiVip.Model.Services;

namespace MultiVip.Server.Dashboard;

/// <summary>How a service's load balancing stands, from its backends' probe state.</summary>
internal enum ServiceHealthLevel
{
    /// <summary>No listener runs (no endpoint yet).</summary>
    Idle,

    /// <summary>Every backend is in rotation.</summary>
    Healthy,

    /// <summary>Some backends are out of rotation, but every listener still has one in.</summary>
    Degraded,

    /// <summary>A listener has no backend in rotation (its clients are reset) or does not run at all.</summary>
    Unhealthy,
}

/// <summary>One service's row of the overview: health and what it carries now.</summary>
internal sealed record ServiceStatus(ServiceHealthLevel Level, int InRotation, int OutOfRotation, IReadOnlyList<string> Out, int FaultedListeners, Rate? Traffic)
{
    public static ServiceStatus Of(string serviceName, IReadOnlyList<ListenerTraffic> traffic, IReadOnlyList<ListenerFault> faults, Rate? rate)
    {
        var listeners = traffic.Where(t => Names.Equal(t.ServiceName, serviceName)).ToList();
        var faulted = faults.Count(f => Names.Equal(f.ServiceName, serviceName));
        var backends = listeners.SelectMany(l => l.Backends).ToList();

        // Out of rotation is what /metrics calls multivip_backend_in_rotation 0: a failed probe.
        var outNames = backends.Where(b => b.State == HealthState.Unhealthy).Select(b => $"{b.VmName}/{b.EndpointName}").ToList();
        var level = faulted > 0 || listeners.Any(l => l.Backends.Count > 0 && l.Backends.All(b => b.State == HealthState.Unhealthy))
            ? ServiceHealthLevel.Unhealthy
            : outNames.Count > 0
                ? ServiceHealthLevel.Degraded
                : listeners.Count == 0 ? ServiceHealthLevel.Idle : ServiceHealthLevel.Healthy;
        return new ServiceStatus(level, backends.Count - outNames.Count, outNames.Count, outNames, faulted, rate);
    }
}

/// <summary>The overview's health and traffic cells (one place, so the service table stays short).</summary>
internal static class OverviewHealth
{
    public static void HeaderCells(Html h) => h.Raw("<th>Health</th><th>In rotation</th><th>Traffic now</th>");

    public static void Cells(Html h, ServiceStatus? status)
    {
        if (status is null)
        {
            h.Raw("<td></td><td></td><td></td>");
            return;
        }

        h.Raw("<td class=\"service-health\">").Raw(Badge(status.Level)).Raw("</td><td class=\"service-rotation\">");
        if (status.InRotation + status.OutOfRotation > 0)
        {
            h.Text(status.InRotation).Raw(" in, ").Text(status.OutOfRotation).Raw(" out");
            if (status.Out.Count > 0)
            {
                h.Raw("<div class=\"small error-text\">out: ").Text(string.Join(", ", status.Out)).Raw("</div>");
            }
        }

        if (status.FaultedListeners > 0)
        {
            h.Raw("<div class=\"small error-text\">").Text(status.FaultedListeners).Raw(status.FaultedListeners == 1 ? " listener not running" : " listeners not running").Raw("</div>");
        }

        h.Raw("</td><td class=\"service-traffic\">").Text(status.Traffic is { } t ? $"{PerSecond(t.ConnectionsPerSecond)} conn/s · {Html.Bytes((long)Math.Round(t.BytesPerSecond))}/s" : "—").Raw("</td>");
    }

    public static string Badge(ServiceHealthLevel level) => level switch
    {
        ServiceHealthLevel.Healthy => "<span class=\"badge ok\" data-health=\"Healthy\">Healthy</span>",
        ServiceHealthLevel.Degraded => "<span class=\"badge warn\" data-health=\"Degraded\">Degraded</span>",
        ServiceHealthLevel.Unhealthy => "<span class=\"badge bad\" data-health=\"Unhealthy\">Unhealthy</span>",
        _ => "<span class=\"badge\" data-health=\"Idle\">No endpoints</span>",
    };

    private static string PerSecond(double value) => value.ToString(value < 10 ? "0.##" : "0", CultureInfo.InvariantCulture);
}
