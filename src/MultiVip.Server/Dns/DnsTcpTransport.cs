using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net.Dns;
using MultiVip.DataPlane.Sockets;

namespace MultiVip.Server.Dns;

/// <summary>
/// DNS over TCP (RFC 1035 section 4.2.2, RFC 7766) for ARSoft.Tools.Net's <see cref="DnsServer"/>,
/// replacing the library's TcpServerTransport, which has no connection cap, closes the connection on
/// a message it cannot parse without an answer, writes pipelined answers without a lock, and never
/// closes a connection its client has left (the socket waits for the garbage collector). Each message
/// is screened as over UDP (<see cref="DnsWire.Screen"/>).
/// </summary>
internal sealed partial class DnsTcpTransport : IServerTransport
{
    /// <summary>How long a connection may sit idle between messages, and how long one message may take to arrive or leave.</summary>
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(5);

    private readonly IPEndPoint _endPoint;
    private readonly ILogger _logger;
    private readonly Socket _listener;
    private readonly bool _inherited;

    /// <summary>One slot per open connection: when all are taken, accepting waits and new clients queue in the kernel's backlog (NSD's tcp-count).</summary>
    private readonly SemaphoreSlim _slots;

    /// <summary>The data plane's accept back-off: one rule for every accept loop of the process.</summary>
    private AcceptBackoff _backoff;

    /// <param name="inherited">The previous server's listening socket for this address, taken over instead of binding one.</param>
    public DnsTcpTransport(IPEndPoint endPoint, int maxConnections, ILogger logger, Socket? inherited = null)
    {
        _endPoint = endPoint;
        _logger = logger;
        _slots = new SemaphoreSlim(maxConnections, maxConnections);
        _inherited = inherited is not null;
        _listener = inherited ?? new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (!_inherited && endPoint.Address.Equals(IPAddress.IPv6Any))
        {
            _listener.DualMode = true;
        }
    }

    public ushort DefaultAllowedResponseSize => ushort.MaxValue;

    public bool SupportsMultipleResponses => false;

    public bool AllowTruncatedResponses => false;

    public TransportProtocol TransportProtocol => TransportProtocol.Tcp;

    /// <summary>The listening socket, for a successor process to take over.</summary>
    public Socket Socket => _listener;

    public void Bind()
    {
        if (!_inherited)
        {
            _listener.Bind(_endPoint);
            _listener.Listen(64);
        }
    }

    public void Close() => MultiVip.DataPlane.Contract.HandedOverSockets.Close(_listener);

    public void Dispose() => MultiVip.DataPlane.Contract.HandedOverSockets.Close(_listener);

    public async Task<IServerConnection?> AcceptConnectionAsync(CancellationToken token = default)
    {
        try
        {
            await _slots.WaitAsync(token);
        }
        catch (OperationCanceledException)
        {
            return null;
        }

        Socket? socket = null;
        try
        {
            socket = await _listener.AcceptAsync(token);
            _backoff.Reset();
            socket.NoDelay = true;
            return new Connection(this, socket);
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
            _slots.Release();
            return null;
        }
        catch (SocketException e) when (socket is not null)
        {
            // Reset between accept and here (no remote end point to read): only this client is gone.
            socket.Dispose();
            _slots.Release();
            Log.AcceptFailed(_logger, e.SocketErrorCode);
            return null;
        }
        catch (SocketException e)
        {
            _slots.Release();
            Log.AcceptFailed(_logger, e.SocketErrorCode);
            if (AcceptBackoff.IsPerConnection(e))
            {
                return null;
            }

            // Out of descriptors or buffers (EMFILE, ENFILE, ENOBUFS): retrying at once would spin, so pause first.
            try
            {
                await Task.Delay(_backoff.Next(), token);
            }
            catch (OperationCanceledException)
            {
            }

            return null;
        }
    }

    /// <summary>
    /// One client connection: messages are read here one after the other, answered by the library
    /// concurrently (pipelining, RFC 7766 section 6.2.1.1) and written back one at a time. It closes
    /// when the client leaves or idles, once every answer in flight is written.
    /// </summary>
    private sealed class Connection : IServerConnection
    {
        private readonly DnsTcpTransport _transport;
        private readonly Socket _socket;
        private readonly SemaphoreSlim _writeLock = new(1, 1);
        private int _inFlight;
        private int _ended;
        private int _disposed;

        public Connection(DnsTcpTransport transport, Socket socket)
        {
            _transport = transport;
            _socket = socket;
            RemoteEndPoint = (IPEndPoint)socket.RemoteEndPoint!;
            LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        }

