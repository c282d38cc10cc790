using Microsoft.Extensions.Logging;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Health;
using MultiVip.DataPlane.Reconciliation;
using MultiVip.DataPlane.Sockets;
using MultiVip.DataPlane.Sockets.Epoll;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Tcp;

/// <summary>
/// User-space TCP data plane: one listening socket per (VIP, port), Maglev-balanced across the
/// members in rotation, with probes, ACLs, idle timeouts, PROXY protocol and draining reconfiguration.
/// UDP listeners are left to <see cref="Udp.UdpDataPlane"/>; <see cref="DataPlaneHost"/> runs both.
/// </summary>
internal sealed partial class TcpDataPlane : IDataPlane, ITrafficSource, IListenerLifecycle<VipListener>, IAsyncDisposable
{
    private readonly DataPlaneOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly ISocketEngine _engine;
    private readonly Logging.IConnectionLog? _connectionLog;
    private readonly SemaphoreSlim _applyGate = new(1, 1);
    private readonly ListenerReconciler<VipListener> _listeners;
    private readonly Lock _drainGate = new();
    private readonly List<(VipListener Listener, Task Drain)> _draining = [];
    private readonly List<Task> _backendDrains = [];
    private readonly List<(ListenerSpec Spec, IReadOnlyList<BackendState> Backends)> _retiring = [];
    private readonly CancellationTokenSource _shutdown = new();
    private readonly SharedLimit _connectionSlots;
    private readonly Metrics.VipByteMeter _bytes = new();
    private readonly InheritedSockets _inherited;
    private int _disposed;

    public TcpDataPlane(DataPlaneOptions options, ILoggerFactory loggerFactory, TimeProvider timeProvider, InheritedSockets? inherited = null, Logging.IConnectionLog? connectionLog = null)
        : this(options, loggerFactory, timeProvider, pool: null, inherited, connectionLog)
    {
    }

    /// <param name="pool">Where the forwarders rent their buffers (the shared pool when null); tests pass a counting pool.</param>
    internal TcpDataPlane(DataPlaneOptions options, ILoggerFactory loggerFactory, TimeProvider timeProvider, System.Buffers.ArrayPool<byte>? pool, InheritedSockets? inherited = null, Logging.IConnectionLog? connectionLog = null)
    {
        _connectionLog = connectionLog;
        _inherited = inherited ?? InheritedSockets.None;
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        ArgumentNullException.ThrowIfNull(timeProvider);
        options.Validate();
        _options = options;
        Splice = options.SocketEngine == SocketEngine.Epoll ? SplicePipes.For(options) : null;
        _timeProvider = timeProvider;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<TcpDataPlane>();
        _engine = SocketEngines.Create(options.SocketEngine, pool ?? System.Buffers.ArrayPool<byte>.Shared, Splice);
        _connectionSlots = new SharedLimit(options.MaxConnections);
        _listeners = new ListenerReconciler<VipListener>(TransportProtocol.Tcp, this, loggerFactory);
    }

    /// <summary>The epoll engine's spliced directions (null: the plane never splices). Lets tests see a direction switch.</summary>
    internal SplicePipes? Splice { get; }

    /// <summary>Every finished probe attempt. Lets tests await health instead of sleeping.</summary>
    internal event Action<ProbeObservation>? ProbeCompleted;

    /// <summary>A removed listener finished draining (its address may be withdrawn now).</summary>
    internal event Action? ListenerDrained;

    /// <summary>Addresses of removed listeners whose connections are still draining.</summary>
    internal HashSet<System.Net.IPAddress> DrainingAddresses()
    {
        lock (_drainGate)
        {
            // A drain with nothing to wait for completes before StopAndDrain records it: skip those.
            return [.. _draining.Where(d => !d.Drain.IsCompleted).Select(d => d.Listener.Key.Address)];
        }
    }

