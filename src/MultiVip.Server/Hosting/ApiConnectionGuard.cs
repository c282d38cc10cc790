using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;
using MultiVip.DataPlane;

namespace MultiVip.Server.Hosting;

/// <summary>
/// Keeps the API answering when its connection cap is full of sockets that do nothing, and inside
/// its descriptors when connections arrive faster than they close. Driven by the accept loop of
/// <see cref="ApiSocketTransport"/>:
/// <list type="bullet">
/// <item>Before accept(), the loop waits for a descriptor (<see cref="WaitForDescriptorAsync"/>): the
/// cap plus <see cref="MaxClosing"/> sockets still closing. At that bound it stops accepting and the
/// kernel queues newcomers, as HAProxy pauses a listener at maxconn; a burst can never pile up
/// accepted sockets (Kestrel's own MaxConcurrentConnections rejects only after accepting, and a burst
/// of 300 outruns the closes: EMFILE).</item>
/// <item>After accept(), a newcomer over the cap closes the connection that has been idle longest (no
/// request in progress), as nginx drains idle keep-alive connections when it runs short: otherwise
/// idle connections of an attacker (no token, no bytes) would lock the operator out until their
/// keep-alive timeout. Only when every connection has a request in progress is the newcomer closed.</item>
/// </list>
/// </summary>
internal sealed partial class ApiConnectionGuard : IDisposable
{
    /// <summary>Evicted connections whose sockets may still be closing while newcomers are admitted.</summary>
    public const int MaxClosing = 4;

    private readonly ConcurrentDictionary<string, Tracked> _connections = new(StringComparer.Ordinal);
    private readonly TimeProvider _timeProvider;
    private readonly SemaphoreSlim _descriptors;
    private readonly Lock _admission = new();
    private readonly LogThrottle<int> _evictedLog;
    private readonly LogThrottle<int> _refusedLog;
    private int _live;
    private long _evicted;

    public ApiConnectionGuard(int maxConnections, TimeProvider timeProvider, ILogger<ApiConnectionGuard> logger)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxConnections, 1);
        MaxConnections = maxConnections;
        _timeProvider = timeProvider;
        _descriptors = new SemaphoreSlim(DescriptorLimit, DescriptorLimit);
        _evictedLog = new(timeProvider, (cap, count, interval) => Log.IdleConnectionsClosed(logger, count, interval, cap));
        _refusedLog = new(timeProvider, (cap, count, interval) => Log.ConnectionsRefused(logger, count, interval, cap));
    }

    /// <summary>Connections admitted at once.</summary>
    public int MaxConnections { get; }

    /// <summary>Sockets the API holds at most (admitted plus closing): what the descriptor budget reserves and Kestrel's backstop cap.</summary>
    public int DescriptorLimit => MaxConnections + MaxClosing;

    /// <summary>Idle connections closed to admit new ones since start.</summary>
    public long Evicted => Interlocked.Read(ref _evicted);

    /// <summary>Before accept(): completes once a descriptor is free for the next connection.</summary>
    public Task WaitForDescriptorAsync(CancellationToken cancellationToken) => _descriptors.WaitAsync(cancellationToken);

    /// <summary>accept() failed after <see cref="WaitForDescriptorAsync"/>: the descriptor was not used.</summary>
    public void ReturnDescriptor() => _descriptors.Release();

    /// <summary>
    /// After accept(): admits the connection, closing the longest-idle one if the cap is full. False
    /// (the caller closes the socket; its descriptor is given back here) when every connection is busy.
    /// </summary>
    public bool TryAdmit()
    {
        lock (_admission)
        {
            if (_live >= MaxConnections && !EvictIdlest())
            {
                _descriptors.Release();
                _refusedLog.Record(MaxConnections);
                return false;
            }

            _live++;
            return true;
        }
    }

    /// <summary>Connection middleware (outermost, before TLS): tracks an admitted connection for its lifetime.</summary>
    public async Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        var tracked = new Tracked(connection, _timeProvider.GetTimestamp());
        _connections[connection.ConnectionId] = tracked;
        try
        {
            await next(connection);
        }
        finally
        {
            _connections.TryRemove(KeyValuePair.Create(connection.ConnectionId, tracked));
            if (tracked.Leave())
            {
                lock (_admission)
                {
                    _live--;
                }
            }

            // Kestrel disposes the socket right after this delegate returns.
            _descriptors.Release();
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

    public void Dispose() => _descriptors.Dispose();

    /// <summary>Under the admission lock. O(connections), and only when the cap is full.</summary>
    private bool EvictIdlest()
    {
        Tracked? idlest = null;
        foreach (var candidate in _connections.Values)
        {
            if (candidate.IsIdle && (idlest is null || candidate.LastActive < idlest.LastActive))
            {
                idlest = candidate;
            }
        }

        if (idlest is null || !idlest.Leave())
        {
            return false;
        }

        _live--;
        Interlocked.Increment(ref _evicted);
        idlest.Connection.Abort(new ConnectionAbortedException("Closed to admit a new connection: the API is at its connection cap."));
        _evictedLog.Record(MaxConnections);
        return true;
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
            Message = "The API is at its connection cap ({Cap}, --max-api-connections) with a request in progress on every connection: closed {Count} new connection(s) in the last {Interval}.")]
        public static partial void ConnectionsRefused(ILogger logger, long count, TimeSpan interval, int cap);
    }
}
