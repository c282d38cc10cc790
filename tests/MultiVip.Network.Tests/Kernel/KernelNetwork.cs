using System.Net;
using System.Net.Sockets;
using System.Text;
using MultiVip.Client;
using MultiVip.TestSupport.Network;

namespace MultiVip.Network.Tests.Kernel;

/// <summary>
/// Client, node and backends in their own namespaces (names mvnet-…-nf-*): the client on
/// 198.18.0.0/24 routes the VIP range 198.51.100.0/24 to the node (198.18.0.1); the node runs
/// `multivip serve --data-plane nftables` and reaches the backends on 192.0.2.0/24; the backends also
/// have a direct link to the client (198.18.1.0/24), which only replies sourced from a VIP use (DSR:
/// the VM answers the client itself). Every nft rule lives in the node namespace.
/// </summary>
internal sealed class KernelNetwork : IAsyncDisposable
{
    public const string Pool = "198.51.100.10-198.51.100.40";
    public static readonly IPAddress ClientAddress = IPAddress.Parse("198.18.0.2");
    public static readonly IPAddress NodeBackendSide = IPAddress.Parse("192.0.2.1");
    public static readonly IPAddress Vm1 = IPAddress.Parse("192.0.2.11");
    public static readonly IPAddress Vm2 = IPAddress.Parse("192.0.2.12");

    private readonly NetworkNamespaces _namespaces;
    private readonly List<IAsyncDisposable> _owned = [];
    private NamespaceRelay? _relay;

    private KernelNetwork(NetworkNamespaces namespaces, NetworkNamespace client, NetworkNamespace node, NetworkNamespace backends, string dataDir)
    {
        _namespaces = namespaces;
        ClientNs = client;
        Node = node;
        Backends = backends;
        DataDir = dataDir;
    }

    public NetworkNamespace ClientNs { get; }

    public NetworkNamespace Node { get; }

    public NetworkNamespace Backends { get; }

    public string DataDir { get; }

    public NamespaceProcess? Server { get; private set; }

