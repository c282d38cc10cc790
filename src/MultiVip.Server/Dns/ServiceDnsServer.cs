using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using MultiVip.Control.State;
using MultiVip.DataPlane.Contract;

namespace MultiVip.Server.Dns;

/// <summary>
/// The embedded authoritative DNS server for the services' names (UDP and TCP on one address and
/// port), built on ARSoft.Tools.Net: the library parses queries and encodes answers; our transports
/// (<see cref="DnsUdpTransport"/>, <see cref="DnsTcpTransport"/>) screen each packet first
/// (<see cref="DnsWire"/>) so malformed, non-QUERY and EDNS-version-1 packets get the replies NSD
/// and Knot give.
/// </summary>
internal sealed partial class ServiceDnsServer : IDisposable
{
    /// <summary>
    /// Bounds what misbehaving TCP clients can hold open (each is also cut after 5 s idle,
    /// <see cref="DnsTcpTransport"/>): DNS over TCP carries only retries of truncated answers here.
    /// The descriptor budget holds this many for DNS.
    /// </summary>
    internal const int MaxTcpConnections = 64;

    private readonly DnsServer _server;
    private readonly DnsAnswerer _answerer;
    private readonly Func<WorldState> _world;
    private readonly ILogger _logger;

    private readonly IServerTransport[] _transports;

    private ServiceDnsServer(IServerTransport[] transports, DnsAnswerer answerer, Func<WorldState> world, ILogger logger, IPEndPoint endPoint)
    {
        _transports = transports;
        _server = new DnsServer(transports);
        _answerer = answerer;
        _world = world;
        _logger = logger;
        EndPoint = endPoint;
    }

    public IPEndPoint EndPoint { get; }

    public DomainName Zone => _answerer.Zone;

    /// <summary>The UDP and TCP sockets, for a successor process to take over.</summary>
    public IReadOnlyList<ListeningSocket> ListeningSockets() =>
    [
        .. _transports.OfType<DnsUdpTransport>().Select(t => new ListeningSocket(ListeningSocketKind.DnsUdp, EndPoint, t.Socket)),
        .. _transports.OfType<DnsTcpTransport>().Select(t => new ListeningSocket(ListeningSocketKind.DnsTcp, EndPoint, t.Socket)),
    ];

    /// <summary>
    /// Binds UDP and TCP on <paramref name="endPoint"/> (port 0: one free port for both) and starts answering.
    /// A port in use fails here, with a message naming the option to change.
    /// </summary>
    public static ServiceDnsServer Start(IPEndPoint endPoint, DomainName zone, Func<WorldState> world, ILogger logger) =>
        Start(endPoint, zone, world, logger, InheritedSockets.None);

    /// <param name="inherited">Sockets of the server this one takes over from: its DNS sockets on this address are adopted, not bound.</param>
    public static ServiceDnsServer Start(IPEndPoint endPoint, DomainName zone, Func<WorldState> world, ILogger logger, InheritedSockets inherited)
    {
        if (inherited.Take(ListeningSocketKind.DnsUdp, endPoint) is { } udp)
        {
            var at = new IPEndPoint(endPoint.Address, ((IPEndPoint)udp.LocalEndPoint!).Port);
            var tcp = inherited.Take(ListeningSocketKind.DnsTcp, at);
            var adopted = new ServiceDnsServer(
                [new DnsUdpTransport(at, logger, udp), new DnsTcpTransport(at, MaxTcpConnections, logger, tcp)],
                new DnsAnswerer(zone, endPoint.Address),
                world,
                logger,
                at);
            adopted._server.QueryReceived += adopted.OnQueryReceivedAsync;
            adopted._server.ExceptionThrown += adopted.OnExceptionAsync;
            adopted._server.Start();
            Log.DnsStarted(logger, at, zone);
            return adopted;
        }

        // Port 0 means "any": UDP and TCP must share the port, so pick one free for UDP and retry if TCP has it.
        var attempts = endPoint.Port == 0 ? 20 : 1;
        for (var attempt = 1; ; attempt++)
        {
            var bindTo = endPoint.Port == 0 ? new IPEndPoint(endPoint.Address, FreeUdpPort(endPoint.Address)) : endPoint;
            var dns = new ServiceDnsServer([new DnsUdpTransport(bindTo, logger), new DnsTcpTransport(bindTo, MaxTcpConnections, logger)], new DnsAnswerer(zone, endPoint.Address), world, logger, bindTo);
            var server = dns._server;
            server.QueryReceived += dns.OnQueryReceivedAsync;
            server.ExceptionThrown += dns.OnExceptionAsync;
            try
            {
                server.Start();
                Log.DnsStarted(logger, bindTo, zone);
                return dns;
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                TryStop(server);
                if (attempt < attempts)
                {
                    continue;
                }

                throw new InvalidOperationException(
                    $"Cannot serve DNS on {bindTo} (UDP and TCP): the address is already in use. Choose another address with --dns <ip:port> (ServerOptions.Dns), or turn the DNS server off with --dns off.",
                    ex);
            }
            catch (SocketException ex)
            {
                TryStop(server);
                throw new InvalidOperationException(
                    $"Cannot serve DNS on {bindTo}: {ex.SocketErrorCode} ({ex.Message}). Choose another address with --dns <ip:port> (ServerOptions.Dns), or turn the DNS server off with --dns off.",
                    ex);
            }
        }
    }

    public void Dispose() => TryStop(_server);

    private static void TryStop(DnsServer server)
    {
        try
        {
            server.Stop();
        }
        catch (Exception)
        {
            // Half-started (one transport bound): stopping is best effort, the sockets close with the process.
        }
    }

    private static int FreeUdpPort(IPAddress address)
    {
        using var probe = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        probe.Bind(new IPEndPoint(address, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    private Task OnQueryReceivedAsync(object sender, QueryReceivedEventArgs e)
    {
        // The transports hand over standard queries only (DnsWire.Screen), so this is always a DnsMessage.
        if (e.Query is DnsMessage query)
        {
            // ControlPlane.Current on every query: the answer follows each committed change at once.
            var response = _answerer.Answer(query, _world(), e.TransportProtocol == TransportProtocol.Udp);
            e.Response = response;
            Log.DnsQuery(_logger, e.RemoteEndpoint, query.Questions.Count > 0 ? query.Questions[0] : null, response.ReturnCode);
        }

        return Task.CompletedTask;
    }

    private Task OnExceptionAsync(object sender, ExceptionEventArgs e)
    {
        Log.DnsError(_logger, e.Exception);
        return Task.CompletedTask;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3001, EventName = "DnsStarted", Level = LogLevel.Information, Message = "Answering DNS for zone {Zone} on {EndPoint} (UDP and TCP)")]
        public static partial void DnsStarted(ILogger logger, IPEndPoint endPoint, DomainName zone);

        [LoggerMessage(EventId = 3002, EventName = "DnsQuery", Level = LogLevel.Debug, Message = "DNS query from {Remote}: {Question} -> {ReturnCode}")]
        public static partial void DnsQuery(ILogger logger, IPEndPoint remote, DnsQuestion? question, ReturnCode returnCode);

        [LoggerMessage(EventId = 3003, EventName = "DnsError", Level = LogLevel.Warning, Message = "DNS server error")]
        public static partial void DnsError(ILogger logger, Exception exception);
    }
}
