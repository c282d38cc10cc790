using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Health;
using MultiVip.DataPlane.Reconciliation;
using MultiVip.DataPlane.Routing;
using MultiVip.DataPlane.Sockets;

namespace MultiVip.DataPlane.Udp;

/// <summary>
/// One public UDP socket (VIP, port) and its session table. A client's first datagram creates a
/// session (ACL check, then the distribution mode's hash picks a member in rotation); later ones
/// follow it. Sessions end on idle timeout, on LRU eviction when the table (or the data plane's
/// total, <see cref="DataPlaneOptions.MaxUdpSessions"/>) is full, or at once when their backend
/// leaves rotation or the set. A session's backend socket is opened only once it has a slot, so a
/// flood of spoofed sources costs at most the caps' worth of descriptors.
/// </summary>
internal sealed partial class UdpListener : IRoutedListener
{
    /// <summary>Largest UDP payload over IPv4; a smaller buffer would silently truncate datagrams.</summary>
    internal const int MaxDatagram = 65_527;

    private readonly Socket _socket;
    private readonly DataPlaneOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly RouteController _routing;
    private readonly IPEndPoint _local;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private readonly Dictionary<UdpFlowKey, UdpSession> _sessions = [];
    private readonly ITimer _idleSweep;
    private readonly int[] _candidates = new int[1];
    private readonly SharedLimit _slots;
    private readonly Func<bool> _evictForTotal;
    private readonly LogThrottle<IPEndPoint> _evictedLog;
    private readonly LogThrottle<IPEndPoint> _refusedLog;
    private readonly LogThrottle<SocketException> _socketFailedLog;
    private UdpSession? _newest;
    private UdpSession? _oldest;
    private TimeSpan _sweepPeriod;
    private Task _receiveLoop = Task.CompletedTask;

    /// <param name="slots">The data plane's session cap, shared by every UDP listener.</param>
    /// <param name="evictForTotal">Asks the data plane to evict one session (from the listener holding the most) when <paramref name="slots"/> is exhausted; false if none could be.</param>
    public UdpListener(
        Socket socket,
        ListenerSpec spec,
        DataPlaneOptions options,
        TimeProvider timeProvider,
        ILoggerFactory loggerFactory,
        Action<ProbeObservation> onProbe,
        SharedLimit slots,
        Func<bool> evictForTotal)
    {
        var logger = loggerFactory.CreateLogger<UdpListener>();
        _socket = socket;
        _slots = slots;
        _evictForTotal = evictForTotal;
        _evictedLog = new(timeProvider, (remote, count, interval) => Log.UdpSessionEvicted(logger, spec.Key, count, interval, remote));
        _refusedLog = new(timeProvider, (remote, count, interval) => Log.UdpSessionsRefused(logger, spec.Key, count, interval, slots.Capacity, remote));
        _socketFailedLog = new(timeProvider, (ex, count, interval) => Log.UdpSessionSocketFailed(logger, spec.Key, count, interval, ex.SocketErrorCode, AcceptBackoff.Hint(ex)));
        _options = options;
        _timeProvider = timeProvider;
        _logger = logger;
        _local = (IPEndPoint)socket.LocalEndPoint!;
        Key = spec.Key;
        _routing = new RouteController(spec, timeProvider, loggerFactory, onProbe, OnRouteChanged);
        _sweepPeriod = IdleSweep.Period(spec.IdleTimeout);
        _idleSweep = timeProvider.CreateTimer(static state => ((UdpListener)state!).SweepIdle(), this, _sweepPeriod, _sweepPeriod);
    }

    public ListenerKey Key { get; }

    public ListenerSpec Spec => _routing.Current.Spec;

    /// <summary>The datagram socket, for a successor process to take over (<see cref="HandedOverSockets"/>).</summary>
    public Socket ListeningSocket => _socket;

    public UdpCounters Counters { get; } = new();

    public int SessionCount
    {
        get
        {
            lock (_gate)
            {
                return _sessions.Count;
            }
        }
    }

