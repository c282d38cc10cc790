using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Health;
using MultiVip.DataPlane.Reconciliation;
using MultiVip.DataPlane.Routing;
using MultiVip.DataPlane.Sockets;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Tcp;

/// <summary>
/// One public TCP socket (VIP, port) and the connections it accepted. Configuration lives in an
/// immutable <see cref="RouteTable"/> swapped with a single reference write; the accept path reads
/// it once per connection and never locks.
/// </summary>
internal sealed class VipListener : Reconciliation.IRoutedListener
{
    private readonly Socket _socket;
    private readonly DataPlaneOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
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
    private Task _acceptLoop = Task.CompletedTask;

    public VipListener(
        Socket socket,
        ListenerSpec spec,
        DataPlaneOptions options,
        TimeProvider timeProvider,
        ILogger logger,
        IConnectionForwarder forwarder,
        Action<ProbeObservation> onProbe,
        SharedLimit connectionSlots)
    {
        _socket = socket;
        _connectionSlots = connectionSlots;
        _acceptFailureLog = new(timeProvider, (ex, count, interval) => Log.AcceptFailed(logger, spec.Key, count, interval, ex.SocketErrorCode, AcceptBackoff.Hint(ex)));
        _overListenerLimitLog = new(timeProvider, (remote, count, interval) => Log.ConnectionOverLimit(logger, spec.Key, count, interval, options.MaxConnectionsPerListener, remote));
        _overTotalLimitLog = new(timeProvider, (remote, count, interval) => Log.ConnectionOverTotalLimit(logger, spec.Key, count, interval, connectionSlots.Capacity, remote));
        _options = options;
        _timeProvider = timeProvider;
        _logger = logger;
        _forwarder = forwarder;
        Key = spec.Key;
        // The accepted socket's local address is the listener's own: no getsockname() per connection.
        _localEndPoint = new IPEndPoint(spec.Key.Address, spec.Key.Port);
        _routing = new RouteController(spec, timeProvider, logger, onProbe);
        _sweepPeriod = SweepPeriod(spec.IdleTimeout);
        _idleSweep = timeProvider.CreateTimer(static state => ((VipListener)state!).SweepIdle(), this, _sweepPeriod, _sweepPeriod);
        _routing.Start();
    }

    public ListenerKey Key { get; }

    public ListenerSpec Spec => _routing.Current.Spec;

    public ListenerCounters Counters { get; } = new();

    public int ConnectionCount => _connections.Count;

    /// <summary>Connections holding a slot of <see cref="DataPlaneOptions.MaxConnectionsPerListener"/>
    /// (including those still connecting to a backend): what decides whether the next client is refused.</summary>
    public int AdmittedCount => Volatile.Read(ref _active);

    /// <summary>The backends currently configured (in rotation or not), for metrics.</summary>
    public IReadOnlyList<BackendState> Backends => _routing.Current.Backends;

    public IReadOnlyCollection<ForwardedConnection> SnapshotConnections() => [.. _connections.Values];

    public void Start() => _acceptLoop = Task.Run(AcceptLoopAsync);

    /// <summary>
    /// Swaps in a new spec for the same key. Backends whose spec is unchanged keep their health and
    /// connections; removed ones leave rotation now and are returned for draining.
    /// </summary>
    public IReadOnlyList<BackendState> Update(ListenerSpec spec)
    {
        var removed = _routing.Update(spec);
        lock (_sweepGate)
        {
            var period = SweepPeriod(spec.IdleTimeout);
            if (period != _sweepPeriod)
            {
                _sweepPeriod = period;
                _idleSweep.Change(period, period);
            }
        }

        return removed;
    }

