using System.Net;
using System.Net.Sockets;
using System.Text;
using MultiVip.Client;
using MultiVip.Contracts;
using MultiVip.TestSupport.Network;

namespace MultiVip.Bench;

/// <summary>
/// The failover benchmark's network: the topology of tests/MultiVip.Network.Tests/Failover
/// (FailoverNetwork), kept lean and separate so the benchmark does not follow every change of the
/// test fixture. Two nodes on one bridge (198.18.0.1 and .2, and 192.0.2.1/.2 towards the
/// backends), backends at 192.0.2.11 and .12, a client at 198.18.0.9; with a router, BIRD with ECMP
/// at 198.18.0.254 and a client behind it at 198.51.100.2. Namespaces mvnet-PID-RANDOM-ha-*
/// (removed on dispose, and by the next run if this one was killed), API relays on 127.121.x.y.
/// </summary>
internal sealed class FailoverLab : IAsyncDisposable
{
    public const string VrrpPool = "198.18.0.100-198.18.0.139";
    public const string BgpPool = "198.18.1.100-198.18.1.139";
    public static readonly IPAddress Vm1 = IPAddress.Parse("192.0.2.11");
    public static readonly IPAddress Vm2 = IPAddress.Parse("192.0.2.12");

    private readonly NetworkNamespaces _namespaces;
    private readonly List<NamespaceEchoBackend> _backends = [];
    private readonly string _root;

    private FailoverLab(NetworkNamespaces namespaces, string root, string repo)
    {
        _namespaces = namespaces;
        _root = root;
        Repo = repo;
    }

    public string Repo { get; }

    public NetworkNamespace ClientNs { get; private set; } = null!;

    public NetworkNamespace Backends { get; private set; } = null!;

    public NetworkNamespace? Router { get; private set; }

    public NetworkNamespace? RoutedClient { get; private set; }

    public NamespaceProcess? RouterBird { get; private set; }

    public LabNode[] Nodes { get; private set; } = [];

    public static async Task<FailoverLab> CreateAsync(string repo, bool router)
    {
        var namespaces = await NetworkNamespaces.CreateAsync();
        var root = Path.Combine(repo, "artifacts", "bench", "failover", Guid.NewGuid().ToString("N")[..8]);
        var lab = new FailoverLab(namespaces, root, repo);
        try
        {
            var sw = await namespaces.AddAsync("ha-sw");
            var n1 = await namespaces.AddAsync("ha-n1");
            var n2 = await namespaces.AddAsync("ha-n2");
            lab.ClientNs = await namespaces.AddAsync("ha-cl");
            lab.Backends = await namespaces.AddAsync("ha-be");
            var members = new List<(NetworkNamespace, string)> { (n1, "eth0"), (n2, "eth0"), (lab.ClientNs, "eth0"), (lab.Backends, "eth0") };
            if (router)
            {
                lab.Router = await namespaces.AddAsync("ha-rt");
                members.Add((lab.Router, "eth0"));
            }

            await namespaces.BridgeAsync(sw, "br0", [.. members]);
            await n1.AddAddressAsync("eth0", "198.18.0.1/24");
            await n1.AddAddressAsync("eth0", "192.0.2.1/24");
            await n2.AddAddressAsync("eth0", "198.18.0.2/24");
            await n2.AddAddressAsync("eth0", "192.0.2.2/24");
            await lab.ClientNs.AddAddressAsync("eth0", "198.18.0.9/24");
            await lab.Backends.AddAddressAsync("eth0", "192.0.2.11/24");
            await lab.Backends.AddAddressAsync("eth0", "192.0.2.12/24");
            foreach (var ns in new[] { n1, n2 })
            {
                // docs/high-availability.md: answer ARP only on the interface asked, never source a VIP.
                ns.SetSysctl("net/ipv4/conf/all/arp_ignore", "1");
                ns.SetSysctl("net/ipv4/conf/all/arp_announce", "2");
            }

            if (router)
            {
                lab.RoutedClient = await namespaces.AddAsync("ha-rc");
                await namespaces.LinkAsync(lab.Router!, "eth1", lab.RoutedClient, "eth0");
                await lab.Router!.AddAddressAsync("eth0", "198.18.0.254/24");
                await lab.Router.AddAddressAsync("eth1", "198.51.100.1/24");
                await lab.RoutedClient.AddAddressAsync("eth0", "198.51.100.2/24");
                await lab.RoutedClient.IpAsync("route", "add", "default", "via", "198.51.100.1");
                lab.Router.SetSysctl("net/ipv4/ip_forward", "1");
                lab.Router.SetSysctl("net/ipv4/fib_multipath_hash_policy", "1");
            }

            var relayNet = Random.Shared.Next(1, 250);
            lab.Nodes =
            [
                new LabNode(lab, n1, 1, IPAddress.Parse("198.18.0.1"), IPAddress.Parse($"127.121.{relayNet}.1"), router),
                new LabNode(lab, n2, 2, IPAddress.Parse("198.18.0.2"), IPAddress.Parse($"127.121.{relayNet}.2"), router),
            ];
            foreach (var node in lab.Nodes)
            {
                await node.RestoreLinkAsync();
            }

            lab._backends.Add(NamespaceEchoBackend.Start(lab.Backends, new IPEndPoint(Vm1, 8080), "vm1"));
            lab._backends.Add(NamespaceEchoBackend.Start(lab.Backends, new IPEndPoint(Vm2, 8080), "vm2"));
            return lab;
        }
        catch
        {
            await lab.DisposeAsync();
            throw;
        }
    }

