using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Health;
using MultiVip.DataPlane.Reconciliation;
using MultiVip.DataPlane.Routing;
using MultiVip.DataPlane.Sockets;

namespace MultiVip.DataPlane.Tcp;

/// <summary>
/// One public TCP socket (VIP, port) and the connections it accepted. Configuration lives in an
/// immutable <see cref="RouteTable"/> swapped with a single reference write; the accept path reads
/// it once per connection and never locks. This file is the listener's life (accept loop,
/// reconfiguration, idle sweep, drain); the path of one connection, step by step, is in
/// VipListener.Connection.cs. Not "TcpListener", to stay clear of System.Net.Sockets.TcpListener.
/// </summary>
internal sealed partial class VipListener : IRoutedListener
{
    private readonly Socket _socket;
    private readonly DataPlaneOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly ISocketEngine _engine;
    private readonly IConnectionForwarder _forwarder;
    private readonly ConcurrentDictionary<long, ForwardedConnection> _connections = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _sweepGate = new();
    private readonly ITimer _idleSweep;
    private readonly RouteController _routing;
    private readonly IPEndPoint _localEndPoint;
    private readonly SharedLimit _connectionSlots;
    private readonly LogThrottle<SocketException> _acceptFailureLog;
    private readonly LogThrottle<IPEndPoint> _overListenerLimitLog;
    private readonly LogThrottle<IPEndPoint> _overTotalLimitLog;
    private TimeSpan _sweepPeriod;
    private int _active;

    /// <summary>Connections accepted and not yet forwarding (admission, ACL, backend connect): the
    /// drain waits for them too, since the kernel completed their handshake and the client is waiting.</summary>
    private int _settingUp;
    private TaskCompletionSource? _setupSettled;

    /// <summary>
    /// Cancelled when the drain gives up (<see cref="ResetAll"/>), not when accepting stops: backend
    /// connects of connections already accepted go on through a drain, and a connection whose setup
    /// ends after the drain gave up is reset.
    /// </summary>
    private readonly CancellationTokenSource _abandoned = new();
    private Task _acceptLoop = Task.CompletedTask;

    public VipListener(
        Socket socket,
        ListenerSpec spec,
        DataPlaneOptions options,
        TimeProvider timeProvider,
        ILoggerFactory loggerFactory,
        ISocketEngine engine,
        Action<ProbeObservation> onProbe,
        SharedLimit connectionSlots,
        Logging.IConnectionLog? connectionLog = null)
    {
        _connectionLog = connectionLog;
        var logger = loggerFactory.CreateLogger<VipListener>();
        _socket = socket;
        _connectionSlots = connectionSlots;
        _acceptFailureLog = new(timeProvider, (ex, count, interval) => Log.AcceptFailed(logger, spec.Key, count, interval, ex.SocketErrorCode, AcceptBackoff.Hint(ex)));
        _overListenerLimitLog = new(timeProvider, (remote, count, interval) => Log.ConnectionOverLimit(logger, spec.Key, count, interval, options.MaxConnectionsPerListener, remote));
        _overTotalLimitLog = new(timeProvider, (remote, count, interval) => Log.ConnectionOverTotalLimit(logger, spec.Key, count, interval, connectionSlots.Capacity, remote));
        _options = options;
        _timeProvider = timeProvider;
        _logger = logger;
        _engine = engine;
        _forwarder = engine.Forwarder;
        Key = spec.Key;
        // The accepted socket's local address is the listener's own: no getsockname() per connection.
        _localEndPoint = new IPEndPoint(spec.Key.Address, spec.Key.Port);
        _routing = new RouteController(spec, timeProvider, loggerFactory, onProbe);
        _sweepPeriod = IdleSweep.Period(spec.IdleTimeout);
        _idleSweep = timeProvider.CreateTimer(static state => ((VipListener)state!).SweepIdle(), this, _sweepPeriod, _sweepPeriod);
        _routing.Start();
    }

    /// <summary>The access log, when --access-log is on: handed each connection once it is over.</summary>
    private readonly Logging.IConnectionLog? _connectionLog;

    public ListenerKey Key { get; }

    public ListenerSpec Spec => _routing.Current.Spec;