    public static async Task<KernelNetwork> CreateAsync()
    {
        var namespaces = await NetworkNamespaces.CreateAsync();
        try
        {
            var client = await namespaces.AddAsync("nf-client");
            var node = await namespaces.AddAsync("nf-node");
            var backends = await namespaces.AddAsync("nf-be");
            await namespaces.LinkAsync(client, "eth0", node, "eth0");
            await namespaces.LinkAsync(node, "eth1", backends, "eth0");
            await namespaces.LinkAsync(backends, "eth1", client, "eth1");
            await client.AddAddressAsync("eth0", "198.18.0.2/24");
            await client.AddAddressAsync("eth1", "198.18.1.2/24");
            await client.IpAsync("route", "add", "198.51.100.0/24", "via", "198.18.0.1");
            await node.AddAddressAsync("eth0", "198.18.0.1/24");
            await node.AddAddressAsync("eth1", "192.0.2.1/24");
            node.SetSysctl("net/ipv4/ip_forward", "1");
            await backends.AddAddressAsync("eth0", "192.0.2.11/24");
            await backends.AddAddressAsync("eth0", "192.0.2.12/24");
            await backends.AddAddressAsync("eth1", "198.18.1.11/24");
            await backends.IpAsync("route", "add", "default", "via", "192.0.2.1");

            // DSR, what docs/kernel-plane.md asks of a VM: replies sourced from a VIP leave by the direct link.
            await backends.IpAsync("rule", "add", "from", "198.51.100.0/24", "lookup", "113");
            await backends.IpAsync("route", "add", "default", "via", "198.18.1.2", "dev", "eth1", "table", "113");
            backends.SetSysctl("net/ipv4/conf/all/arp_ignore", "1");
            backends.SetSysctl("net/ipv4/conf/all/arp_announce", "2");
            foreach (var ns in new[] { client, backends })
            {
                ns.SetSysctl("net/ipv4/conf/all/rp_filter", "0");
                ns.SetSysctl("net/ipv4/conf/default/rp_filter", "0");
                ns.SetSysctl("net/ipv4/conf/eth0/rp_filter", "0");
                ns.SetSysctl("net/ipv4/conf/eth1/rp_filter", "0");
            }

            var dataDir = Path.Combine(Path.GetTempPath(), "multivip-nf", Guid.NewGuid().ToString("N"));
            return new KernelNetwork(namespaces, client, node, backends, dataDir);
        }
        catch
        {
            await namespaces.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// A second VM in a namespace of its own (nf-be2), behind the node's eth2 (192.0.3.0/24), with its
    /// own direct link to the client (198.18.2.0/24) for DSR replies: what the AlwaysOn scenario needs
    /// (each replica a machine of its own, both holding the listeners' VIPs on lo).
    /// </summary>
    public async Task<NetworkNamespace> AddSecondVmAsync()
    {
        var vm = await _namespaces.AddAsync("nf-be2");
        await _namespaces.LinkAsync(Node, "eth2", vm, "eth0");
        await _namespaces.LinkAsync(vm, "eth1", ClientNs, "eth2");
        await Node.AddAddressAsync("eth2", "192.0.3.1/24");
        await vm.AddAddressAsync("eth0", "192.0.3.21/24");
        await vm.AddAddressAsync("eth1", "198.18.2.21/24");
        await ClientNs.AddAddressAsync("eth2", "198.18.2.2/24");
        ClientNs.SetSysctl("net/ipv4/conf/eth2/rp_filter", "0");
        await vm.IpAsync("route", "add", "default", "via", "192.0.3.1");
        await vm.IpAsync("rule", "add", "from", "198.51.100.0/24", "lookup", "113");
        await vm.IpAsync("route", "add", "default", "via", "198.18.2.2", "dev", "eth1", "table", "113");
        vm.SetSysctl("net/ipv4/conf/all/arp_ignore", "1");
        vm.SetSysctl("net/ipv4/conf/all/arp_announce", "2");
        vm.SetSysctl("net/ipv4/conf/all/rp_filter", "0");
        vm.SetSysctl("net/ipv4/conf/default/rp_filter", "0");
        vm.SetSysctl("net/ipv4/conf/eth0/rp_filter", "0");
        vm.SetSysctl("net/ipv4/conf/eth1/rp_filter", "0");
        return vm;
    }

    /// <summary>A TCP backend in <paramref name="ns"/> (answers like <see cref="Tcp"/>).</summary>
    public WhoAmIBackend TcpIn(NetworkNamespace ns, IPAddress address, int port, string name)
    {
        var backend = WhoAmIBackend.Start(ns, new IPEndPoint(address, port), name, SocketType.Stream);
        _owned.Add(backend);
        return backend;
    }

    /// <summary>A TCP backend answering each connection with "NAME LOCAL REMOTE" (what it sees), then echoing.</summary>
    public WhoAmIBackend Tcp(IPAddress address, int port, string name)
    {
        var backend = WhoAmIBackend.Start(Backends, new IPEndPoint(address, port), name, SocketType.Stream);
        _owned.Add(backend);
        return backend;
    }

    /// <summary>A UDP backend answering each datagram with "NAME LOCAL REMOTE".</summary>
    public WhoAmIBackend Udp(IPAddress address, int port, string name)
    {
        var backend = WhoAmIBackend.Start(Backends, new IPEndPoint(address, port), name, SocketType.Dgram);
        _owned.Add(backend);
        return backend;
    }

    public async Task<NamespaceProcess> StartServerAsync(params string[] extra)
    {
        Directory.CreateDirectory(DataDir);
        var endpointFile = Path.Combine(DataDir, "endpoint");
        File.Delete(endpointFile);
        var cli = Path.Combine(AppContext.BaseDirectory, "multivip.dll");
        var relayAddress = IPAddress.Parse($"127.113.{Random.Shared.Next(1, 250)}.{Random.Shared.Next(1, 250)}");
        Server = Node.Start("dotnet", [
            cli, "serve", "--data-dir", DataDir, "--api", "http://127.0.0.1:0", "--dns", "off", "--allowed-host", relayAddress.ToString(),
            "--vip-pool", Pool, "--data-plane", "nftables", "--drain-timeout", "5", .. extra,
        ]);
        var server = Server;
        await Eventually.TrueAsync(
            () => server.HasExited
                ? throw new InvalidOperationException($"multivip serve exited with {server.ExitCode}:\n{server.Output}")
                : Task.FromResult(File.Exists(endpointFile)),
            TimeSpan.FromSeconds(60),
            () => "multivip serve did not start:\n" + server.Output);
        var api = new Uri((await File.ReadAllTextAsync(endpointFile)).Trim());
        if (_relay is not null)
        {
            await _relay.DisposeAsync();
        }

        _relay = NamespaceRelay.Start(Node, new IPEndPoint(IPAddress.Loopback, api.Port), relayAddress);
        return server;
    }

    public MultiVipClient Client()
    {
        var token = File.ReadAllText(Path.Combine(DataDir, "token")).Trim();
        var relay = _relay ?? throw new InvalidOperationException("start the server first");
        return new MultiVipClient(
            new ClientConnection(new Uri($"http://{relay.LocalEndPoint}"), token),
            new MultiVipClientOptions { OperationTimeout = TimeSpan.FromSeconds(20) });
    }

    /// <summary>nft in the node namespace (never the root one).</summary>
    public async Task<string> NftAsync(params string[] arguments) =>
        (await Node.ExecAsync(["nft", .. arguments])).ThrowIfFailed();

    /// <summary>Connects from the client namespace and returns what the backend saw, and the client's own end.</summary>
    public async Task<(string Name, IPEndPoint Local, IPEndPoint Remote, IPEndPoint ClientEnd)> AskTcpAsync(IPEndPoint vip)
    {
        using var socket = await ClientNs.ConnectAsync(vip, TimeSpan.FromSeconds(5));
        var clientEnd = (IPEndPoint)socket.LocalEndPoint!;
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        using var reader = new StreamReader(stream, Encoding.ASCII);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var line = await reader.ReadLineAsync(timeout.Token) ?? throw new SocketException((int)SocketError.ConnectionReset);
        var (name, local, remote) = WhoAmIBackend.Parse(line);
        return (name, local, remote, clientEnd);
    }

    /// <summary>Sends one datagram from <paramref name="socket"/> (in the client namespace) and returns the answer and who sent it.</summary>
    public static async Task<(string Name, IPEndPoint Local, IPEndPoint Remote, IPEndPoint From)> AskUdpAsync(Socket socket, IPEndPoint vip)
    {
        await socket.SendToAsync("hello"u8.ToArray(), SocketFlags.None, vip);
        var buffer = new byte[512];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        var received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, WhoAmIBackend.AnyOf(socket.AddressFamily), timeout.Token);
        var (name, local, remote) = WhoAmIBackend.Parse(Encoding.ASCII.GetString(buffer, 0, received.ReceivedBytes));
        return (name, local, remote, (IPEndPoint)received.RemoteEndPoint);
    }

    public async ValueTask DisposeAsync()
    {
        if (_relay is not null)
        {
            await _relay.DisposeAsync();
        }

        foreach (var owned in _owned)
        {
            await owned.DisposeAsync();
        }

        await _namespaces.DisposeAsync();
        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}

/// <summary>A backend that tells each client what it sees: its name, its local end (the VIP under DSR) and the remote end.</summary>
internal sealed class WhoAmIBackend : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly string _name;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _disposed;

    private WhoAmIBackend(Socket socket, string name)
    {
        _socket = socket;
        _name = name;
        _loop = Task.Run(socket.SocketType == SocketType.Stream ? AcceptAsync : DatagramsAsync);
    }

    public static WhoAmIBackend Start(NetworkNamespace ns, IPEndPoint endPoint, string name, SocketType type)
    {
        var socket = ns.OpenSocket(endPoint.AddressFamily, type, type == SocketType.Stream ? ProtocolType.Tcp : ProtocolType.Udp);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(endPoint);
            if (type == SocketType.Stream)
            {
                socket.Listen(128);
            }
            else
            {
                socket.SetSocketOption(endPoint.AddressFamily == AddressFamily.InterNetworkV6 ? SocketOptionLevel.IPv6 : SocketOptionLevel.IP, SocketOptionName.PacketInformation, true);
            }
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new WhoAmIBackend(socket, name);
    }

    public static IPEndPoint AnyOf(AddressFamily family) => new(family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);

    public static (string Name, IPEndPoint Local, IPEndPoint Remote) Parse(string line)
    {
        var parts = line.Trim().Split(' ');
        return (parts[0], IPEndPoint.Parse(parts[1]), IPEndPoint.Parse(parts[2]));
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _socket.AcceptAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }

            _ = Task.Run(async () =>
            {
                using (client)
                {
                    try
                    {
                        await client.SendAsync(Encoding.ASCII.GetBytes($"{_name} {client.LocalEndPoint} {client.RemoteEndPoint}\n"), SocketFlags.None, _stop.Token);
                        var buffer = new byte[256];
                        while (await client.ReceiveAsync(buffer, SocketFlags.None, _stop.Token) > 0)
                        {
                        }
                    }
                    catch (Exception e) when (e is IOException or OperationCanceledException or SocketException)
                    {
                    }
                }
            });
        }
    }

    private async Task DatagramsAsync()
    {
        var buffer = new byte[512];
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                var received = await _socket.ReceiveMessageFromAsync(buffer, SocketFlags.None, AnyOf(_socket.AddressFamily), _stop.Token);
                var local = new IPEndPoint(received.PacketInformation.Address, ((IPEndPoint)_socket.LocalEndPoint!).Port);
                await _socket.SendToAsync(Encoding.ASCII.GetBytes($"{_name} {local} {received.RemoteEndPoint}"), SocketFlags.None, received.RemoteEndPoint, _stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return; // a test may stop a backend itself before the network goes
        }

        await _stop.CancelAsync();
        _socket.Dispose();
        await _loop;
        _stop.Dispose();
    }
}
