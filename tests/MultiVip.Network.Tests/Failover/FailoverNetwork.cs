using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MultiVip.Client;
using MultiVip.Contracts;
using MultiVip.TestSupport.Network;

namespace MultiVip.Network.Tests.Failover;

/// <summary>
/// Two MultiVip nodes on one L2 segment (a bridge in its own namespace): node 1 at 198.18.0.1 and
/// node 2 at 198.18.0.2 (and 192.0.2.1/.2 towards the backends, on the same segment), the backends
/// at 192.0.2.11 and .12 in their own namespace, a client at 198.18.0.9. With <c>router</c>, a
/// router namespace at 198.18.0.254 runs BIRD with ECMP (`merge paths`) and a second client sits
/// behind it at 198.51.100.2, so VIPs from 198.18.1.0/24 are reached only by the routes the nodes
/// announce. Each node is a real `multivip serve` with its own data dir; the test gives both the same
/// configuration through their APIs (until the cluster store shares it). Namespaces are
/// mvnet-PID-RANDOM-fo-*; API relays listen on 127.112.x.y.
/// </summary>
internal sealed class FailoverNetwork : IAsyncDisposable
{
    public const string VrrpPool = "198.18.0.100-198.18.0.139";
    public const string BgpPool = "198.18.1.100-198.18.1.139";
    public static readonly IPAddress Vm1 = IPAddress.Parse("192.0.2.11");
    public static readonly IPAddress Vm2 = IPAddress.Parse("192.0.2.12");

    private readonly NetworkNamespaces _namespaces;
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly string _root;

    private FailoverNetwork(NetworkNamespaces namespaces, string root, int relayOctet)
    {
        _namespaces = namespaces;
        _root = root;
        RelayOctet = relayOctet;
    }

    /// <summary>The second octet of the API relays' loopback addresses (127.N.x.y): one per test class, so parallel runs never collide.</summary>
    internal int RelayOctet { get; }

    public NetworkNamespace Switch { get; private set; } = null!;

    public NetworkNamespace ClientNs { get; private set; } = null!;

    public NetworkNamespace Backends { get; private set; } = null!;

    public NetworkNamespace? Router { get; private set; }

    /// <summary>The client behind the router (BGP topology).</summary>
    public NetworkNamespace? RoutedClient { get; private set; }

    public Node[] Nodes { get; private set; } = [];

    public NamespaceProcess? RouterBird { get; private set; }