    public void Start()
    {
        _routing.Start();
        _receiveLoop = Task.Run(ReceiveLoopAsync);
    }

    /// <summary>Reconfigures in place; sessions of removed or out-of-rotation backends are dropped by the route change.</summary>
    public void Update(ListenerSpec spec)
    {
        _routing.Update(spec);
        lock (_gate)
        {
            var period = IdleSweep.Period(spec.IdleTimeout);
            if (period != _sweepPeriod)
            {
                _sweepPeriod = period;
                _idleSweep.Change(period, period);
            }
        }
    }

    /// <summary>
    /// Closes the socket and every session at once. UDP has nothing to drain: there is no connection
    /// to finish, and keeping sessions to a listener that no longer exists would only strand replies.
    /// </summary>
    public async Task StopAsync()
    {
        if (!_stopping.IsCancellationRequested)
        {
            _stopping.Cancel();

            // Handed over: the successor receives on it now; our receive loop is cancelled and the
            // sessions closed below, and the descriptor closes with the process.
            HandedOverSockets.Close(_socket);
            _routing.StopProbing();
        }

        await _idleSweep.DisposeAsync().ConfigureAwait(false);
        List<UdpSession> all;
        lock (_gate)
        {
            all = [.. _sessions.Values];
            _sessions.Clear();
            _newest = _oldest = null;
        }

        foreach (var session in all)
        {
            session.Close();
        }

        Log.UdpListenerStopped(_logger, Key, all.Count);
        await _receiveLoop.ConfigureAwait(false);
    }

    public IEnumerable<BackendHealth> GetHealth() => _routing.GetHealth();

    /// <summary>Live sessions and counters of this listener, for /metrics (read on demand, never on the datagram path).</summary>
    public UdpSessionCount ToSessionCount()
    {
        var c = Counters;
        return new UdpSessionCount(Key, Spec.ServiceName, Spec.VirtualIpName, SessionCount)
        {
            DatagramsIn = Interlocked.Read(ref c.DatagramsIn),
            DatagramsOut = Interlocked.Read(ref c.DatagramsOut),
            SessionsCreated = Interlocked.Read(ref c.SessionsCreated),
            SessionsExpired = Interlocked.Read(ref c.SessionsExpired),
            SessionsEvicted = Interlocked.Read(ref c.SessionsEvicted),
            SessionsMoved = Interlocked.Read(ref c.SessionsMoved),
            DeniedByAcl = Interlocked.Read(ref c.DeniedByAcl),
            NoHealthyBackend = Interlocked.Read(ref c.NoHealthyBackend),
            SendFailures = Interlocked.Read(ref c.SendFailures),
            SessionsRefused = Interlocked.Read(ref c.SessionsRefused),
            BytesIn = Interlocked.Read(ref c.BytesIn),
            BytesOut = Interlocked.Read(ref c.BytesOut),
        };
    }