    /// <summary>BIRD in the router: eBGP with both nodes, ECMP into the kernel (as FailoverNetwork).</summary>
    public async Task StartRouterAsync(int holdTime, bool bfd)
    {
        var directory = Path.Combine(_root, "router");
        Directory.CreateDirectory(directory);
        var config = new StringBuilder();
        config.AppendLine("router id 198.18.0.254;");
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

    /// <summary>The same service on every node: VM1 and VM2 in a load-balanced set on port 80 (TCP probe, 5 s).</summary>
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

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            await node.DisposeRelayAsync();
        }

        foreach (var backend in _backends)
        {
            await backend.DisposeAsync();
        }

        // Stops every process started in the namespaces (the nodes, the router's BIRD), then deletes them.
        await _namespaces.DisposeAsync();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    /// <summary>One node: its namespace, data dir, `multivip serve` and API client through a relay.</summary>
    internal sealed class LabNode(FailoverLab lab, NetworkNamespace ns, int index, IPAddress address, IPAddress relayAddress, bool routed)
    {
        private NamespaceRelay? _relay;

        public NetworkNamespace Ns => ns;

        public int Index => index;

        public IPAddress Address => address;

        public string DataDir => Path.Combine(lab._root, $"node{index}");

        public NamespaceProcess? Server { get; private set; }

        public string Output => Server?.Output ?? "";

        public async Task StartAsync(string[] extra)
        {
            Directory.CreateDirectory(DataDir);
            var endpointFile = Path.Combine(DataDir, "endpoint");
            File.Delete(endpointFile);
            var server = ns.Start("dotnet", [
                Path.Combine(lab.Repo, "artifacts", "multivip", "multivip.dll"), "serve", "--data-dir", DataDir, "--api", "http://127.0.0.1:0",
                "--dns", "off", "--allowed-host", relayAddress.ToString(), "--drain-timeout", "5", .. extra,
            ]);
            Server = server;
            await Eventually.TrueAsync(
                () => server.HasExited
                    ? throw new InvalidOperationException($"node {index}: multivip serve exited with {server.ExitCode}:\n{server.Output}")
                    : Task.FromResult(File.Exists(endpointFile)),
                TimeSpan.FromSeconds(90),
                () => $"node {index}: multivip serve did not start:\n" + server.Output);
            var api = new Uri((await File.ReadAllTextAsync(endpointFile)).Trim());
            await DisposeRelayAsync();
            _relay = NamespaceRelay.Start(ns, new IPEndPoint(IPAddress.Loopback, api.Port), relayAddress);
        }

        public MultiVipClient Client()
        {
            var token = File.ReadAllText(Path.Combine(DataDir, "token")).Trim();
            var relay = _relay ?? throw new InvalidOperationException("start the node first");
            return new MultiVipClient(
                new ClientConnection(new Uri($"http://{relay.LocalEndPoint}"), token),
                new MultiVipClientOptions { OperationTimeout = TimeSpan.FromSeconds(30) });
        }

