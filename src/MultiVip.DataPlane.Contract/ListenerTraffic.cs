using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Contract;

/// <summary>Traffic counters of the running listeners, read at scrape time by /metrics and by the dashboard.</summary>
public interface ITrafficSource
{
    /// <summary>Counters of every running listener and its backends (read, never reset).</summary>
    IReadOnlyList<ListenerTraffic> GetTraffic();

    /// <summary>
    /// Bytes per VIP since the data plane started, never decreasing: listeners and backends that were
    /// removed keep counting in. Usage samples the differences (docs/usage.md).
    /// </summary>
    IReadOnlyList<VipBytes> GetVipBytes();
}

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

    /// <summary>accept(2) calls on the listening socket that failed (out of descriptors, mostly; the listener backs off and goes on).</summary>
    public long AcceptFailures { get; init; }

    public required IReadOnlyList<BackendTraffic> Backends { get; init; }
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
}

/// <summary>Bytes one VIP carried since the data plane started; never decreases (usage sampling takes differences).</summary>
public sealed record VipBytes(string ServiceName, string VirtualIpName, long BytesIn, long BytesOut);
