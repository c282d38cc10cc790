using MultiVip.TestSupport.Network;

namespace MultiVip.Bench;

/// <summary>
/// The namespaces of the kernel benches (`bench/run --kernel` and `--kernel-dsr`), every address in
/// 198.18.0.0/15:
/// <code>
///   client 198.18.0.2 ── 198.18.0.1 node 198.18.1.1 ── 198.18.1.11 backend
///          198.18.2.2 ─────────────────────────────── 198.18.2.11   (DSR replies only)
/// </code>
/// VIPs are in 198.19.0.0/24, routed by the client to the node; the backend sends replies from a VIP
/// by the direct link and answers ARP only for its own addresses, as docs/kernel-plane.md asks of a
/// DSR VM. Receive packet steering puts what the node receives on <see cref="NodeCpu"/> and what the client
/// and the backend receive on <see cref="Measurements.LoadCpu"/>. Dispose stops the processes in
/// <see cref="Processes"/> (last started first), then deletes the namespaces — and with them the
/// veths, addresses and nft tables — even when a step failed; Ctrl+C does the same.
/// </summary>
internal sealed class KernelTopology : IAsyncDisposable
{
    public const string ClientAddress = "198.18.0.2";
    public const string BackendAddress = "198.18.1.11";
    public const string VipNetwork = "198.19.0.0/24";

    /// <summary>The node's CPU: what the node receives is processed there, and the benches pin the node's proxies to it.</summary>
    public const string NodeCpu = "1";

    private readonly NetworkNamespaces _namespaces;
    private readonly List<string> _names = [];
    private readonly IDisposable _onInterrupt;

    private KernelTopology(NetworkNamespaces namespaces)
    {
        _namespaces = namespaces;
        // Ctrl+C: the processes are stopped first (ManagedProcess), then the namespaces deleted.
        _onInterrupt = ManagedProcess.OnInterrupt(() =>
        {
            foreach (var name in _names)
            {
                using var del = System.Diagnostics.Process.Start("ip", ["netns", "del", name]);
                del.WaitForExit(5000);
            }
        });
    }

    public NetworkNamespace Client { get; private set; } = null!;

    public NetworkNamespace Node { get; private set; } = null!;

    public NetworkNamespace Backend { get; private set; } = null!;

    /// <summary>What the bench starts in the namespaces; stopped on dispose.</summary>
    public List<ManagedProcess> Processes { get; } = [];

    /// <summary>
    /// Builds the namespaces <c>{rolePrefix}-client</c>, <c>-node</c> and <c>-be</c>.
    /// <paramref name="clientReachesBackend"/>: the client also routes 198.18.1.0/24 through the node
    /// (to talk to the backend's own address, KernelBench's "direct").
    /// </summary>
    public static async Task<KernelTopology> BuildAsync(string rolePrefix, bool clientReachesBackend)
    {
        // No clean-up of other runs' leftovers: the bench stops only what it started.
        var topology = new KernelTopology(await NetworkNamespaces.CreateAsync(cleanLeftovers: false));
        try
        {
            await topology.WireAsync(rolePrefix, clientReachesBackend);
            return topology;
        }
        catch
        {
            await topology.DisposeAsync();
            throw;
        }
    }

    private async Task WireAsync(string rolePrefix, bool clientReachesBackend)
    {
        Client = await AddAsync(rolePrefix + "-client");
        Node = await AddAsync(rolePrefix + "-node");
        Backend = await AddAsync(rolePrefix + "-be");
        await _namespaces.LinkAsync(Client, "eth0", Node, "eth0");
        await _namespaces.LinkAsync(Node, "eth1", Backend, "eth0");
        await _namespaces.LinkAsync(Backend, "eth1", Client, "eth1");
        await Client.AddAddressAsync("eth0", ClientAddress + "/24");
        await Client.AddAddressAsync("eth1", "198.18.2.2/24");
        if (clientReachesBackend)
        {
            await Client.IpAsync("route", "add", "198.18.1.0/24", "via", "198.18.0.1");
        }

        await Client.IpAsync("route", "add", VipNetwork, "via", "198.18.0.1");
        await Node.AddAddressAsync("eth0", "198.18.0.1/24");
        await Node.AddAddressAsync("eth1", "198.18.1.1/24");
        Node.SetSysctl("net/ipv4/ip_forward", "1");
        await Backend.AddAddressAsync("eth0", BackendAddress + "/24");
        await Backend.AddAddressAsync("eth1", "198.18.2.11/24");
        await Backend.IpAsync("route", "add", "default", "via", "198.18.1.1");
        // DSR, as docs/kernel-plane.md asks of a VM: replies sourced from a VIP leave by the direct link.
        await Backend.IpAsync("rule", "add", "from", VipNetwork, "lookup", "113");
        await Backend.IpAsync("route", "add", "default", "via", "198.18.2.2", "dev", "eth1", "table", "113");
        Backend.SetSysctl("net/ipv4/conf/all/arp_ignore", "1");
        Backend.SetSysctl("net/ipv4/conf/all/arp_announce", "2");
        foreach (var ns in new[] { Client, Node, Backend })
        {
            foreach (var conf in new[] { "all", "default", "eth0", "eth1" })
            {
                ns.SetSysctl($"net/ipv4/conf/{conf}/rp_filter", "0");
            }

            // wrk with `Connection: close` opens thousands of connections a second: reuse
            // TIME_WAIT ports (the root namespace does that only on loopback).
            ns.SetSysctl("net/ipv4/tcp_tw_reuse", "1");
            ns.SetSysctl("net/ipv4/ip_local_port_range", "1024 65535");
        }

        // Receive packet steering: what the node receives is processed on the node's CPU, what
        // the client and the backend receive on theirs.
        await KernelBench.SteerAsync(Node, "eth0", NodeCpu);
        await KernelBench.SteerAsync(Node, "eth1", NodeCpu);
        foreach (var (ns, device) in new[] { (Client, "eth0"), (Client, "eth1"), (Backend, "eth0"), (Backend, "eth1") })
        {
            await KernelBench.SteerAsync(ns, device, Measurements.LoadCpu);
        }
    }

    private async Task<NetworkNamespace> AddAsync(string role)
    {
        var ns = await _namespaces.AddAsync(role);
        _names.Add(ns.Name);
        return ns;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in Enumerable.Reverse(Processes))
        {
            process.Dispose();
        }

        await _namespaces.DisposeAsync();
        _onInterrupt.Dispose();
    }
}

/// <summary>Figures of a bench by metric and by what was measured (a target, a method), each printed as it comes.</summary>
internal sealed class BenchResults(int nameWidth)
{
    private readonly Dictionary<(string Metric, string Name), List<double>> _values = [];

    public void Record(Metric metric, string name, double value)
    {
        if (!_values.TryGetValue((metric.Key, name), out var list))
        {
            _values[(metric.Key, name)] = list = [];
        }

        list.Add(value);
        Console.WriteLine($"  {metric.Key,-8} {name.PadRight(nameWidth)} {value,12:F3} {metric.Unit}");
    }

    /// <summary>NaN where nothing was recorded (every round lost).</summary>
    public double Median(Metric metric, string name) =>
        _values.TryGetValue((metric.Key, name), out var values) ? ScaleBench.Percentile(values, 50) : double.NaN;
}