    /// <summary>Closes the listening socket at once (the port can be rebound) and stops probing; connections keep running.</summary>
    public void StopAccepting()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        _stopping.Cancel();
        _socket.Dispose();
        _routing.StopProbing();
    }

    public async Task<int> DrainAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var reset = await Drainer.DrainAsync(SnapshotConnections(), timeout, _timeProvider, cancellationToken).ConfigureAwait(false);
        reset += ResetAll();
        await _idleSweep.DisposeAsync().ConfigureAwait(false);
        await _acceptLoop.ConfigureAwait(false);
        return reset;
    }

    public int ResetAll()
    {
        var reset = 0;
        foreach (var connection in _connections.Values)
        {
            if (!connection.IsClosed)
            {
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
            Backends = result,
        };
    }

    /// <summary>Drains connections of backends removed by <see cref="Update"/>, then resets what is left.</summary>
    public async Task DrainBackendsAsync(IReadOnlyList<BackendState> removed, CancellationToken cancellationToken)
    {
        var connections = new List<ForwardedConnection>();
        foreach (var backend in removed)
        {
            connections.AddRange(backend.Connections);
        }

        var reset = await Drainer.DrainAsync(connections, _options.DrainTimeout, _timeProvider, cancellationToken).ConfigureAwait(false);
        if (reset > 0)
        {
            Interlocked.Add(ref Counters.DrainReset, reset);
            Log.DrainTimedOut(_logger, Key, reset);
        }
    }

    /// <summary>
    /// The sweep runs at a quarter of the idle timeout (capped at 30 s), so a connection closes between
    /// 1× and 1.25× the timeout: precise enough for a 4-30 minute setting at the cost of one walk over
    /// the connections per period instead of a timer per read.
    /// </summary>
    internal static TimeSpan SweepPeriod(TimeSpan idleTimeout) =>
        idleTimeout <= TimeSpan.Zero
            ? Timeout.InfiniteTimeSpan
            : TimeSpan.FromTicks(Math.Clamp(idleTimeout.Ticks / 4, TimeSpan.FromMilliseconds(10).Ticks, TimeSpan.FromSeconds(30).Ticks));

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
                connection.Close();
            }
        }
    }

    private async Task AcceptLoopAsync()
    {
        var backoff = default(AcceptBackoff);
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _socket.AcceptAsync(_stopping.Token).ConfigureAwait(false);
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

            _ = HandleConnectionAsync(client);
        }
    }

    private async Task HandleConnectionAsync(Socket client)
    {
        IPEndPoint? remote = null;
        Socket? backendSocket = null;
        var counted = false;
        var holdsSlot = false;
        try
        {
            client.NoDelay = true;
            remote = (IPEndPoint)client.RemoteEndPoint!;
            var local = _localEndPoint;

            counted = true;
            if (Interlocked.Increment(ref _active) > _options.MaxConnectionsPerListener)
            {
                Interlocked.Increment(ref Counters.RefusedOverLimit);
                _overListenerLimitLog.Record(remote);

                ForwardedConnection.Abort(client);
                return;
            }

            // Before the backend socket exists: the second descriptor of the connection is never opened over the cap.
            holdsSlot = _connectionSlots.TryAcquire();
            if (!holdsSlot)
            {
                Interlocked.Increment(ref Counters.RefusedOverLimit);
                _overTotalLimitLog.Record(remote);

                ForwardedConnection.Abort(client);
                return;
            }

            // Read once: every decision for this connection uses the same configuration.
            var route = _routing.Current;
            if (!route.Acl.IsAllowed(remote.Address))
            {
                Interlocked.Increment(ref Counters.DeniedByAcl);
                Log.ConnectionDeniedByAcl(_logger, Key, remote);
                ForwardedConnection.Abort(client);
                return;
            }

            var candidates = new int[_options.MaxConnectAttempts];
            var count = route.FillCandidates(remote, local, candidates);
            if (count == 0)
            {
                Interlocked.Increment(ref Counters.NoHealthyBackend);
                Log.NoHealthyBackend(_logger, Key, remote);
                ForwardedConnection.Abort(client);
                return;
            }

            BackendState? chosen = null;
            for (var attempt = 0; attempt < count; attempt++)
            {
                var candidate = route.Members[candidates[attempt]];
                if (attempt > 0)
                {
                    Interlocked.Increment(ref Counters.ConnectRetries);
                    Interlocked.Increment(ref candidate.Counters.ConnectRetries);
                }

                try
                {
                    backendSocket = await BackendConnector.ConnectAsync(
                        candidate.Spec.Target, _options.BackendConnectTimeout, _timeProvider, _stopping.Token).ConfigureAwait(false);
                    chosen = candidate;
                    break;
                }
                catch (Exception ex) when (ex is SocketException or TimeoutException)
                {
                    Interlocked.Increment(ref Counters.ConnectFailures);
                    Interlocked.Increment(ref candidate.Counters.ConnectFailures);
                    Log.BackendConnectFailed(_logger, Key, attempt + 1, candidate.Spec.Target, ex);
                }
            }

            if (chosen is null || backendSocket is null)
            {
                Interlocked.Increment(ref Counters.ConnectExhausted);
                Log.BackendConnectExhausted(_logger, Key, remote, count);
                ForwardedConnection.Abort(client);
                return;
            }

            if (route.Spec.ProxyProtocol != ProxyProtocolVersion.None)
            {
                var header = ProxyProtocolHeader.Build(route.Spec.ProxyProtocol, remote, local);
                await backendSocket.SendAsync(header, SocketFlags.None).ConfigureAwait(false);
            }

            var connection = new ForwardedConnection(client, backendSocket, chosen, remote, _timeProvider);
            backendSocket = null;
            _connections[connection.Id] = connection;
            chosen.Attach(connection);
            Interlocked.Increment(ref Counters.Forwarded);
            try
            {
                // Stopped or retired while we were connecting: the drain already took its snapshot.
                if (_stopping.IsCancellationRequested || chosen.IsRetired)
                {
                    connection.Reset();
                }

                await _forwarder.ForwardAsync(connection).ConfigureAwait(false);
            }
            finally
            {
                _connections.TryRemove(connection.Id, out _);
                chosen.Detach(connection);
            }
        }
        catch (Exception ex)
        {
            Log.ConnectionSetupFailed(_logger, Key, remote, ex);
            if (backendSocket is not null)
            {
                ForwardedConnection.Abort(backendSocket);
            }

            ForwardedConnection.Abort(client);
        }
        finally
        {
            if (counted)
            {
                Interlocked.Decrement(ref _active);
            }

            if (holdsSlot)
            {
                _connectionSlots.Release();
            }
        }
    }
}
