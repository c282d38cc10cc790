using Microsoft.Extensions.Logging;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Health;
using MultiVip.DataPlane.Tcp;
using MultiVip.DataPlane.Udp;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane;

/// <summary>
/// The user-space <see cref="IHostedDataPlane"/> the server runs: the TCP plane and the UDP plane side by side,
/// each diffing its own protocol's listeners out of the same desired state. Composed rather than
/// merged so TCP's draining machinery and UDP's session table stay apart; both share balancing and
/// health (<see cref="Routing.RouteController"/>).
/// </summary>
public sealed class DataPlaneHost : IHostedDataPlane
{
    private readonly TcpDataPlane _tcp;
    private readonly UdpDataPlane _udp;

    public DataPlaneHost(DataPlaneOptions options, ILoggerFactory loggerFactory, TimeProvider timeProvider)
        : this(options, loggerFactory, timeProvider, inherited: null)
    {
    }

    /// <param name="connectionLog">The access log (--access-log): each closed TCP connection is handed to it; null for none.</param>
    /// <param name="inherited">Listening sockets handed over by the server this one replaces: listeners adopt matching ones instead of binding.</param>
    public DataPlaneHost(DataPlaneOptions options, ILoggerFactory loggerFactory, TimeProvider timeProvider, InheritedSockets? inherited, Logging.IConnectionLog? connectionLog = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _tcp = new TcpDataPlane(options, loggerFactory, timeProvider, inherited, connectionLog);
        _tcp.ProbeCompleted += RaiseProbeCompleted;
        _udp = new UdpDataPlane(options, loggerFactory, timeProvider, RaiseProbeCompleted, inherited);
    }

    /// <summary>UDP listeners stop at once; only TCP listeners drain.</summary>
    public IReadOnlySet<System.Net.IPAddress> DrainingAddresses() => _tcp.DrainingAddresses();

    public event Action? DrainCompleted
    {
        add => _tcp.ListenerDrained += value;
        remove => _tcp.ListenerDrained -= value;
    }

    /// <summary>Every finished probe attempt of either protocol. Lets tests await health instead of sleeping.</summary>
    internal event Action<ProbeObservation>? ProbeCompleted;

    internal TcpDataPlane Tcp => _tcp;

    internal UdpDataPlane Udp => _udp;

    public async Task<ApplyResult> ApplyAsync(DesiredState desired, CancellationToken cancellationToken)
    {
        var tcp = await _tcp.ApplyAsync(desired, cancellationToken).ConfigureAwait(false);
        var udp = await _udp.ApplyAsync(desired, cancellationToken).ConfigureAwait(false);
        if (udp.Faults.Count == 0)
        {
            return tcp;
        }

        return new ApplyResult(Math.Max(tcp.Generation, udp.Generation), [.. tcp.Faults, .. udp.Faults]);
    }

    public IReadOnlyList<BackendHealth> GetHealth(string? serviceName = null) => [.. _tcp.GetHealth(serviceName), .. _udp.GetHealth(serviceName)];

    /// <summary>Traffic counters of every TCP listener and its backends, read at scrape time by /metrics.</summary>
    public IReadOnlyList<ListenerTraffic> GetTraffic() => _tcp.GetTraffic();

    /// <summary>
    /// Bytes per VIP (TCP and UDP) since the data plane started, never decreasing: listeners and
    /// backends that were removed keep counting in. Usage samples the differences (docs/usage.md).
    /// </summary>
    public IReadOnlyList<VipBytes> GetVipBytes()
    {
        var totals = new Dictionary<(string, string), VipBytes>(VipNameComparer.Instance);
        foreach (var bytes in _tcp.GetVipBytes().Concat(_udp.GetVipBytes()))
        {
            var key = (bytes.ServiceName, bytes.VirtualIpName);
            totals[key] = totals.TryGetValue(key, out var seen)
                ? seen with { BytesIn = seen.BytesIn + bytes.BytesIn, BytesOut = seen.BytesOut + bytes.BytesOut }
                : bytes;
        }

        return [.. totals.Values];
    }

    /// <summary>Every running TCP and UDP listener's socket, for a successor process to take over.</summary>
    public IReadOnlyList<ListeningSocket> ListeningSockets() => [.. _tcp.ListeningSockets(), .. _udp.ListeningSockets()];

    /// <summary>Live sessions of every UDP listener.</summary>
    public IReadOnlyList<UdpSessionCount> GetUdpSessions() => _udp.GetUdpSessions();

    /// <summary>TCP counters of a running listener (null for UDP or unknown keys).</summary>
    internal ListenerCounters? GetCounters(ListenerKey key) => _tcp.GetCounters(key);

    /// <summary>SIGTERM: UDP sessions end at once (nothing to drain), TCP connections drain as before.</summary>
    public async Task DrainAndStopAsync(CancellationToken cancellationToken)
    {
        await _udp.StopAllAsync().ConfigureAwait(false);
        await _tcp.DrainAndStopAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await _udp.DisposeAsync().ConfigureAwait(false);
        await _tcp.DisposeAsync().ConfigureAwait(false);
    }

    private void RaiseProbeCompleted(ProbeObservation observation) => ProbeCompleted?.Invoke(observation);
}
