using MultiVip.DataPlane.Health;
using MultiVip.DataPlane.Listeners;
using MultiVip.Model.DesiredState;

namespace MultiVip.DataPlane.Metrics;

/// <summary>
/// Counters of one running listener (VIP, protocol, public port) and its backends, read at one
/// moment. Built on demand (a metrics scrape, a dashboard refresh), never on the traffic path.
/// Counters of a listener or backend start at zero when it is created and vanish when it is removed.
/// </summary>
public sealed record ListenerTraffic
{
    public required ListenerKey Key { get; init; }

    public required string ServiceName { get; init; }

    public required string VirtualIpName { get; init; }

    public string? LoadBalancedSetName { get; init; }

    public long ActiveConnections { get; init; }

    /// <summary>Connections handed to a backend.</summary>
    public long Forwarded { get; init; }

    public long ConnectRetries { get; init; }

    public long ConnectFailures { get; init; }

    /// <summary>Connections reset because every candidate backend failed to connect.</summary>
    public long ConnectExhausted { get; init; }

    public long DeniedByAcl { get; init; }

    public long RefusedOverLimit { get; init; }

    public long NoHealthyBackend { get; init; }

    /// <summary>Connections closed because no data flowed either way for the endpoint's idle timeout.</summary>
    public long IdleClosed { get; init; }

    /// <summary>
    /// Connections reset because they were still open when the drain timeout of a backend removed
    /// from this listener ran out. (Those of a removed listener go with its series.)
    /// </summary>
    public long DrainReset { get; init; }

    public required IReadOnlyList<BackendTraffic> Backends { get; init; }

    internal static ListenerTraffic From(VipListener listener)
    {
        var spec = listener.Spec;
        var counters = listener.Counters;
        var backends = listener.Backends;
        var result = new BackendTraffic[backends.Count];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = BackendTraffic.From(backends[i]);
        }

        return new ListenerTraffic
        {
            Key = listener.Key,
            ServiceName = spec.ServiceName,
            VirtualIpName = spec.VirtualIpName,
            LoadBalancedSetName = spec.LoadBalancedSetName,
            ActiveConnections = listener.ConnectionCount,
            Forwarded = Interlocked.Read(ref counters.Forwarded),
            ConnectRetries = Interlocked.Read(ref counters.ConnectRetries),
            ConnectFailures = Interlocked.Read(ref counters.ConnectFailures),
            ConnectExhausted = Interlocked.Read(ref counters.ConnectExhausted),
            DeniedByAcl = Interlocked.Read(ref counters.DeniedByAcl),
            RefusedOverLimit = Interlocked.Read(ref counters.RefusedOverLimit),
            NoHealthyBackend = Interlocked.Read(ref counters.NoHealthyBackend),
            IdleClosed = Interlocked.Read(ref counters.IdleClosed),
            DrainReset = Interlocked.Read(ref counters.DrainReset),
            Backends = result,
        };
    }
}

/// <summary>Counters and probe state of one backend (VM endpoint) of a listener.</summary>
public sealed record BackendTraffic
{
    public required string VmName { get; init; }

    public required string EndpointName { get; init; }

    public HealthState State { get; init; }

    public long ActiveConnections { get; init; }

    public long TotalConnections { get; init; }

    public long BytesIn { get; init; }

    public long BytesOut { get; init; }

    public long ConnectFailures { get; init; }

    public long ConnectRetries { get; init; }

    public long Probes { get; init; }

    public long ProbeFailures { get; init; }

    /// <summary>How long the last probe attempt took; null before the first one (or with no probe).</summary>
    public TimeSpan? LastProbeLatency { get; init; }

    internal static BackendTraffic From(BackendState backend)
    {
        var c = backend.Counters;
        var latency = Volatile.Read(ref c.LastProbeLatencyTicks);
        return new BackendTraffic
        {
            VmName = backend.Spec.VmName,
            EndpointName = backend.Spec.EndpointName,
            State = backend.State,
            ActiveConnections = backend.ActiveConnections,
            TotalConnections = backend.TotalConnections,
            BytesIn = Interlocked.Read(ref c.BytesIn),
            BytesOut = Interlocked.Read(ref c.BytesOut),
            ConnectFailures = Interlocked.Read(ref c.ConnectFailures),
            ConnectRetries = Interlocked.Read(ref c.ConnectRetries),
            Probes = Interlocked.Read(ref c.Probes),
            ProbeFailures = Interlocked.Read(ref c.ProbeFailures),
            LastProbeLatency = latency < 0 ? null : TimeSpan.FromTicks(latency),
        };
    }
}
