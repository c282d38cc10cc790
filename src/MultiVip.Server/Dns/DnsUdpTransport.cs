using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net.Dns;

namespace MultiVip.Server.Dns;

/// <summary>
/// DNS over UDP for ARSoft.Tools.Net's <see cref="DnsServer"/>, replacing the library's
/// UdpServerTransport, which reads only 512 bytes of a datagram, answers nothing it cannot parse,
/// and truncates to our advertised EDNS size instead of the client's. Every datagram is screened
/// (<see cref="DnsWire.Screen"/>): dropped, answered here, or handed to the library as one
/// connection, whose reply is cut to the client's size (<see cref="DnsScreening.UdpLimit"/>).
/// </summary>
internal sealed partial class DnsUdpTransport : IServerTransport
{
    private readonly IPEndPoint _endPoint;
    private readonly ILogger _logger;
    private readonly Socket _socket;
    private readonly bool _inherited;

    /// <summary>The largest datagram IPv4 or IPv6 carries: a query is never cut short here.</summary>
    private readonly byte[] _buffer = new byte[65_535];

    /// <param name="inherited">The previous server's bound socket for this address, taken over instead of binding one.</param>
    public DnsUdpTransport(IPEndPoint endPoint, ILogger logger, Socket? inherited = null)
    {
        _endPoint = endPoint;
        _logger = logger;
        _inherited = inherited is not null;
        _socket = inherited ?? new Socket(endPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        if (!_inherited && endPoint.Address.Equals(IPAddress.IPv6Any))
        {
            // [::] serves IPv4 clients too, as the library's own transport does.
            _socket.DualMode = true;
        }
    }

    /// <summary>The library never truncates: <see cref="Connection.SendAsync"/> does, to each client's own limit.</summary>
    public ushort DefaultAllowedResponseSize => ushort.MaxValue;

    public bool SupportsMultipleResponses => false;

    public bool AllowTruncatedResponses => true;

    public TransportProtocol TransportProtocol => TransportProtocol.Udp;

    /// <summary>Where the socket is bound (the real port when <c>:0</c> was asked for).</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    /// <summary>The socket, for a successor process to take over.</summary>
    public Socket Socket => _socket;

    public void Bind()
    {
        if (!_inherited)
        {
            _socket.Bind(_endPoint);
        }
    }

    public void Close() => MultiVip.DataPlane.Contract.HandedOverSockets.Close(_socket);

    public void Dispose() => MultiVip.DataPlane.Contract.HandedOverSockets.Close(_socket);

    /// <summary>
    /// Called in a loop by the library, one call at a time (so one receive buffer is enough). Returns
    /// only datagrams the library is to answer; null once the socket is closed or the server stops.
    /// </summary>
    public async Task<IServerConnection?> AcceptConnectionAsync(CancellationToken token = default)
    {
        var any = new IPEndPoint(_endPoint.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0);
        while (!token.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await _socket.ReceiveFromAsync(_buffer, SocketFlags.None, any, token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return null;
            }
            catch (SocketException e)
            {
                // A transient error (an ICMP error for an earlier reply, no buffer space): the socket
                // still works. A short pause keeps a persistent error from spinning the loop.
                Log.ReceiveFailed(_logger, e.SocketErrorCode);
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(50), token);
                }
                catch (OperationCanceledException)
                {
                    return null;
                }

                continue;
            }

            var remote = (IPEndPoint)received.RemoteEndPoint;
            var datagram = _buffer.AsSpan(0, received.ReceivedBytes);
            var screening = DnsWire.Screen(datagram);
            switch (screening.Verdict)
            {
                case DnsVerdict.Drop:
                    DnsScreeningLog.Dropped(_logger, remote, screening.Reason);
                    continue;
                case DnsVerdict.Reply:
                    DnsScreeningLog.Refused(_logger, remote, screening.Reason);
                    await SendAsync(screening.Reply!, remote, token);
                    continue;
                default:
                    var package = new byte[DnsRawPackage.LENGTH_HEADER_LENGTH + datagram.Length];
                    package[0] = (byte)(datagram.Length >> 8);
                    package[1] = (byte)datagram.Length;
                    datagram.CopyTo(package.AsSpan(DnsRawPackage.LENGTH_HEADER_LENGTH));
                    return new Connection(this, new DnsReceivedRawPackage(package, remote, _endPoint), screening);
            }
        }

        return null;
    }

    private async Task<bool> SendAsync(ReadOnlyMemory<byte> datagram, IPEndPoint remote, CancellationToken token)
    {
        try
        {
            return await _socket.SendToAsync(datagram, SocketFlags.None, remote, token) == datagram.Length;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // UDP is best effort: the client asks again.
            return false;
        }
    }

    /// <summary>One datagram and its one reply.</summary>
    private sealed class Connection(DnsUdpTransport transport, DnsReceivedRawPackage query, DnsScreening screening) : IServerConnection
    {
        public IServerTransport Transport => transport;

        public IPEndPoint RemoteEndPoint => query.RemoteEndpoint;

        public IPEndPoint LocalEndPoint => query.LocalEndpoint;

        public bool CanRead { get; private set; } = true;

        public Task<bool> InitializeAsync(CancellationToken token = default) => Task.FromResult(true);

        public Task<DnsReceivedRawPackage?> ReceiveAsync(CancellationToken token = default)
        {
            CanRead = false;
            return Task.FromResult<DnsReceivedRawPackage?>(query);
        }

        public Task<bool> SendAsync(DnsRawPackage package, CancellationToken token = default)
        {
            ReadOnlyMemory<byte> reply = package.ToArraySegment(false);
            if (reply.Length > screening.UdpLimit)
            {
                reply = DnsWire.Truncated(query.ToArraySegment(false), screening, reply.Span);
            }

            return transport.SendAsync(reply, query.RemoteEndpoint, token);
        }

        public void Dispose()
        {
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3012, EventName = "DnsUdpReceiveFailed", Level = LogLevel.Debug, Message = "DNS UDP receive failed ({Error}); retrying")]
        public static partial void ReceiveFailed(ILogger logger, SocketError error);
    }
}