    /// <param name="prefix">The namespaces' role prefix (mvnet-PID-RANDOM-PREFIX-*).</param>
    /// <param name="nodes">2, or 3 (node 3 at 198.18.0.3 and 192.0.2.3; no BGP route set up for it).</param>
    public static async Task<FailoverNetwork> CreateAsync(bool router = false, string prefix = "fo", int relayOctet = 112, int nodes = 2)
    {
        var namespaces = await NetworkNamespaces.CreateAsync();
        var root = Path.Combine(Path.GetTempPath(), "multivip-failover", Guid.NewGuid().ToString("N"));
        var net = new FailoverNetwork(namespaces, root, relayOctet);
        try
        {
            net.Switch = await namespaces.AddAsync(prefix + "-sw");
            var n1 = await namespaces.AddAsync(prefix + "-n1");
            var n2 = await namespaces.AddAsync(prefix + "-n2");
            net.ClientNs = await namespaces.AddAsync(prefix + "-cl");
            net.Backends = await namespaces.AddAsync(prefix + "-be");
            var n3 = nodes > 2 ? await namespaces.AddAsync(prefix + "-n3") : null;
            var members = new List<(NetworkNamespace, string)> { (n1, "eth0"), (n2, "eth0"), (net.ClientNs, "eth0"), (net.Backends, "eth0") };
            if (n3 is not null)
            {
                members.Add((n3, "eth0"));
            }

            if (router)
            {
                net.Router = await namespaces.AddAsync(prefix + "-rt");
                members.Add((net.Router, "eth0"));
            }

            await namespaces.BridgeAsync(net.Switch, "br0", [.. members]);
            await n1.AddAddressAsync("eth0", "198.18.0.1/24");
            await n1.AddAddressAsync("eth0", "192.0.2.1/24");
            await n2.AddAddressAsync("eth0", "198.18.0.2/24");
            await n2.AddAddressAsync("eth0", "192.0.2.2/24");
            await net.ClientNs.AddAddressAsync("eth0", "198.18.0.9/24");
            await net.Backends.AddAddressAsync("eth0", "192.0.2.11/24");
            await net.Backends.AddAddressAsync("eth0", "192.0.2.12/24");
            if (n3 is not null)
            {
                await n3.AddAddressAsync("eth0", "198.18.0.3/24");
                await n3.AddAddressAsync("eth0", "192.0.2.3/24");
            }

            foreach (var ns in n3 is null ? new[] { n1, n2 } : [n1, n2, n3])
            {
                // The sysctls docs/network.md asks for: answer ARP only on the interface asked.
                ns.SetSysctl("net/ipv4/conf/all/arp_ignore", "1");
                ns.SetSysctl("net/ipv4/conf/all/arp_announce", "2");
            }

            if (router)
            {
                net.RoutedClient = await namespaces.AddAsync(prefix + "-rc");
                await namespaces.LinkAsync(net.Router!, "eth1", net.RoutedClient, "eth0");
                await net.Router!.AddAddressAsync("eth0", "198.18.0.254/24");
                await net.Router.AddAddressAsync("eth1", "198.51.100.1/24");
                await net.RoutedClient.AddAddressAsync("eth0", "198.51.100.2/24");
                await net.RoutedClient.IpAsync("route", "add", "default", "via", "198.51.100.1");
                net.Router.SetSysctl("net/ipv4/ip_forward", "1");

                // L4 hash: flows of one client from different ports spread over the nodes.
                net.Router.SetSysctl("net/ipv4/fib_multipath_hash_policy", "1");
                foreach (var ns in new[] { n1, n2 })
                {
                    await ns.IpAsync("route", "add", "198.51.100.0/24", "via", "198.18.0.254");
                }
            }

            net.Nodes = [new Node(net, n1, 1, IPAddress.Parse("198.18.0.1")), new Node(net, n2, 2, IPAddress.Parse("198.18.0.2"))];
            if (n3 is not null)
            {
                net.Nodes = [.. net.Nodes, new Node(net, n3, 3, IPAddress.Parse("198.18.0.3"))];
            }

            return net;
        }
        catch
        {
            await net.DisposeAsync();
            throw;
        }
    }

    public NamespaceEchoBackend Backend(IPAddress address, int port, string name)
    {
        var backend = NamespaceEchoBackend.Start(Backends, new IPEndPoint(address, port), name);
        _owned.Add(backend);
        return backend;
    }

    /// <summary>Stops a backend before the end of the test (its probe starts failing).</summary>
    public async Task StopBackendAsync(NamespaceEchoBackend backend)
    {
        if (_owned.Remove(backend))
        {
            await backend.DisposeAsync();
        }
    }

    /// <summary>BIRD in the router namespace: eBGP (AS 65000) with both nodes (AS 65001), ECMP into the kernel.</summary>
    public async Task StartRouterAsync(int holdTime, bool bfd)
    {
        var directory = Path.Combine(_root, "router");
        Directory.CreateDirectory(directory);
        var config = new StringBuilder();
        config.AppendLine("router id 198.18.0.254;");
        config.AppendLine("log stderr all;");
        config.AppendLine("protocol device {}");
        config.AppendLine("protocol kernel { ipv4 { import none; export all; }; merge paths on; }");
        if (bfd)
        {
            config.AppendLine("protocol bfd { interface \"*\" { interval 100 ms; multiplier 3; }; }");
        }

        foreach (var node in Nodes)
        {
            config.AppendLine($$"""
                protocol bgp node{{node.Index}} {
                    local 198.18.0.254 as 65000;
                    neighbor {{node.Address}} as 65001;
                    hold time {{holdTime}};
                    keepalive time {{Math.Max(1, holdTime / 3)}};
                    connect retry time 1;
                    error wait time 1, 5;
                    {{(bfd ? "bfd on;" : "")}}
                    ipv4 { import all; export none; };
                }
                """);
        }

        var path = Path.Combine(directory, "bird.conf");
        await File.WriteAllTextAsync(path, config.ToString());
        RouterBird = Router!.Start("bird", ["-f", "-c", path, "-s", Path.Combine(directory, "bird.ctl"), "-P", Path.Combine(directory, "bird.pid")]);
    }