        /// <summary>This node's own view of <paramref name="vip"/>: MASTER/BACKUP (VRRP), announced/withdrawn (BGP).</summary>
        public async Task<string?> StateAsync(string vip)
        {
            try
            {
                using var client = Client();
                return (await client.GetDeploymentAsync("svc")).Value.Network.SingleOrDefault(n => n.Address == vip)?.State;
            }
            catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException or MultiVipApiException or MultiVipConnectionException)
            {
                return null;
            }
        }

        public async Task<bool> HoldsOnEthAsync(string vip) =>
            (await ns.AddressesAsync("eth0")).Any(a => a.Address.Equals(IPAddress.Parse(vip)));

        /// <summary>keepalived and BIRD processes left in this namespace (the watchdog stops them after kill -9).</summary>
        public async Task<int> DaemonCountAsync()
        {
            var pids = await Command.TryRunAsync("ip", ["netns", "pids", ns.Name]);
            var count = 0;
            foreach (var line in pids.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                try
                {
                    if ((await File.ReadAllTextAsync($"/proc/{line}/comm")).Trim() is "keepalived" or "bird")
                    {
                        count++;
                    }
                }
                catch (IOException)
                {
                }
            }

            return count;
        }

        /// <summary>The uplink up, and (routed) the route back to the routed client, which a link down removes.</summary>
        public async Task RestoreLinkAsync()
        {
            await ns.SetUpAsync("eth0");
            if (routed)
            {
                await ns.IpAsync("route", "replace", "198.51.100.0/24", "via", "198.18.0.254");
            }
        }

        public async ValueTask DisposeRelayAsync()
        {
            if (_relay is not null)
            {
                await _relay.DisposeAsync();
                _relay = null;
            }
        }
    }
}

/// <summary>
/// What the client sees after a failure at time 0: it opens new connections to VIP:port one after
/// another (connect bounded by 250 ms, then the backend's greeting), while <paramref name="moved"/>
/// is polled on its own every 50 ms. Stops once the failover is complete (moved, and 10 new
/// connections in a row succeeded after it) or at <paramref name="within"/>.
/// </summary>
internal static class ClientView
{
    internal sealed record Observed(bool Recovered, double? FirstSuccessMs, double LongestGapMs, double? LastFailureMs, double? MovedMs, int Attempts, int Failed);

    public static async Task<Observed> WatchAsync(NetworkNamespace ns, IPEndPoint vip, System.Diagnostics.Stopwatch since, TimeSpan within, Func<Task<bool>> moved, CancellationToken cancel)
    {
        double? movedAt = null;
        using var stopPolling = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var poll = Task.Run(async () =>
        {
            while (!stopPolling.IsCancellationRequested && since.Elapsed < within)
            {
                if (await moved())
                {
                    movedAt = since.Elapsed.TotalMilliseconds;
                    return;
                }

                try
                {
                    await Task.Delay(50, stopPolling.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }, CancellationToken.None);

        double? firstSuccess = null, lastFailure = null;
        double lastSuccess = 0, longest = 0;
        int attempts = 0, failed = 0, inARow = 0;
        var recovered = false;
        while (since.Elapsed < within && !cancel.IsCancellationRequested)
        {
            attempts++;
            if (await TryHelloAsync(ns, vip))
            {
                var now = since.Elapsed.TotalMilliseconds;
                firstSuccess ??= now;
                longest = Math.Max(longest, now - lastSuccess);
                lastSuccess = now;
                if (movedAt is { } m && now > m && ++inARow >= 10)
                {
                    recovered = true;
                    break;
                }
            }
            else
            {
                failed++;
                inARow = 0;
                lastFailure = since.Elapsed.TotalMilliseconds;
            }

            await Task.Delay(10, CancellationToken.None);
        }

        await stopPolling.CancelAsync();
        await poll;
        if (!recovered)
        {
            longest = Math.Max(longest, since.Elapsed.TotalMilliseconds - lastSuccess);
        }

        return new Observed(recovered, firstSuccess, longest, lastFailure, movedAt, attempts, failed);
    }

    private static async Task<bool> TryHelloAsync(NetworkNamespace ns, IPEndPoint vip)
    {
        try
        {
            using var socket = await ns.ConnectAsync(vip, TimeSpan.FromMilliseconds(250));
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            using var reader = new StreamReader(stream, Encoding.ASCII);
            using var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
            return await reader.ReadLineAsync(timeout.Token) is not null;
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
            return false;
        }
    }
}