    /// <summary>The listening socket, for a successor process to take over (<see cref="HandedOverSockets"/>).</summary>
    public Socket ListeningSocket => _socket;

    public ListenerCounters Counters { get; } = new();

    public int ConnectionCount => _connections.Count;

    /// <summary>Connections holding a slot of <see cref="DataPlaneOptions.MaxConnectionsPerListener"/>
    /// (including those still connecting to a backend): what decides whether the next client is refused.</summary>
    public int AdmittedCount => Volatile.Read(ref _active);

    /// <summary>The backends currently configured (in rotation or not), for metrics.</summary>
    public IReadOnlyList<BackendState> Backends => _routing.Current.Backends;

    public IReadOnlyCollection<ForwardedConnection> SnapshotConnections() => [.. _connections.Values];

    /// <summary>Starts the engine's accept loops on the listening socket (one per core with the epoll engine).</summary>
    public void Start()
    {
        var acceptors = _engine.CreateAcceptors(_socket, _stopping.Token);
        var loops = new Task[acceptors.Length];
        for (var i = 0; i < acceptors.Length; i++)
        {
            var acceptor = acceptors[i];
            loops[i] = Task.Run(() => AcceptLoopAsync(acceptor));
        }

        _acceptLoop = Task.WhenAll(loops);
    }

    /// <summary>
    /// Swaps in a new spec for the same key. Backends whose spec is unchanged keep their health and
    /// connections; removed ones leave rotation now and are returned for draining.
    /// </summary>
    public IReadOnlyList<BackendState> Update(ListenerSpec spec)
    {
        var removed = _routing.Update(spec);
        lock (_sweepGate)
        {
            var period = IdleSweep.Period(spec.IdleTimeout);
            if (period != _sweepPeriod)
            {
                _sweepPeriod = period;
                _idleSweep.Change(period, period);
            }
        }

        return removed;
    }

