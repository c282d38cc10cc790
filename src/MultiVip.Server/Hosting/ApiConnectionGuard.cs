using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;
using MultiVip.DataPlane;

namespace MultiVip.Server.Hosting;

/// <summary>
/// Keeps the API answering when its connection cap is full of sockets that do nothing, and inside
/// its descriptors when connections arrive faster than they close.
/// <list type="bullet">
/// <item>The cap is enforced at accept (<see cref="TryOpen"/>, called by <see cref="ApiSocketTransport"/>):
/// a connection over it is closed before the next is accepted, so a burst costs one descriptor at a
/// time. (Kestrel's own MaxConcurrentConnections, set to the same value as a backstop, rejects only
/// after accepting, and a burst of 300 piles up accepted sockets faster than they close: EMFILE.)</item>
/// <item>Near the cap a newcomer closes the connection that has been idle longest (no request in
/// progress), as nginx drains idle keep-alive connections when it runs short: otherwise 500 idle
/// connections of an attacker (no token, no bytes) would lock the operator out until their
/// keep-alive timeout.</item>
/// </list>
/// </summary>
internal sealed partial class ApiConnectionGuard
{
    private readonly ConcurrentDictionary<string, Tracked> _connections = new(StringComparer.Ordinal);
    private readonly TimeProvider _timeProvider;
    private readonly LogThrottle<int> _evictedLog;
    private readonly LogThrottle<int> _refusedLog;
    private readonly int _keepAtMost;
    private int _open;
    private int _live;
    private long _evicted;

    public ApiConnectionGuard(int maxConnections, TimeProvider timeProvider, ILogger<ApiConnectionGuard> logger)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxConnections, 2);
        MaxConnections = maxConnections;
        _timeProvider = timeProvider;
        _evictedLog = new(timeProvider, (cap, count, interval) => Log.IdleConnectionsClosed(logger, count, interval, cap));
        _refusedLog = new(timeProvider, (cap, count, interval) => Log.ConnectionsRefused(logger, count, interval, cap));

        // An eighth of the cap (at least two slots) stays free, so a burst of newcomers is admitted by
        // Kestrel before the idle connections they displace have finished closing.
        _keepAtMost = maxConnections - Math.Max(2, maxConnections / 8);
    }

    public int MaxConnections { get; }

    /// <summary>Idle connections closed to admit new ones since start.</summary>
    public long Evicted => Interlocked.Read(ref _evicted);

    /// <summary>
    /// Called for each accepted socket before Kestrel sees it: false (and the caller closes the socket)
    /// when the cap's worth of connections are open. The slot is given back when the connection
    /// leaves <see cref="OnConnectionAsync"/>.
    /// </summary>
    public bool TryOpen()
    {
        if (Interlocked.Increment(ref _open) <= MaxConnections)
        {
            return true;
        }

        Interlocked.Decrement(ref _open);
        _refusedLog.Record(MaxConnections);
        return false;
    }

    /// <summary>Connection middleware (outermost, before TLS): tracks the connection for its lifetime.</summary>
    public async Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        var tracked = new Tracked(connection, _timeProvider.GetTimestamp());
        _connections[connection.ConnectionId] = tracked;
        if (Interlocked.Increment(ref _live) > _keepAtMost)
        {
            EvictIdle(tracked);
        }

        try
        {
            await next(connection);
        }
        finally
        {
            _connections.TryRemove(KeyValuePair.Create(connection.ConnectionId, tracked));
            if (tracked.Leave())
            {
                Interlocked.Decrement(ref _live);
            }

            Interlocked.Decrement(ref _open);
        }
    }

    /// <summary>Request middleware: a connection with a request in progress is never evicted.</summary>
    public async Task OnRequestAsync(HttpContext context, RequestDelegate next)
    {
        _connections.TryGetValue(context.Connection.Id, out var tracked);
        tracked?.RequestStarted(_timeProvider.GetTimestamp());
        try
        {
            await next(context);
        }
        finally
        {
            tracked?.RequestEnded(_timeProvider.GetTimestamp());
        }
    }

    private void EvictIdle(Tracked newcomer)
    {
        while (Volatile.Read(ref _live) > _keepAtMost)
        {
            Tracked? idlest = null;
            foreach (var candidate in _connections.Values)
            {
                if (!ReferenceEquals(candidate, newcomer) && candidate.IsIdle && (idlest is null || candidate.LastActive < idlest.LastActive))
                {
                    idlest = candidate;
                }
            }

            if (idlest is null)
            {
                // Every connection has a request in progress: the newcomer waits on Kestrel's hard cap.
                return;
            }

            if (idlest.Leave())
            {
                Interlocked.Decrement(ref _live);
                Interlocked.Increment(ref _evicted);
                idlest.Connection.Abort(new ConnectionAbortedException("Closed to admit a new connection: the API is at its connection cap."));
                _evictedLog.Record(MaxConnections);
            }
        }
    }

    private sealed class Tracked(ConnectionContext connection, long opened)
    {
        private int _requests;
        private int _left;
        private long _lastActive = opened;

        public ConnectionContext Connection { get; } = connection;

        public long LastActive => Volatile.Read(ref _lastActive);

        public bool IsIdle => Volatile.Read(ref _requests) == 0 && Volatile.Read(ref _left) == 0;

        public void RequestStarted(long now)
        {
            Interlocked.Increment(ref _requests);
            Volatile.Write(ref _lastActive, now);
        }

        public void RequestEnded(long now)
        {
            Volatile.Write(ref _lastActive, now);
            Interlocked.Decrement(ref _requests);
        }

        /// <summary>Marks the connection gone (closed or evicted); true for the first caller only, who uncounts it.</summary>
        public bool Leave() => Interlocked.Exchange(ref _left, 1) == 0;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4001, EventName = "ApiIdleConnectionsClosed", Level = LogLevel.Warning,
            Message = "The API is at its connection cap ({Cap}, --max-api-connections): closed {Count} idle connection(s) in the last {Interval} to admit new ones. Many clients opening connections they do not use look like this; so does a cap too low for the dashboards and scripts using the API.")]
        public static partial void IdleConnectionsClosed(ILogger logger, long count, TimeSpan interval, int cap);

        [LoggerMessage(EventId = 4003, EventName = "ApiConnectionsRefused", Level = LogLevel.Warning,
            Message = "The API is at its connection cap ({Cap}, --max-api-connections): closed {Count} new connection(s) at accept in the last {Interval}, while idle ones were being closed to make room or every connection had a request in progress.")]
        public static partial void ConnectionsRefused(ILogger logger, long count, TimeSpan interval, int cap);
    }
}
