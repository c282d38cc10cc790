using Microsoft.Extensions.Logging;
using MultiVip.DataPlane.Health;
using MultiVip.DataPlane.Listeners;
using MultiVip.DataPlane.Reconciliation;
using MultiVip.Model.DesiredState;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Udp;

/// <summary>
/// The UDP half of the data plane: one <see cref="UdpListener"/> per (VIP, udp, port) in the desired
/// state, reconciled by the same diff as TCP. Balancing and probing are the TCP plane's (<see cref="Balancing.RouteController"/>).
/// </summary>
internal sealed class UdpDataPlane : IDataPlane, IAsyncDisposable
{
    private readonly DataPlaneOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly Action<ProbeObservation> _onProbe;
    private readonly SemaphoreSlim _applyGate = new(1, 1);
    private readonly Dictionary<ListenerKey, UdpListener> _listeners = [];
    private readonly SharedLimit _sessionSlots;
    private readonly Metrics.VipByteMeter _bytes = new();
    private UdpListener[] _published = [];
    private long _appliedGeneration = -1;
    private int _disposed;

    public UdpDataPlane(DataPlaneOptions options, ILoggerFactory loggerFactory, TimeProvider timeProvider, Action<ProbeObservation> onProbe)
    {
        options.Validate();
        _options = options;
        _timeProvider = timeProvider;
        _logger = loggerFactory.CreateLogger<UdpDataPlane>();
        _onProbe = onProbe;
        _sessionSlots = new SharedLimit(options.MaxUdpSessions);
    }

    /// <summary>Sessions held against <see cref="DataPlaneOptions.MaxUdpSessions"/> by all listeners, for tests.</summary>
    internal int TotalSessions => _sessionSlots.Used;

    public async Task<ApplyResult> ApplyAsync(DesiredState desired, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(desired);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        await _applyGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (desired.Generation < _appliedGeneration)
            {
                Log.StaleGenerationIgnored(_logger, desired.Generation, _appliedGeneration);
                return ApplyResult.Ok(_appliedGeneration);
            }

            var faults = await ListenerReconciler.ApplyAsync(
                _listeners,
                desired.Listeners,
                TransportProtocol.Udp,
                listener => listener.Spec,
                listener => new ValueTask(StopAndRetireAsync(listener)),
                (listener, spec) =>
                {
                    listener.Update(spec);
                    Log.ListenerUpdated(_logger, spec.Key, spec.Backends.Count, 0);
                },
                spec =>
                {
                    var socket = ListenerBinder.TryBindUdp(spec.Key, _options.FreeBind, out var error);
                    if (socket is null)
                    {
                        return (null, error);
                    }

                    var listener = new UdpListener(socket, spec, _options, _timeProvider, _logger, _onProbe, _sessionSlots, EvictFromLargest);
                    listener.Start();
                    Log.UdpListenerStarted(_logger, spec.Key, spec.ServiceName, spec.Backends.Count);
                    return (listener, null);
                },
                _logger).ConfigureAwait(false);

            _appliedGeneration = desired.Generation;
            Volatile.Write(ref _published, [.. _listeners.Values]);
            return new ApplyResult(desired.Generation, faults);
        }
        finally
        {
            _applyGate.Release();
        }
    }

    public IReadOnlyList<BackendHealth> GetHealth(string? serviceName = null) =>
        ListenerReconciler.Health(Volatile.Read(ref _published), serviceName);

    /// <summary>Live sessions and counters of every UDP listener, for /metrics.</summary>
    public IReadOnlyList<Metrics.UdpSessionCount> GetUdpSessions()
    {
        var published = Volatile.Read(ref _published);
        var result = new List<Metrics.UdpSessionCount>(published.Length);
        foreach (var listener in published)
        {
            result.Add(Metrics.UdpSessionCount.From(listener));
        }

        return result;
    }

    /// <summary>Counters and live session count of a running listener, for tests and diagnostics.</summary>
    internal (UdpCounters Counters, int Sessions)? GetCounters(ListenerKey key)
    {
        foreach (var listener in Volatile.Read(ref _published))
        {
            if (listener.Key == key)
            {
                return (listener.Counters, listener.SessionCount);
            }
        }

        return null;
    }

    /// <summary>
    /// The total is exhausted: the listener holding the most sessions gives up its least recently used
    /// one. A flood on one VIP thus evicts its own sessions, not those of a quiet VIP next to it.
    /// </summary>
    private bool EvictFromLargest()
    {
        UdpListener? largest = null;
        var most = 0;
        foreach (var listener in Volatile.Read(ref _published))
        {
            var count = listener.SessionCount;
            if (count > most)
            {
                most = count;
                largest = listener;
            }
        }

        return largest is not null && largest.EvictOldest();
    }

    /// <summary>Bytes per VIP since this plane started, stopped listeners included; for usage sampling.</summary>
    public IReadOnlyList<Metrics.VipBytes> GetVipBytes() => _bytes.Read(meter =>
    {
        foreach (var listener in Volatile.Read(ref _published))
        {
            var spec = listener.Spec;
            meter.Observe(spec.ServiceName, spec.VirtualIpName, listener.Counters, Interlocked.Read(ref listener.Counters.BytesIn), Interlocked.Read(ref listener.Counters.BytesOut));
        }
    });

    /// <summary>A stopped listener's counters are counted one last time, then forgotten.</summary>
    private async Task StopAndRetireAsync(UdpListener listener)
    {
        await listener.StopAsync().ConfigureAwait(false);
        var spec = listener.Spec;
        _bytes.Retire(spec.ServiceName, spec.VirtualIpName, listener.Counters, Interlocked.Read(ref listener.Counters.BytesIn), Interlocked.Read(ref listener.Counters.BytesOut));
    }

    /// <summary>Closes every UDP socket and session (SIGTERM, dispose).</summary>
    public async Task StopAllAsync()
    {
        await _applyGate.WaitAsync().ConfigureAwait(false);
        try
        {
            foreach (var listener in _listeners.Values)
            {
                await StopAndRetireAsync(listener).ConfigureAwait(false);
            }

            _listeners.Clear();
            Volatile.Write(ref _published, []);
        }
        finally
        {
            _applyGate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await StopAllAsync().ConfigureAwait(false);
    }
}