    /// <summary>
    /// Closes the listening socket at once (the port can be rebound) and stops probing; connections
    /// keep running. A socket handed over to a successor process stays open for it: only the accept
    /// loop stops (cancelled, so no accept of ours is pending on the shared socket).
    /// </summary>
    public void StopAccepting()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        _stopping.Cancel();
        HandedOverSockets.Close(_socket);
        _routing.StopProbing();
    }

    /// <summary>
    /// After <see cref="StopAccepting"/>: every connection this listener accepted finishes, bounded by
    /// <paramref name="timeout"/>, then what is left is reset. The accept loops end first and the
    /// connections still being set up (connecting to a backend) are waited for before the snapshot,
    /// so a connection accepted in the last instant before a stop or a takeover's hand-over is
    /// drained like the others instead of reset.
    /// </summary>
    public async Task<int> DrainAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);

        // Started now, synchronously: the deadline runs from the stop, whatever the waits below take.
        var deadline = timeout > TimeSpan.Zero ? Task.Delay(timeout, _timeProvider, stop.Token) : Task.CompletedTask;
        await Task.WhenAny(_acceptLoop, deadline).ConfigureAwait(false);
        await Task.WhenAny(SetupsSettled(), deadline).ConfigureAwait(false);
        var reset = await Drainer.DrainAsync(SnapshotConnections(), deadline).ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
        reset += ResetAll();
        await _idleSweep.DisposeAsync().ConfigureAwait(false);
        await _acceptLoop.ConfigureAwait(false);
        return reset;
    }

    /// <summary>Completes when no accepted connection is still being set up: each is then in the snapshot, or gone.</summary>
    private Task SetupsSettled()
    {
        var settled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // Exchange (a full fence) before the read: a setup ending now either sees this source or is seen as done.
        Interlocked.Exchange(ref _setupSettled, settled);
        return Volatile.Read(ref _settingUp) == 0 || _abandoned.IsCancellationRequested ? Task.CompletedTask : settled.Task;
    }

    /// <summary>One accepted connection is forwarding now, or was refused or failed.</summary>
    private void SetupEnded()
    {
        if (Interlocked.Decrement(ref _settingUp) == 0)
        {
            Volatile.Read(ref _setupSettled)?.TrySetResult();
        }
    }

    public int ResetAll()
    {
        // Disposing means now: pending backend connects end, and nothing waits for setups any more.
        _abandoned.Cancel();
        Volatile.Read(ref _setupSettled)?.TrySetResult();
        var reset = 0;
        foreach (var connection in _connections.Values)
        {
            if (!connection.IsClosed)
            {
                connection.EndedBy(Logging.Termination.Killed);
                connection.Reset();
                reset++;
            }
        }

        Interlocked.Add(ref Counters.DrainReset, reset);
        return reset;
    }

    public IEnumerable<BackendHealth> GetHealth() => _routing.GetHealth();

    /// <summary>Counters of this listener and its backends at one moment (built on demand, never on the traffic path).</summary>
    public ListenerTraffic ToTraffic()
    {
        var spec = Spec;
        var counters = Counters;
        var backends = Backends;
        var result = new BackendTraffic[backends.Count];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = backends[i].ToTraffic();
        }

        return new ListenerTraffic
        {
            Key = Key,
            ServiceName = spec.ServiceName,
            VirtualIpName = spec.VirtualIpName,
            LoadBalancedSetName = spec.LoadBalancedSetName,
            ActiveConnections = ConnectionCount,
            Forwarded = Interlocked.Read(ref counters.Forwarded),
            ConnectRetries = Interlocked.Read(ref counters.ConnectRetries),
            ConnectFailures = Interlocked.Read(ref counters.ConnectFailures),
            ConnectExhausted = Interlocked.Read(ref counters.ConnectExhausted),
            DeniedByAcl = Interlocked.Read(ref counters.DeniedByAcl),
            RefusedOverLimit = Interlocked.Read(ref counters.RefusedOverLimit),
            NoHealthyBackend = Interlocked.Read(ref counters.NoHealthyBackend),
            IdleClosed = Interlocked.Read(ref counters.IdleClosed),
            DrainReset = Interlocked.Read(ref counters.DrainReset),
            AcceptFailures = Interlocked.Read(ref counters.AcceptFailures),
            Backends = result,
        };
    }

    /// <summary>Drains connections of backends removed by <see cref="Update"/>, then resets what is left.</summary>
    public async Task DrainBackendsAsync(IReadOnlyList<BackendState> removed, CancellationToken cancellationToken)
    {
        // Retired before this snapshot (RouteController.Update): a connection that enters the table
        // after it sees IsRetired in ForwardAsync and resets itself, so none slips past the drain.
        var retired = removed.ToHashSet();
        var connections = new List<ForwardedConnection>();
        foreach (var connection in _connections.Values)
        {
            if (retired.Contains(connection.Backend))
            {
                connections.Add(connection);
            }
        }

        var reset = await Drainer.DrainAsync(connections, _options.DrainTimeout, _timeProvider, cancellationToken).ConfigureAwait(false);
        if (reset > 0)
        {
            Interlocked.Add(ref Counters.DrainReset, reset);
            Log.DrainTimedOut(_logger, Key, reset);
        }
    }

    private void SweepIdle()
    {
        var idleTimeout = _routing.Current.Spec.IdleTimeout;
        if (idleTimeout <= TimeSpan.Zero)
        {
            return;
        }

        var now = _timeProvider.GetTimestamp();
        foreach (var connection in _connections.Values)
        {
            if (!connection.IsClosed && connection.IdleFor(now) >= idleTimeout)
            {
                Interlocked.Increment(ref Counters.IdleClosed);
                Log.ConnectionIdleClosed(_logger, Key, connection.Remote, idleTimeout);
                connection.EndedBy(Logging.Termination.IdleTimeout);
                connection.Close();
            }
        }
    }

    private async Task AcceptLoopAsync(IClientAcceptor acceptor)
    {
        using var owned = acceptor;
        var backoff = default(AcceptBackoff);
        while (!_stopping.IsCancellationRequested)
        {
            ConnectionSocket client;
            try
            {
                client = await acceptor.AcceptAsync().ConfigureAwait(false);
                backoff.Reset();
            }
            catch (Exception ex) when (_stopping.IsCancellationRequested
                && ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            catch (SocketException ex)
            {
                // The listener stays up whatever accept says; it must neither spin nor log per failure.
                Interlocked.Increment(ref Counters.AcceptFailures);
                _acceptFailureLog.Record(ex);

                if (AcceptBackoff.IsPerConnection(ex))
                {
                    continue;
                }

                try
                {
                    await Task.Delay(backoff.Next(), _timeProvider, _stopping.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }

            // Counted before the loop looks at the stop again, so the drain (which awaits the loops) sees it.
            Interlocked.Increment(ref _settingUp);
            _ = HandleConnectionAsync(client);
        }
    }

    /// <summary>Every line of the listener and its connections, under the category <see cref="VipListener"/>.</summary>
    private static partial class Log
    {
        [LoggerMessage(EventId = 7, EventName = "AcceptFailed", Level = LogLevel.Warning,
            Message = "{Key}: accept failed {Count} time(s) in the last {Interval} (latest: {Error}); {Hint}")]
        public static partial void AcceptFailed(ILogger logger, ListenerKey key, long count, TimeSpan interval, SocketError error, string hint);

        [LoggerMessage(EventId = 10, EventName = "ConnectionDeniedByAcl", Level = LogLevel.Debug,
            Message = "{Key}: connection from {Remote} denied by the endpoint ACL")]
        public static partial void ConnectionDeniedByAcl(ILogger logger, ListenerKey key, IPEndPoint remote);

        [LoggerMessage(EventId = 11, EventName = "ConnectionOverLimit", Level = LogLevel.Warning,
            Message = "{Key}: refused {Count} connection(s) in the last {Interval}, the listener already carries {Limit} connections (--max-connections-per-listener); latest from {Remote}")]
        public static partial void ConnectionOverLimit(ILogger logger, ListenerKey key, long count, TimeSpan interval, int limit, IPEndPoint remote);

        [LoggerMessage(EventId = 12, EventName = "NoHealthyBackend", Level = LogLevel.Warning,
            Message = "{Key}: connection from {Remote} reset, no backend is in rotation")]
        public static partial void NoHealthyBackend(ILogger logger, ListenerKey key, IPEndPoint remote);

        [LoggerMessage(EventId = 13, EventName = "BackendConnectFailed", Level = LogLevel.Debug,
            Message = "{Key}: attempt {Attempt} to connect to {Target} failed")]
        public static partial void BackendConnectFailed(ILogger logger, ListenerKey key, int attempt, IPEndPoint target, Exception exception);

        [LoggerMessage(EventId = 14, EventName = "BackendConnectExhausted", Level = LogLevel.Warning,
            Message = "{Key}: connection from {Remote} reset after {Attempts} failed backend connect attempt(s)")]
        public static partial void BackendConnectExhausted(ILogger logger, ListenerKey key, IPEndPoint remote, int attempts);

        [LoggerMessage(EventId = 15, EventName = "ConnectionIdleClosed", Level = LogLevel.Debug,
            Message = "{Key}: connection from {Remote} closed after {IdleTimeout} without traffic")]
        public static partial void ConnectionIdleClosed(ILogger logger, ListenerKey key, IPEndPoint remote, TimeSpan idleTimeout);

        [LoggerMessage(EventId = 16, EventName = "ConnectionSetupFailed", Level = LogLevel.Debug,
            Message = "{Key}: setting up the connection from {Remote} failed")]
        public static partial void ConnectionSetupFailed(ILogger logger, ListenerKey key, IPEndPoint? remote, Exception exception);

        [LoggerMessage(EventId = 17, EventName = "ConnectionOverTotalLimit", Level = LogLevel.Warning,
            Message = "{Key}: refused {Count} connection(s) in the last {Interval}, the data plane already carries {Limit} connections in total (--max-connections, sized from the descriptor limit); latest from {Remote}")]
        public static partial void ConnectionOverTotalLimit(ILogger logger, ListenerKey key, long count, TimeSpan interval, int limit, IPEndPoint remote);

        [LoggerMessage(EventId = 30, EventName = "DrainTimedOut", Level = LogLevel.Information,
            Message = "{Key}: drain timeout reached, resetting {Count} remaining connection(s)")]
        public static partial void DrainTimedOut(ILogger logger, ListenerKey key, int count);
    }
}
