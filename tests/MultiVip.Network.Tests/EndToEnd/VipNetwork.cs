using System.Net;
using MultiVip.Client;
using MultiVip.TestSupport.Network;

namespace MultiVip.Network.Tests.EndToEnd;

/// <summary>
/// The topology of the issue: a client namespace and a MultiVip namespace on one Ethernet segment
/// (a veth pair, 198.18.0.0/24 and 2001:db8:1::/64), backends in a third namespace behind MultiVip
/// (192.0.2.0/24, 2001:db8:2::/64). `multivip serve --vip-interface eth0` runs in the MultiVip
/// namespace as a real process; VIPs come from pools on the client's segment, so the client finds
/// them by ARP and NDP like a machine on the same LAN. The test's API calls reach the server
/// through a relay on 127.68.x.y; traffic under test never leaves the namespaces.
/// </summary>
internal sealed class VipNetwork : IAsyncDisposable
{
    public const string Ipv4Pool = "198.18.0.100-198.18.0.139";
    public const string Ipv6Pool = "2001:db8:1::100-2001:db8:1::13f";
    public const int Metric = 19798;
    public static readonly IPAddress Vm1 = IPAddress.Parse("192.0.2.11");
    public static readonly IPAddress Vm2 = IPAddress.Parse("192.0.2.12");
    public static readonly IPAddress Vm1V6 = IPAddress.Parse("2001:db8:2::11");

    private readonly NetworkNamespaces _namespaces;
    private readonly List<IAsyncDisposable> _owned = [];
    private NamespaceRelay? _relay;

    private VipNetwork(NetworkNamespaces namespaces, NetworkNamespace client, NetworkNamespace lb, NetworkNamespace backends, string dataDir)
    {
        _namespaces = namespaces;
        ClientNs = client;
        Lb = lb;
        Backends = backends;
        DataDir = dataDir;
    }

    public NetworkNamespace ClientNs { get; }

    public NetworkNamespace Lb { get; }

    public NetworkNamespace Backends { get; }

    public string DataDir { get; }

    public NamespaceProcess? Server { get; private set; }

    public static async Task<VipNetwork> CreateAsync()
    {
        var namespaces = await NetworkNamespaces.CreateAsync();
        try
        {
            var client = await namespaces.AddAsync("client");
            var lb = await namespaces.AddAsync("lb");
            var backends = await namespaces.AddAsync("be");
            await namespaces.LinkAsync(client, "eth0", lb, "eth0");
            await namespaces.LinkAsync(lb, "eth1", backends, "eth0");
            await client.AddAddressAsync("eth0", "198.18.0.2/24");
            await client.AddAddressAsync("eth0", "2001:db8:1::2/64", "nodad");
            await lb.AddAddressAsync("eth0", "198.18.0.1/24");
            await lb.AddAddressAsync("eth0", "2001:db8:1::1/64", "nodad");
            await lb.AddAddressAsync("eth1", "192.0.2.1/24");
            await lb.AddAddressAsync("eth1", "2001:db8:2::1/64", "nodad");
            await backends.AddAddressAsync("eth0", "192.0.2.11/24");
            await backends.AddAddressAsync("eth0", "192.0.2.12/24");
            await backends.AddAddressAsync("eth0", "2001:db8:2::11/64", "nodad");
            await backends.IpAsync("route", "add", "default", "via", "192.0.2.1");
            await backends.IpAsync("-6", "route", "add", "default", "via", "2001:db8:2::1");
            var dataDir = Path.Combine(Path.GetTempPath(), "multivip-netns", Guid.NewGuid().ToString("N"));
            return new VipNetwork(namespaces, client, lb, backends, dataDir);
        }
        catch
        {
            await namespaces.DisposeAsync();
            throw;
        }
    }

    /// <summary>A backend in the backends namespace (greets with <paramref name="name"/>).</summary>
    public NamespaceEchoBackend Backend(IPAddress address, int port, string name)
    {
        var backend = NamespaceEchoBackend.Start(Backends, new IPEndPoint(address, port), name);
        _owned.Add(backend);
        return backend;
    }

    /// <summary>Starts `multivip serve` in the MultiVip namespace and waits until its API answers.</summary>
    public async Task<NamespaceProcess> StartServerAsync(params string[] extra)
    {
        Directory.CreateDirectory(DataDir);
        var endpointFile = Path.Combine(DataDir, "endpoint");
        File.Delete(endpointFile);
        var cli = Path.Combine(AppContext.BaseDirectory, "multivip.dll");

        // The test's client reaches the API through a relay on this address: the server must accept
        // it in the Host header (its DNS-rebinding check answers other names with 421).
        var relayAddress = IPAddress.Parse($"127.68.{Random.Shared.Next(1, 250)}.{Random.Shared.Next(1, 250)}");
        Server = Lb.Start("dotnet", [
            cli, "serve", "--data-dir", DataDir, "--api", "http://127.0.0.1:0", "--dns", "off", "--allowed-host", relayAddress.ToString(),
            "--vip-pool", Ipv4Pool, "--vip-pool", Ipv6Pool, "--vip-interface", "eth0", "--drain-timeout", "20", .. extra,
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

        _relay = NamespaceRelay.Start(Lb, new IPEndPoint(IPAddress.Loopback, api.Port), relayAddress);
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

    /// <summary>The addresses MultiVip's interface has (global ones), as the kernel reports them.</summary>
    public Task<IReadOnlyList<InterfaceAddress>> LbAddressesAsync() => Lb.AddressesAsync("eth0");

    public async Task<bool> LbHoldsAsync(string address) =>
        (await LbAddressesAsync()).Any(a => a.Address.Equals(IPAddress.Parse(address)));

    /// <summary>Waits until MultiVip's interface has (or no longer has) the address.</summary>
    public async Task WaitHeldAsync(string address, bool held)
    {
        await Eventually.TrueAsync(
            async () => await LbHoldsAsync(address) == held,
            TimeSpan.FromSeconds(20),
            () => $"{address} {(held ? "never appeared on" : "was never removed from")} the MultiVip interface. Server output:\n{Server?.Output}");
    }

    /// <summary>The client connects to VIP:port from its namespace and returns the backend's greeting.</summary>
    public Task<string> HelloAsync(string vip, int port) =>
        NamespaceEchoBackend.HelloAsync(ClientNs, new IPEndPoint(IPAddress.Parse(vip), port));

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