    private async Task ReceiveLoopAsync()
    {
        // One buffer for the listener's lifetime and one reused sockaddr: the steady-state path
        // (known client) allocates nothing per datagram.
        var buffer = ArrayPool<byte>.Shared.Rent(MaxDatagram);
        var from = new SocketAddress(_socket.AddressFamily);
        try
        {
            while (!_stopping.IsCancellationRequested)
            {
                int received;
                try
                {
                    received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, from, _stopping.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (_stopping.IsCancellationRequested
                    && ex is OperationCanceledException or ObjectDisposedException or SocketException)
                {
                    return;
                }
                catch (SocketException ex)
                {
                    // An ICMP error queued on the socket (e.g. a client port that closed): not fatal.
                    Log.UdpReceiveFailed(_logger, Key, ex);
                    continue;
                }

                Interlocked.Increment(ref Counters.DatagramsIn);
                var session = FindOrCreateSession(from);
                if (session is null)
                {
                    continue;
                }

                try
                {
                    await session.BackendSocket.SendAsync(buffer.AsMemory(0, received), SocketFlags.None, _stopping.Token).ConfigureAwait(false);
                    Interlocked.Add(ref Counters.BytesIn, received);
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
                {
                    // Refused (ICMP from a closed backend port) or the session was just dropped by a
                    // failover: the datagram is lost, as UDP allows; the probe decides the backend's fate.
                    Interlocked.Increment(ref Counters.SendFailures);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private UdpSession? FindOrCreateSession(SocketAddress from)
    {
        var key = UdpFlowKey.From(from);
        var now = _timeProvider.GetTimestamp();
        lock (_gate)
        {
            if (_sessions.TryGetValue(key, out var known))
            {
                known.Touch(now);
                MoveToFront(known);
                return known;
            }
        }

        return CreateSession(key, from, now);
    }

    /// <summary>First datagram of a client: allocation is fine here, once per session.</summary>
    private UdpSession? CreateSession(UdpFlowKey key, SocketAddress from, long now)
    {
        var remote = (IPEndPoint)_local.Create(from);
        while (true)
        {
            var route = _routing.Current;
            if (!route.Acl.IsAllowed(remote.Address))
            {
                Interlocked.Increment(ref Counters.DeniedByAcl);
                Log.UdpDatagramDeniedByAcl(_logger, Key, remote);
                return null;
            }

            if (route.FillCandidates(remote, _local, _candidates) == 0)
            {
                Interlocked.Increment(ref Counters.NoHealthyBackend);
                Log.UdpNoHealthyBackend(_logger, Key, remote);
                return null;
            }

            var backend = route.Members[_candidates[0]];
            if (!TryTakeSlot(remote))
            {
                return null;
            }

            Socket? socket = null;
            try
            {
                socket = new Socket(backend.Spec.Target.AddressFamily, SocketType.Dgram, ProtocolType.Udp);

                // Connecting a UDP socket sends nothing; it fixes the peer so the kernel delivers only that backend's replies.
                socket.Connect(backend.Spec.Target);
            }
            catch (SocketException ex)
            {
                // EMFILE included: this client's datagram is lost, the listener and its sessions carry on.
                socket?.Dispose();
                _slots.Release();
                Interlocked.Increment(ref Counters.SendFailures);
                _socketFailedLog.Record(ex);

                return null;
            }

            var client = new SocketAddress(from.Family, from.Size);
            from.Buffer.Span.CopyTo(client.Buffer.Span);
            var session = new UdpSession(key, client, remote, backend, socket, now, _slots);
            lock (_gate)
            {
                // A route change purges sessions under this lock after publishing its table. If the
                // table moved since we read it, our pick may be a member that just left rotation and
                // the purge would miss us: pick again from the new table.
                if (!ReferenceEquals(route, _routing.Current) || _stopping.IsCancellationRequested)
                {
                    socket.Dispose();
                    _slots.Release();
                    if (_stopping.IsCancellationRequested)
                    {
                        return null;
                    }

                    continue;
                }

                _sessions[key] = session;
                LinkFront(session);
                backend.AttachSession();
            }

            Interlocked.Increment(ref Counters.SessionsCreated);
            _ = ReplyLoopAsync(session);
            return session;
        }
    }

    /// <summary>
    /// Makes room for one new session before its socket is opened: a full listener evicts its least
    /// recently used session; when the data plane's total is exhausted the listener holding the most
    /// sessions gives one up. Only this listener's receive loop adds sessions to it, so the count
    /// cannot grow between the check and the insert.
    /// </summary>
    private bool TryTakeSlot(IPEndPoint remote)
    {
        if (SessionCount >= _options.MaxUdpSessionsPerListener)
        {
            EvictOldest();
        }

        if (_slots.TryAcquire() || (_evictForTotal() && _slots.TryAcquire()))
        {
            return true;
        }

        Interlocked.Increment(ref Counters.SessionsRefused);
        _refusedLog.Record(remote);

        return false;
    }

    /// <summary>Closes the least recently used session, if any; called for this listener's own cap and by the data plane for the total.</summary>
    internal bool EvictOldest()
    {
        UdpSession? evicted;
        lock (_gate)
        {
            evicted = _oldest;
            if (evicted is null)
            {
                return false;
            }

            _sessions.Remove(evicted.Key);
            Unlink(evicted);
        }

        if (evicted.Close())
        {
            Interlocked.Increment(ref Counters.SessionsEvicted);
            _evictedLog.Record(evicted.ClientEndPoint);
        }

        return true;
    }

    private async Task ReplyLoopAsync(UdpSession session)
    {
        var socket = session.BackendSocket;
        while (!session.IsClosed)
        {
            try
            {
                // Wait for a datagram without holding a buffer (a zero-byte peek leaves it queued), so an
                // idle session costs a socket and no memory; the buffer is rented only while one is in hand.
                await socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.Peek).ConfigureAwait(false);
                var buffer = ArrayPool<byte>.Shared.Rent(MaxDatagram);
                try
                {
                    var received = await socket.ReceiveAsync(buffer, SocketFlags.None).ConfigureAwait(false);
                    session.Touch(_timeProvider.GetTimestamp());
                    await _socket.SendToAsync(buffer.AsMemory(0, received), SocketFlags.None, session.Client).ConfigureAwait(false);
                    Interlocked.Increment(ref Counters.DatagramsOut);
                    Interlocked.Add(ref Counters.BytesOut, received);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionRefused)
            {
                // ICMP port unreachable for an earlier datagram: the backend may come back; the probe decides.
            }
            catch (Exception ex) when (ex is ObjectDisposedException or OperationCanceledException || session.IsClosed || _stopping.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException ex)
            {
                Log.UdpSessionFailed(_logger, Key, session.ClientEndPoint, ex);
                Remove(session);
                return;
            }
        }
    }

    private void Remove(UdpSession session)
    {
        lock (_gate)
        {
            if (_sessions.TryGetValue(session.Key, out var current) && ReferenceEquals(current, session))
            {
                _sessions.Remove(session.Key);
                Unlink(session);
            }
        }

        session.Close();
    }

    /// <summary>
    /// Runs under the route controller's lock right after a new table is published: sessions whose
    /// backend is not a member in rotation any more are dropped now, so no datagram follows a dead or
    /// removed VM (the stale-conntrack failure). The client's next datagram opens a session on a live member.
    /// </summary>
    private void OnRouteChanged(RouteTable route)
    {
        List<UdpSession>? dropped = null;
        lock (_gate)
        {
            for (var session = _newest; session is not null;)
            {
                var older = session.Older;
                if (Array.IndexOf(route.Members, session.Backend) < 0)
                {
                    _sessions.Remove(session.Key);
                    Unlink(session);
                    (dropped ??= []).Add(session);
                }

                session = older;
            }
        }

        if (dropped is null)
        {
            return;
        }

        foreach (var session in dropped)
        {
            session.Close();
        }

        Interlocked.Add(ref Counters.SessionsMoved, dropped.Count);
        Log.UdpSessionsMoved(_logger, Key, dropped.Count);
    }

    private void SweepIdle()
    {
        var idleTimeout = _routing.Current.Spec.IdleTimeout;
        if (idleTimeout <= TimeSpan.Zero)
        {
            return;
        }

        var now = _timeProvider.GetTimestamp();
        List<UdpSession>? expired = null;
        lock (_gate)
        {
            for (var session = _newest; session is not null;)
            {
                var older = session.Older;
                if (session.IdleFor(now, _timeProvider) >= idleTimeout)
                {
                    _sessions.Remove(session.Key);
                    Unlink(session);
                    (expired ??= []).Add(session);
                }

                session = older;
            }
        }

        if (expired is null)
        {
            return;
        }

        foreach (var session in expired)
        {
            session.Close();
        }

        Interlocked.Add(ref Counters.SessionsExpired, expired.Count);
    }

    // LRU list helpers; the caller holds _gate.
    private void LinkFront(UdpSession session)
    {
        session.Older = _newest;
        session.Newer = null;
        if (_newest is not null)
        {
            _newest.Newer = session;
        }

        _newest = session;
        _oldest ??= session;
    }

    private void Unlink(UdpSession session)
    {
        if (session.Newer is not null)
        {
            session.Newer.Older = session.Older;
        }
        else if (ReferenceEquals(_newest, session))
        {
            _newest = session.Older;
        }

        if (session.Older is not null)
        {
            session.Older.Newer = session.Newer;
        }
        else if (ReferenceEquals(_oldest, session))
        {
            _oldest = session.Newer;
        }

        session.Newer = session.Older = null;
    }

    private void MoveToFront(UdpSession session)
    {
        if (ReferenceEquals(_newest, session))
        {
            return;
        }

        Unlink(session);
        LinkFront(session);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 41, EventName = "UdpListenerStopped", Level = LogLevel.Information,
            Message = "Stopped receiving on {Key}; dropped {SessionCount} session(s)")]
        public static partial void UdpListenerStopped(ILogger logger, ListenerKey key, int sessionCount);

        [LoggerMessage(EventId = 42, EventName = "UdpDatagramDeniedByAcl", Level = LogLevel.Debug,
            Message = "{Key}: datagram from {Remote} dropped, denied by the endpoint ACL")]
        public static partial void UdpDatagramDeniedByAcl(ILogger logger, ListenerKey key, IPEndPoint remote);

        [LoggerMessage(EventId = 43, EventName = "UdpNoHealthyBackend", Level = LogLevel.Warning,
            Message = "{Key}: datagram from {Remote} dropped, no backend is in rotation")]
        public static partial void UdpNoHealthyBackend(ILogger logger, ListenerKey key, IPEndPoint remote);

        [LoggerMessage(EventId = 44, EventName = "UdpSessionEvicted", Level = LogLevel.Debug,
            Message = "{Key}: evicted {Count} session(s) (least recently used) in the last {Interval} to admit new ones; latest of {Remote}")]
        public static partial void UdpSessionEvicted(ILogger logger, ListenerKey key, long count, TimeSpan interval, IPEndPoint remote);

        [LoggerMessage(EventId = 48, EventName = "UdpSessionsRefused", Level = LogLevel.Warning,
            Message = "{Key}: dropped datagrams of {Count} new client(s) in the last {Interval}: the data plane holds {Limit} UDP sessions in total (--max-udp-sessions, sized from the descriptor limit) and none could be evicted; latest from {Remote}")]
        public static partial void UdpSessionsRefused(ILogger logger, ListenerKey key, long count, TimeSpan interval, int limit, IPEndPoint remote);

        [LoggerMessage(EventId = 49, EventName = "UdpSessionSocketFailed", Level = LogLevel.Warning,
            Message = "{Key}: could not open a backend socket for {Count} new client(s) in the last {Interval} (latest: {Error}); {Hint}")]
        public static partial void UdpSessionSocketFailed(ILogger logger, ListenerKey key, long count, TimeSpan interval, SocketError error, string hint);

        [LoggerMessage(EventId = 45, EventName = "UdpSessionsMoved", Level = LogLevel.Information,
            Message = "{Key}: dropped {Count} session(s) bound to backends out of rotation; their next datagram picks a member in rotation")]
        public static partial void UdpSessionsMoved(ILogger logger, ListenerKey key, int count);

        [LoggerMessage(EventId = 46, EventName = "UdpReceiveFailed", Level = LogLevel.Debug,
            Message = "{Key}: receive failed")]
        public static partial void UdpReceiveFailed(ILogger logger, ListenerKey key, Exception exception);

        [LoggerMessage(EventId = 47, EventName = "UdpSessionFailed", Level = LogLevel.Debug,
            Message = "{Key}: session of {Remote} closed after a socket error")]
        public static partial void UdpSessionFailed(ILogger logger, ListenerKey key, IPEndPoint remote, Exception exception);
    }
}