    public async Task<ApplyResult> ApplyAsync(DesiredState desired, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(desired);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

        // The control plane calls serially, but a stray concurrent call must not interleave two diffs.
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

    ValueTask IListenerLifecycle<VipListener>.RemoveAsync(VipListener listener)
    {
        // The drain outlives this call: it must not stop when the caller's token does.
        StopAndDrain(listener, CancellationToken.None);
        return ValueTask.CompletedTask;
    }

    void IListenerLifecycle<VipListener>.Reconfigure(VipListener listener, ListenerSpec spec)
    {
        var before = listener.Spec;
        var removed = listener.Update(spec);
        Log.ListenerUpdated(_logger, spec.Key, spec.Backends.Count, removed.Count);
        if (removed.Count > 0)
        {
            TrackBackendDrain(RetireWhenDrainedAsync(listener.DrainBackendsAsync(removed, _shutdown.Token), before, removed));
        }
    }

    VipListener? IListenerLifecycle<VipListener>.TryStart(ListenerSpec spec, out string? error)
    {
        // A socket the previous server handed over keeps its accept queue: adopt it rather than bind.
        var socket = _inherited.Take(ListeningSocketKind.VipTcp, new System.Net.IPEndPoint(spec.Key.Address, spec.Key.Port));
        if (socket is not null)
        {
            error = null;
            Log.ListenerAdopted(_logger, spec.Key);
        }
        else
        {
            socket = ListenerBinder.TryBind(spec.Key, _options.FreeBind, out error);
        }

        if (socket is null)
        {
            return null;
        }

        var listener = new VipListener(socket, spec, _options, _timeProvider, _loggerFactory, _engine, RaiseProbeCompleted, _connectionSlots, _connectionLog);
        listener.Start();
        Log.ListenerStarted(_logger, spec.Key, spec.ServiceName, spec.Backends.Count);
        return listener;
    }

    /// <summary>The listening socket of every running listener, for a successor process to take over.</summary>
    public IReadOnlyList<ListeningSocket> ListeningSockets() => _listeners.ListeningSockets(ListeningSocketKind.VipTcp);

    /// <summary>Counters of every running listener and backend, for metrics and the dashboard (read, never reset).</summary>
    public IReadOnlyList<ListenerTraffic> GetTraffic()
    {
        var published = _listeners.Published;
        var result = new ListenerTraffic[published.Length];
        for (var i = 0; i < published.Length; i++)
        {
            result[i] = published[i].ToTraffic();
        }

        return result;
    }

    /// <summary>
    /// Bytes per VIP since this data plane started, including listeners and backends that are gone
    /// (see <see cref="Metrics.VipByteMeter"/>); for usage sampling.
    /// </summary>
    public IReadOnlyList<VipBytes> GetVipBytes() => _bytes.Read(meter =>
    {
        foreach (var listener in _listeners.Published)
        {
            Observe(meter, listener);
        }

        List<VipListener> draining;
        List<(ListenerSpec Spec, IReadOnlyList<BackendState> Backends)> retiring;
        lock (_drainGate)
        {
            draining = [.. _draining.Select(d => d.Listener)];
            retiring = [.. _retiring];
        }

        foreach (var listener in draining)
        {
            Observe(meter, listener);
        }

        foreach (var (spec, backends) in retiring)
        {
            Observe(meter, spec, backends);
        }
    });

    /// <summary>
    /// Graceful stop for SIGTERM: closes every listening socket, lets connections finish for up to
    /// <see cref="DataPlaneOptions.DrainTimeout"/> (or until <paramref name="cancellationToken"/>), then resets the rest.
    /// </summary>
    public async Task DrainAndStopAsync(CancellationToken cancellationToken)
    {
        await _applyGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var listener in _listeners.RemoveAll())
            {
                StopAndDrain(listener, cancellationToken);
            }
        }
        finally
        {
            _applyGate.Release();
        }

