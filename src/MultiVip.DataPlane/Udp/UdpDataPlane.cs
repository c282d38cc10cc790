using Microsoft.Extensions.Logging;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Health;
using MultiVip.DataPlane.Reconciliation;
using MultiVip.DataPlane.Sockets;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Udp;

/// <summary>
/// The UDP half of the data plane: one <see cref="UdpListener"/> per (VIP, udp, port) in the desired
/// state, reconciled by the same diff as TCP. Balancing and probing are shared with TCP (<see cref="Routing.RouteController"/>).
/// </summary>
internal sealed partial class UdpDataPlane : IDataPlane, IUdpSessionSource, IListenerLifecycle<UdpListener>, IAsyncDisposable
{
    private readonly DataPlaneOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly Action<ProbeObservation> _onProbe;
    private readonly SemaphoreSlim _applyGate = new(1, 1);
    private readonly ListenerReconciler<UdpListener> _listeners;
    private readonly SharedLimit _sessionSlots;
    private readonly Metrics.VipByteMeter _bytes = new();
    private readonly InheritedSockets _inherited;
    private int _disposed;

    public UdpDataPlane(DataPlaneOptions options, ILoggerFactory loggerFactory, TimeProvider timeProvider, Action<ProbeObservation> onProbe, InheritedSockets? inherited = null)
    {
        _inherited = inherited ?? InheritedSockets.None;
        options.Validate();
        _options = options;
        _timeProvider = timeProvider;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<UdpDataPlane>();
        _onProbe = onProbe;
        _sessionSlots = new SharedLimit(options.MaxUdpSessions);
        _listeners = new ListenerReconciler<UdpListener>(TransportProtocol.Udp, this, loggerFactory);
    }

    /// <summary>Sessions held against <see cref="DataPlaneOptions.MaxUdpSessions"/> by all listeners, for tests.</summary>
    internal int TotalSessions => _sessionSlots.Used;

    /// <summary>The session total itself, for tests that hold it full.</summary>
    internal SharedLimit SessionSlots => _sessionSlots;

    public async Task<ApplyResult> ApplyAsync(DesiredState desired, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(desired);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        await _applyGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await _listeners.ApplyAsync(desired).ConfigureAwait(false);
        }
        finally
        {
            _applyGate.Release();
        }
    }

    public IReadOnlyList<BackendHealth> GetHealth(string? serviceName = null) => _listeners.Health(serviceName);

    ValueTask IListenerLifecycle<UdpListener>.RemoveAsync(UdpListener listener) => new(StopAndRetireAsync(listener));

    void IListenerLifecycle<UdpListener>.Reconfigure(UdpListener listener, ListenerSpec spec)
    {
        listener.Update(spec);
        Log.ListenerUpdated(_logger, spec.Key, spec.Backends.Count, 0);
    }

    UdpListener? IListenerLifecycle<UdpListener>.TryStart(ListenerSpec spec, out string? error)
    {
        var socket = _inherited.Take(ListeningSocketKind.VipUdp, new System.Net.IPEndPoint(spec.Key.Address, spec.Key.Port));
        if (socket is not null)
        {
            error = null;
            Log.UdpListenerAdopted(_logger, spec.Key);
        }
        else
        {
            socket = ListenerBinder.TryBindUdp(spec.Key, _options.FreeBind, out error);
        }

        if (socket is null)
        {
            return null;
        }

        var listener = new UdpListener(socket, spec, _options, _timeProvider, _loggerFactory, _onProbe, _sessionSlots, EvictFromLargest);
        listener.Start();
        Log.UdpListenerStarted(_logger, spec.Key, spec.ServiceName, spec.Backends.Count);
        return listener;
    }

    /// <summary>The datagram socket of every running listener, for a successor process to take over.</summary>
    public IReadOnlyList<ListeningSocket> ListeningSockets() => _listeners.ListeningSockets(ListeningSocketKind.VipUdp);

    /// <summary>Live sessions and counters of every UDP listener, for /metrics.</summary>
    public IReadOnlyList<UdpSessionCount> GetUdpSessions()
    {
        var published = _listeners.Published;
        var result = new List<UdpSessionCount>(published.Length);
        foreach (var listener in published)
        {
            result.Add(listener.ToSessionCount());
        }

        return result;
    }

    /// <summary>Counters and live session count of a running listener, for tests and diagnostics.</summary>
    internal (UdpCounters Counters, int Sessions)? GetCounters(ListenerKey key) =>
        _listeners.Find(key) is { } listener ? (listener.Counters, listener.SessionCount) : null;

    /// <summary>
    /// The total is exhausted: the listener holding the most sessions gives up its least recently used
    /// one. A flood on one VIP thus evicts its own sessions, not those of a quiet VIP next to it.
    /// </summary>
    private bool EvictFromLargest()
    {
        UdpListener? largest = null;
        var most = 0;
        foreach (var listener in _listeners.Published)
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
    public IReadOnlyList<VipBytes> GetVipBytes() => _bytes.Read(meter =>
    {
        foreach (var listener in _listeners.Published)
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
            foreach (var listener in _listeners.RemoveAll())
            {
                await StopAndRetireAsync(listener).ConfigureAwait(false);
            }
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

    private static partial class Log
    {
        [LoggerMessage(EventId = 5, EventName = "ListenerUpdated", Level = LogLevel.Information,
            Message = "Reconfigured {Key}: {BackendCount} backend(s), {RemovedCount} draining")]
        public static partial void ListenerUpdated(ILogger logger, ListenerKey key, int backendCount, int removedCount);

        [LoggerMessage(EventId = 5502, EventName = "UdpListenerAdopted", Level = LogLevel.Information,
            Message = "Adopted the datagram socket of {Key} from the previous server")]
        public static partial void UdpListenerAdopted(ILogger logger, ListenerKey key);

        [LoggerMessage(EventId = 40, EventName = "UdpListenerStarted", Level = LogLevel.Information,
            Message = "Receiving datagrams on {Key} for service {ServiceName} with {BackendCount} backend(s)")]
        public static partial void UdpListenerStarted(ILogger logger, ListenerKey key, string serviceName, int backendCount);
    }
}