    /// <summary>The router's next hops for <paramref name="prefix"/> (its kernel table), as "via" addresses.</summary>
    public async Task<IReadOnlyList<string>> RouterNextHopsAsync(string prefix)
    {
        var routes = await Router!.IpJsonAsync("route", "show", prefix);
        var hops = new List<string>();
        foreach (var route in routes.EnumerateArray())
        {
            if (route.TryGetProperty("gateway", out var gateway))
            {
                hops.Add(gateway.GetString()!);
            }

            if (route.TryGetProperty("nexthops", out var nexthops))
            {
                hops.AddRange(nexthops.EnumerateArray().Select(n => n.GetProperty("gateway").GetString()!));
            }
        }

        return hops;
    }

    /// <summary>
    /// What a client sees while a VIP moves: it opens new connections to VIP:port one after another
    /// (each connect bounded by 250 ms, so the figures are that fine) from the moment <paramref name="since"/> was started, until
    /// <paramref name="moved"/> says the address is where it should end up and a connection succeeded
    /// after that, or <paramref name="within"/> passes. Outage: the longest time without a successful
    /// new connection (from the start, between successes); Failed: attempts that did not connect.
    /// </summary>
    public static async Task<Outage> MeasureOutageAsync(NetworkNamespace ns, IPEndPoint vip, TimeSpan within, Stopwatch since, Func<Task<bool>> moved)
    {
        var lastSuccess = TimeSpan.Zero;
        var longest = TimeSpan.Zero;
        var attempts = 0;
        var failed = 0;
        var lastFailure = TimeSpan.Zero;
        while (since.Elapsed < within)
        {
            attempts++;
            try
            {
                using var socket = await ns.ConnectAsync(vip, TimeSpan.FromMilliseconds(250));
                await using var stream = new NetworkStream(socket, ownsSocket: false);
                using var reader = new StreamReader(stream, Encoding.ASCII);
                using var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
                if (await reader.ReadLineAsync(timeout.Token) is not null)
                {
                    // The time is taken before asking where the address is (that costs a process).
                    var now = since.Elapsed;
                    longest = longest > now - lastSuccess ? longest : now - lastSuccess;
                    lastSuccess = now;
                    if (await moved())
                    {
                        return new Outage(true, longest, lastFailure, attempts, failed);
                    }

                    await Task.Delay(20);
                    continue;
                }
            }
            catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
            {
            }

            failed++;
            lastFailure = since.Elapsed;
            await Task.Delay(20);
        }

        return new Outage(false, since.Elapsed - lastSuccess > longest ? since.Elapsed - lastSuccess : longest, lastFailure, attempts, failed);
    }

    /// <param name="Longest">The longest time without a successful new connection (VRRP: the whole outage).</param>
    /// <param name="LastFailure">When the last attempt failed (ECMP: flows hashed to the lost node fail until its route goes).</param>
    internal sealed record Outage(bool Recovered, TimeSpan Longest, TimeSpan LastFailure, int Attempts, int Failed)
    {
        public override string ToString() => $"longest time without a new connection {Longest.TotalMilliseconds:0} ms, last failed attempt at {LastFailure.TotalMilliseconds:0} ms ({Attempts} attempts, {Failed} failed)";
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            node.DisposeRelay();
        }

        foreach (var owned in _owned)
        {
            await owned.DisposeAsync();
        }

        await _namespaces.DisposeAsync();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    /// <summary>One MultiVip node: its namespace, data dir, `multivip serve` process and API client.</summary>
    internal sealed class Node
    {
        private readonly FailoverNetwork _net;
        private NamespaceRelay? _relay;

        public Node(FailoverNetwork net, NetworkNamespace ns, int index, IPAddress address)
        {
            _net = net;
            Ns = ns;
            Index = index;
            Address = address;
            DataDir = Path.Combine(net._root, $"node{index}");
        }

        public NetworkNamespace Ns { get; }

        public int Index { get; }

        public IPAddress Address { get; }

        public string DataDir { get; }