        await Task.WhenAll(DrainTasks()).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _applyGate.WaitAsync().ConfigureAwait(false);
        try
        {
            await _shutdown.CancelAsync().ConfigureAwait(false);
            foreach (var listener in _listeners.RemoveAll())
            {
                StopAndDrain(listener, CancellationToken.None);
            }

            // Disposing means now: reset whatever is still draining.
            lock (_drainGate)
            {
                foreach (var (listener, _) in _draining)
                {
                    listener.ResetAll();
                }
            }

            await Task.WhenAll(DrainTasks()).ConfigureAwait(false);
        }
        finally
        {
            _applyGate.Release();
        }
    }

    /// <summary>Counters of a running listener, for tests and diagnostics.</summary>
    internal ListenerCounters? GetCounters(ListenerKey key) => _listeners.Find(key)?.Counters;

    /// <summary>Connections held against <see cref="DataPlaneOptions.MaxConnections"/> by all listeners, for tests.</summary>
    internal int TotalAdmitted => _connectionSlots.Used;

    /// <summary>Slots in use against the connection limit of a running listener (null when unknown), for tests.</summary>
    internal int? GetAdmittedCount(ListenerKey key) => _listeners.Find(key)?.AdmittedCount;

    private void StopAndDrain(VipListener listener, CancellationToken cancellationToken)
    {
        Log.ListenerStopped(_logger, listener.Key, listener.ConnectionCount);
        listener.StopAccepting();
        var drain = DrainListenerAsync(listener, CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token, cancellationToken));
        lock (_drainGate)
        {
            _draining.Add((listener, drain));
        }
    }

    private async Task DrainListenerAsync(VipListener listener, CancellationTokenSource cancellation)
    {
        try
        {
            var reset = await listener.DrainAsync(_options.DrainTimeout, cancellation.Token).ConfigureAwait(false);
            if (reset > 0)
            {
                Log.DrainTimedOut(_logger, listener.Key, reset);
            }
        }
        finally
        {
            cancellation.Dispose();
            // Counted for the last time before it leaves the list reads look at, so no read misses it.
            Retire(listener.Spec, listener.Backends);
            lock (_drainGate)
            {
                _draining.RemoveAll(d => ReferenceEquals(d.Listener, listener));
            }

            ListenerDrained?.Invoke();
        }
    }

    /// <summary>Backends removed from a running listener: read while their connections drain, counted one last time when they are gone.</summary>
    private async Task RetireWhenDrainedAsync(Task drain, ListenerSpec spec, IReadOnlyList<BackendState> removed)
    {
        var entry = (spec, removed);
        lock (_drainGate)
        {
            _retiring.Add(entry);
        }

        try
        {
            await drain.ConfigureAwait(false);
        }
        finally
        {
            Retire(spec, removed);
            lock (_drainGate)
            {
                _retiring.Remove(entry);
            }
        }
    }

    private void Retire(ListenerSpec spec, IReadOnlyList<BackendState> backends)
    {
        foreach (var backend in backends)
        {
            var c = backend.Counters;
            _bytes.Retire(spec.ServiceName, spec.VirtualIpName, c, Interlocked.Read(ref c.BytesIn), Interlocked.Read(ref c.BytesOut));
        }
    }

    private static void Observe(Metrics.VipByteMeter meter, VipListener listener) => Observe(meter, listener.Spec, listener.Backends);

    private static void Observe(Metrics.VipByteMeter meter, ListenerSpec spec, IReadOnlyList<BackendState> backends)
    {
        foreach (var backend in backends)
        {
            var c = backend.Counters;
            meter.Observe(spec.ServiceName, spec.VirtualIpName, c, Interlocked.Read(ref c.BytesIn), Interlocked.Read(ref c.BytesOut));
        }
    }

    private void TrackBackendDrain(Task drain)
    {
        lock (_drainGate)
        {
            _backendDrains.RemoveAll(t => t.IsCompleted);
            _backendDrains.Add(drain);
        }
    }

    private Task[] DrainTasks()
    {
        lock (_drainGate)
        {
            var tasks = new List<Task>(_draining.Count + _backendDrains.Count);
            foreach (var (_, drain) in _draining)
            {
                tasks.Add(drain);
            }

            tasks.AddRange(_backendDrains);
            return [.. tasks];
        }
    }

    private void RaiseProbeCompleted(ProbeObservation observation) => ProbeCompleted?.Invoke(observation);

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, EventName = "ListenerStarted", Level = LogLevel.Information,
            Message = "Listening on {Key} for service {ServiceName} with {BackendCount} backend(s)")]
        public static partial void ListenerStarted(ILogger logger, ListenerKey key, string serviceName, int backendCount);

        [LoggerMessage(EventId = 2, EventName = "ListenerStopped", Level = LogLevel.Information,
            Message = "Stopped listening on {Key}; draining {ConnectionCount} connection(s)")]
        public static partial void ListenerStopped(ILogger logger, ListenerKey key, int connectionCount);

        [LoggerMessage(EventId = 5501, EventName = "ListenerAdopted", Level = LogLevel.Information,
            Message = "Adopted the listening socket of {Key} from the previous server (its queued connections carry on)")]
        public static partial void ListenerAdopted(ILogger logger, ListenerKey key);

        [LoggerMessage(EventId = 5, EventName = "ListenerUpdated", Level = LogLevel.Information,
            Message = "Reconfigured {Key}: {BackendCount} backend(s), {RemovedCount} draining")]
        public static partial void ListenerUpdated(ILogger logger, ListenerKey key, int backendCount, int removedCount);

        [LoggerMessage(EventId = 30, EventName = "DrainTimedOut", Level = LogLevel.Information,
            Message = "{Key}: drain timeout reached, resetting {Count} remaining connection(s)")]
        public static partial void DrainTimedOut(ILogger logger, ListenerKey key, int count);
    }
}
