using System.Net;
using ARSoft.Tools.Net.Dns;
using MultiVip.DataPlane;
using MultiVip.DataPlane.Listeners;

namespace MultiVip.Server.Dns;

/// <summary>
/// ARSoft's DNS-over-TCP transport with a connection cap and an accept loop that does not spin. The
/// library's accept returns null on any error and its server loop asks again at once, so at the
/// descriptor limit it would spin a core; and it has no cap of its own, so TCP clients could take
/// every descriptor. Here a failed accept pauses (<see cref="AcceptBackoff"/>), connections beyond
/// the cap are closed at once, and both are logged at most once per interval with a count. The
/// descriptor budget holds exactly this cap's worth for DNS.
/// </summary>
internal sealed partial class GuardedTcpServerTransport(IServerTransport inner, int maxConnections, ILogger logger, TimeProvider timeProvider) : IServerTransport
{
    private readonly LogThrottle<int> _failureLog = new(timeProvider, (_, count, interval) => Log.DnsAcceptFailed(logger, count, interval));
    private readonly LogThrottle<IPEndPoint> _refusedLog = new(timeProvider, (remote, count, interval) => Log.DnsTcpOverLimit(logger, count, interval, maxConnections, remote));
    private AcceptBackoff _backoff;
    private int _active;

    public ushort DefaultAllowedResponseSize => inner.DefaultAllowedResponseSize;

    public bool SupportsMultipleResponses => inner.SupportsMultipleResponses;

    public bool AllowTruncatedResponses => inner.AllowTruncatedResponses;

    public TransportProtocol TransportProtocol => inner.TransportProtocol;

    public void Bind() => inner.Bind();

    public void Close() => inner.Close();

    public void Dispose() => inner.Dispose();

    public async Task<IServerConnection?> AcceptConnectionAsync(CancellationToken token = default)
    {
        var connection = await inner.AcceptConnectionAsync(token).ConfigureAwait(false);
        if (connection is null)
        {
            if (token.IsCancellationRequested)
            {
                return null;
            }

            // The library swallowed the error; the next attempt would most likely fail the same way.
            _failureLog.Record(0);

            try
            {
                await Task.Delay(_backoff.Next(), timeProvider, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }

            return null;
        }

        _backoff.Reset();
        if (Interlocked.Increment(ref _active) > maxConnections)
        {
            Interlocked.Decrement(ref _active);
            var remote = connection.RemoteEndPoint;
            connection.Dispose();
            _refusedLog.Record(remote);

            return null;
        }

        return new Counted(connection, this);
    }

    /// <summary>Gives back its slot when the server disposes it.</summary>
    private sealed class Counted(IServerConnection inner, GuardedTcpServerTransport owner) : IServerConnection
    {
        private int _disposed;

        public IServerTransport Transport => owner;

        public IPEndPoint RemoteEndPoint => inner.RemoteEndPoint;

        public IPEndPoint LocalEndPoint => inner.LocalEndPoint;

        public bool CanRead => inner.CanRead;

        public Task<bool> InitializeAsync(CancellationToken token = default) => inner.InitializeAsync(token);

        public Task<DnsReceivedRawPackage?> ReceiveAsync(CancellationToken token = default) => inner.ReceiveAsync(token);

        public Task<bool> SendAsync(DnsRawPackage package, CancellationToken token = default) => inner.SendAsync(package, token);

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                inner.Dispose();
                Interlocked.Decrement(ref owner._active);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3004, EventName = "DnsAcceptFailed", Level = LogLevel.Warning,
            Message = "DNS over TCP: accept failed {Count} time(s) in the last {Interval}; pausing between attempts. If the process is out of file descriptors, raise the limit (LimitNOFILE= in the systemd unit, ulimit -n).")]
        public static partial void DnsAcceptFailed(ILogger logger, long count, TimeSpan interval);

        [LoggerMessage(EventId = 3005, EventName = "DnsTcpOverLimit", Level = LogLevel.Warning,
            Message = "DNS over TCP: closed {Count} connection(s) in the last {Interval}, {Limit} are open already; latest from {Remote}")]
        public static partial void DnsTcpOverLimit(ILogger logger, long count, TimeSpan interval, int limit, IPEndPoint remote);
    }
}
