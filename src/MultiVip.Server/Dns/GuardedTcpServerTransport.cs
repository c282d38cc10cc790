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
/// descriptor budget holds exactly this cap's worth for DNS. Connections are closed when the client
/// is done (see <see cref="Counted"/>), which the library alone does not do.
/// </summary>
internal sealed partial class GuardedTcpServerTransport(IServerTransport inner, int maxConnections, ILogger logger, TimeProvider timeProvider) : IServerTransport
{
    private readonly LogThrottle<int> _failureLog = new(timeProvider, (_, count, interval) => Log.DnsAcceptFailed(logger, count, interval));
    private readonly LogThrottle<IPEndPoint> _refusedLog = new(timeProvider, (remote, count, interval) => Log.DnsTcpOverLimit(logger, count, interval, maxConnections, remote));
    private AcceptBackoff _backoff;
    private int _active;

    private TimeProvider TimeProvider => timeProvider;

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

    /// <summary>
    /// Gives back its slot when disposed, and disposes itself once the client is done: ARSoft 3.6.1's
    /// server never disposes a TCP connection whose read ended (client closed, or idle past the
    /// keep-alive), so without this each one would hold its descriptor until a garbage collection and
    /// its slot forever. Done = the read ended and every query read has been answered; a query whose
    /// answer never comes is given up after the transport's timeout.
    /// </summary>
    private sealed class Counted(IServerConnection inner, GuardedTcpServerTransport owner) : IServerConnection
    {
        private int _unanswered;
        private int _readEnded;
        private int _disposed;

        public IServerTransport Transport => owner;

        public IPEndPoint RemoteEndPoint => inner.RemoteEndPoint;

        public IPEndPoint LocalEndPoint => inner.LocalEndPoint;

        public bool CanRead => inner.CanRead;

        public async Task<bool> InitializeAsync(CancellationToken token = default)
        {
            if (await inner.InitializeAsync(token).ConfigureAwait(false))
            {
                return true;
            }

            Dispose(); // the server just drops it
            return false;
        }

        public async Task<DnsReceivedRawPackage?> ReceiveAsync(CancellationToken token = default)
        {
            var package = await inner.ReceiveAsync(token).ConfigureAwait(false);
            if (package is not null)
            {
                Interlocked.Increment(ref _unanswered);
                return package;
            }

            Volatile.Write(ref _readEnded, 1);
            DisposeIfDone();
            _ = GiveUpAsync();
            return null;
        }

        public async Task<bool> SendAsync(DnsRawPackage package, CancellationToken token = default)
        {
            try
            {
                return await inner.SendAsync(package, token).ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref _unanswered);
                DisposeIfDone();
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                inner.Dispose();
                Interlocked.Decrement(ref owner._active);
            }
        }

        private void DisposeIfDone()
        {
            if (Volatile.Read(ref _readEnded) == 1 && Volatile.Read(ref _unanswered) <= 0)
            {
                Dispose();
            }
        }

        private async Task GiveUpAsync()
        {
            await Task.Delay(TimeSpan.FromMilliseconds(ServiceDnsServer.TcpTimeoutMs), owner.TimeProvider).ConfigureAwait(false);
            Dispose();
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