        public IServerTransport Transport => _transport;

        public IPEndPoint RemoteEndPoint { get; }

        public IPEndPoint LocalEndPoint { get; }

        public bool CanRead => Volatile.Read(ref _ended) == 0;

        public Task<bool> InitializeAsync(CancellationToken token = default) => Task.FromResult(true);

        public async Task<DnsReceivedRawPackage?> ReceiveAsync(CancellationToken token = default)
        {
            try
            {
                while (true)
                {
                    var prefix = new byte[DnsRawPackage.LENGTH_HEADER_LENGTH];
                    if (!await ReadAsync(prefix, token))
                    {
                        break;
                    }

                    var length = BinaryPrimitives.ReadUInt16BigEndian(prefix);
                    var package = new byte[DnsRawPackage.LENGTH_HEADER_LENGTH + length];
                    prefix.CopyTo(package, 0);
                    if (!await ReadAsync(package.AsMemory(DnsRawPackage.LENGTH_HEADER_LENGTH), token))
                    {
                        break;
                    }

                    var message = package.AsSpan(DnsRawPackage.LENGTH_HEADER_LENGTH);
                    var screening = DnsWire.Screen(message);
                    if (screening.Verdict == DnsVerdict.Drop)
                    {
                        // Not a query at all: nothing on this connection can be trusted to be DNS.
                        DnsScreeningLog.Dropped(_transport._logger, RemoteEndPoint, screening.Reason);
                        break;
                    }

                    if (screening.Verdict == DnsVerdict.Reply)
                    {
                        DnsScreeningLog.Refused(_transport._logger, RemoteEndPoint, screening.Reason);
                        if (!await WriteAsync(screening.Reply!, token))
                        {
                            break;
                        }

                        continue;
                    }

                    Interlocked.Increment(ref _inFlight);
                    return new DnsReceivedRawPackage(package, RemoteEndPoint, LocalEndPoint);
                }
            }
            catch (Exception)
            {
                // The client went away mid-message, or the server is stopping: end the connection like a clean close.
            }

            End();
            return null;
        }

        public async Task<bool> SendAsync(DnsRawPackage package, CancellationToken token = default)
        {
            try
            {
                return await WriteAsync(package.ToArraySegment(false), token);
            }
            finally
            {
                if (Interlocked.Decrement(ref _inFlight) == 0 && Volatile.Read(ref _ended) != 0)
                {
                    Dispose();
                }
            }
        }

        /// <summary>Reads exactly <paramref name="buffer"/>.Length bytes within the idle timeout; false on a close or timeout.</summary>
        private async Task<bool> ReadAsync(Memory<byte> buffer, CancellationToken token)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
            timeout.CancelAfter(IdleTimeout);
            var read = 0;
            while (read < buffer.Length)
            {
                var n = await _socket.ReceiveAsync(buffer[read..], SocketFlags.None, timeout.Token);
                if (n == 0)
                {
                    return false;
                }

                read += n;
            }

            return true;
        }

        /// <summary>One message, its two-byte length first; answers to pipelined queries never interleave.</summary>
        private async Task<bool> WriteAsync(ReadOnlyMemory<byte> message, CancellationToken token)
        {
            var framed = new byte[DnsRawPackage.LENGTH_HEADER_LENGTH + message.Length];
            BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)message.Length);
            message.CopyTo(framed.AsMemory(DnsRawPackage.LENGTH_HEADER_LENGTH));
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
            timeout.CancelAfter(IdleTimeout);
            try
            {
                await _writeLock.WaitAsync(timeout.Token);
                try
                {
                    var sent = 0;
                    while (sent < framed.Length)
                    {
                        sent += await _socket.SendAsync(framed.AsMemory(sent), SocketFlags.None, timeout.Token);
                    }

                    return true;
                }
                finally
                {
                    _writeLock.Release();
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                return false;
            }
        }

        /// <summary>No more messages will be read: close now, or when the last answer in flight is written.</summary>
        private void End()
        {
            Volatile.Write(ref _ended, 1);
            if (Volatile.Read(ref _inFlight) == 0)
            {
                Dispose();
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }

            Volatile.Write(ref _ended, 1);
            _socket.Dispose();
            _transport._slots.Release();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3013, EventName = "DnsTcpAcceptFailed", Level = LogLevel.Debug, Message = "DNS TCP accept failed ({Error})")]
        public static partial void AcceptFailed(ILogger logger, SocketError error);
    }
}