        /// <summary>Client ports of the connections this node's listener on port 80 carries (`ss` in its namespace).</summary>
        public async Task<HashSet<int>> ClientPortsOnPort80Async()
        {
            var ss = await Ns.ExecAsync("ss", "-Htn", "state", "established", "( sport = :80 )");
            var ports = new HashSet<int>();
            foreach (var line in ss.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var peer = line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1];
                if (int.TryParse(peer[(peer.LastIndexOf(':') + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port))
                {
                    ports.Add(port);
                }
            }

            return ports;
        }

        public NamespaceProcess? Server { get; private set; }

        public string Output => Server?.Output ?? "";

        /// <summary>Starts `multivip serve` in the node's namespace and waits until its API answers.</summary>
        public async Task StartAsync(params string[] extra)
        {
            Directory.CreateDirectory(DataDir);
            var endpointFile = Path.Combine(DataDir, "endpoint");
            File.Delete(endpointFile);
            var cli = Path.Combine(AppContext.BaseDirectory, "multivip.dll");
            var relayAddress = IPAddress.Parse($"127.{_net.RelayOctet}.{Random.Shared.Next(1, 250)}.{Random.Shared.Next(1, 250)}");
            var server = Ns.Start("dotnet", [
                cli, "serve", "--data-dir", DataDir, "--api", "http://127.0.0.1:0", "--dns", "off", "--allowed-host", relayAddress.ToString(),
                "--drain-timeout", "5", .. extra,
            ]);
            Server = server;
            await Eventually.TrueAsync(
                () => server.HasExited
                    ? throw new InvalidOperationException($"node {Index}: multivip serve exited with {server.ExitCode}:\n{server.Output}")
                    : Task.FromResult(File.Exists(endpointFile)),
                TimeSpan.FromSeconds(90),
                () => $"node {Index}: multivip serve did not start:\n" + server.Output);
            var api = new Uri((await File.ReadAllTextAsync(endpointFile)).Trim());
            DisposeRelay();
            _relay = NamespaceRelay.Start(Ns, new IPEndPoint(IPAddress.Loopback, api.Port), relayAddress);
        }

        public MultiVipClient Client()
        {
            var token = File.ReadAllText(Path.Combine(DataDir, "token")).Trim();
            var relay = _relay ?? throw new InvalidOperationException("start the node first");
            return new MultiVipClient(
                new ClientConnection(new Uri($"http://{relay.LocalEndPoint}"), token),
                new MultiVipClientOptions { OperationTimeout = TimeSpan.FromSeconds(30) });
        }

        public async Task<bool> HoldsOnEthAsync(string address) =>
            (await Ns.AddressesAsync("eth0")).Any(a => a.Address.Equals(IPAddress.Parse(address)));

        /// <summary>keepalived's and BIRD's processes in this node's namespace (by `ip netns pids`).</summary>
        public async Task<IReadOnlyList<(int Pid, string Command)>> DaemonsAsync()
        {
            var pids = await Command.TryRunAsync("ip", ["netns", "pids", Ns.Name]);
            var result = new List<(int, string)>();
            foreach (var line in pids.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (int.TryParse(line, out var pid))
                {
                    try
                    {
                        var comm = (await File.ReadAllTextAsync($"/proc/{pid}/comm")).Trim();
                        if (comm is "keepalived" or "bird")
                        {
                            result.Add((pid, comm));
                        }
                    }
                    catch (IOException)
                    {
                    }
                }
            }

            return result;
        }

        internal void DisposeRelay()
        {
            if (_relay is not null)
            {
                _relay.DisposeAsync().AsTask().GetAwaiter().GetResult();
                _relay = null;
            }
        }
    }

    /// <summary>The same service on every node: VM1 and VM2, a load-balanced set on port 80 (TCP probe), an endpoint on VM1 at port 81.</summary>
    public static async Task ConfigureAsync(MultiVipClient client)
    {
        await client.CreateServiceAsync(new CreateServiceRequest { Name = "svc" });
        await client.AddVmAsync("svc", new AddVmRequest { Name = "vm1", Address = Vm1.ToString() });
        await client.AddVmAsync("svc", new AddVmRequest { Name = "vm2", Address = Vm2.ToString() });
        foreach (var vm in new[] { "vm1", "vm2" })
        {
            await client.AddEndpointAsync("svc", vm, new EndpointRequest
            {
                Name = "web", Protocol = "tcp", LocalPort = 8080, PublicPort = 80, LoadBalancedSetName = "set",
                Probe = new ProbeRequest { Protocol = "tcp", Port = 8080, IntervalInSeconds = 5 },
            });
        }
    }
}
