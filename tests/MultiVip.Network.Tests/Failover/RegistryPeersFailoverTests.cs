using System.Diagnostics;
using System.Globalization;
using System.Net;
using MultiVip.Contracts;
using MultiVip.TestSupport.Network;
using MultiVip.TestSupport.Postgres;
using Xunit.Abstractions;

namespace MultiVip.Network.Tests.Failover;

/// <summary>
/// Three `multivip serve --announce vrrp` nodes sharing ONE PostgreSQL (over its Unix socket, which
/// crosses network namespaces) and NO --vrrp-peer: each finds the others' announce addresses in
/// the node registry and keepalived adverts to them by unicast. Multicast VRRP is dropped in every
/// node namespace, so without the registry's peers every node would become MASTER. Each joining
/// node has a HIGHER priority than the holder: if a join made the holder's keepalived leave MASTER
/// for a moment (the multicast-to-unicast reload of the earlier design: priority 0, FAULT, BACKUP),
/// or the joiner's keepalived elected itself before the holder adverted to it, the VIP would move
/// to the joiner and stay there (nopreempt). Namespaces mvnet-PID-RANDOM-pe-*; API relays on
/// 127.120.x.y.
/// </summary>
public sealed class RegistryPeersFailoverTests(ITestOutputHelper output)
{
    /// <summary>keepalived's master-down interval (3 adverts of 1 s, plus the skew) and a margin: a joiner that hears nobody has elected itself by then.</summary>
    private static readonly TimeSpan AfterJoin = TimeSpan.FromSeconds(6);

    [Fact]
    public async Task Joins_and_leaves_never_move_the_vip_and_kill_9_of_the_holder_does()
    {
        await using var pg = await PostgresServer.StartAsync();
        var store = pg.SocketConnectionString(await pg.CreateDatabaseAsync());
        await using var net = await FailoverNetwork.CreateAsync(prefix: "pe", relayOctet: 120, nodes: 3);
        net.Backend(FailoverNetwork.Vm1, 8080, "vm1");
        net.Backend(FailoverNetwork.Vm2, 8080, "vm2");
        var (n1, n2, n3) = (net.Nodes[0], net.Nodes[1], net.Nodes[2]);
        foreach (var node in net.Nodes)
        {
            await DropMulticastVrrpAsync(node.Ns);
        }

        await n1.StartAsync(Arguments(store, n1, priority: 200));
        string vip;
        using (var client = n1.Client())
        {
            await FailoverNetwork.ConfigureAsync(client);
            vip = (await client.ListVirtualIpsAsync("svc")).Single(v => v.Name == "Vip1").Address!;
        }

        await Eventually.TrueAsync(() => n1.HoldsOnEthAsync(vip), TimeSpan.FromSeconds(30), () => $"node 1 never became VRRP master for {vip}:\n{n1.Output}");
        var alone = await File.ReadAllTextAsync(ConfigOf(n1));
        Assert.Contains("unicast_src_ip 198.18.0.1", alone, StringComparison.Ordinal); // unicast from the start, with the loopback placeholder
        foreach (var node in new[] { n2, n3 })
        {
            // One API token for all (one shared state): node 1's, copied before the others' first start.
            Directory.CreateDirectory(node.DataDir);
            File.Copy(Path.Combine(n1.DataDir, "token"), Path.Combine(node.DataDir, "token"));
        }

        using var c1 = n1.Client();
        await JoinAsync(net, n1, n2, vip, () => n2.StartAsync(Arguments(store, n2, priority: 240)));
        await JoinAsync(net, n1, n3, vip, () => n3.StartAsync(Arguments(store, n3, priority: 250)));

        // node list names the holder by --node-name, with its announce address.
        var nodes = await Eventually.MatchesAsync(
            () => c1.ListNodesAsync(),
            list => Holds(list, "pe-n1") == $"{vip} (MASTER)" && Holds(list, "pe-n2") == $"{vip} (BACKUP)" && Holds(list, "pe-n3") == $"{vip} (BACKUP)",
            TimeSpan.FromSeconds(30),
            list => $"node list does not show pe-n1 MASTER and the others BACKUP for {vip}: {Describe(list)}");
        Assert.Equal(["198.18.0.1", "198.18.0.2", "198.18.0.3"], nodes.OrderBy(n => n.Name, StringComparer.Ordinal).Select(n => n.AnnounceAddress));
        Assert.Equal("pe-n1", (await c1.GetNetworkOwnershipAsync()).Node);

        // Node 3 leaves (a clean stop of a backup) and comes back: still node 1's.
        n3.Server!.Terminate();
        await n3.Server.WaitForExitAsync(TimeSpan.FromSeconds(60));
        await AssertHolderStaysAsync(net, n1, vip, AfterJoin, "after node 3 left");
        await JoinAsync(net, n1, n3, vip, () => n3.StartAsync(Arguments(store, n3, priority: 250)));

        // kill -9 of the holder: its keepalived goes with it, another node takes over.
        var endPoint = new IPEndPoint(IPAddress.Parse(vip), 80);
        Assert.StartsWith("vm", await NamespaceEchoBackend.HelloAsync(net.ClientNs, endPoint), StringComparison.Ordinal);
        var clock = Stopwatch.StartNew();
        n1.Server!.Kill();
        var killed = await FailoverNetwork.MeasureOutageAsync(net.ClientNs, endPoint, TimeSpan.FromSeconds(30), clock, async () => await n2.HoldsOnEthAsync(vip) || await n3.HoldsOnEthAsync(vip));
        output.WriteLine($"VRRP with registry peers, kill -9 of the master (node 1): {killed}");
        Assert.True(killed.Recovered, $"no node took over within 30 s of kill -9 ({killed}).\nnode 2:\n{n2.Output}\nnode 3:\n{n3.Output}");
        Assert.StartsWith("vm", await NamespaceEchoBackend.HelloAsync(net.ClientNs, endPoint), StringComparison.Ordinal);
        using var c3 = n3.Client();
        var after = await Eventually.MatchesAsync(
            () => c3.ListNodesAsync(),
            list => new[] { Holds(list, "pe-n2"), Holds(list, "pe-n3") }.Order(StringComparer.Ordinal).SequenceEqual([$"{vip} (BACKUP)", $"{vip} (MASTER)"]),
            TimeSpan.FromSeconds(30),
            list => $"node list does not show one new MASTER after the takeover: {Describe(list)}");
        var taker = Holds(after, "pe-n3") == $"{vip} (MASTER)" ? n3 : n2;
        using var takerClient = taker.Client();
        Assert.Contains((await takerClient.GetNetworkOwnershipAsync()).Changes, c => c.Address == vip && c.Node == $"pe-n{taker.Index}" && c.To == "MASTER");
    }

    /// <summary>
    /// Starts <paramref name="joiner"/> while watching that <paramref name="holder"/> keeps the VIP
    /// on its interface and no other node ever has it, until the holder's keepalived adverts to the
    /// joiner and the joiner's keepalived has run past its master-down interval; then neither node's
    /// ownership history moved: the holder never left MASTER, the joiner never was MASTER.
    /// </summary>
    private async Task JoinAsync(FailoverNetwork net, FailoverNetwork.Node holder, FailoverNetwork.Node joiner, string vip, Func<Task> start)
    {
        using var holderClient = holder.Client();
        var before = (await holderClient.GetNetworkOwnershipAsync()).Changes.Count(c => c.Address == vip);
        using var watching = new CancellationTokenSource();
        var watch = WatchHolderAsync(net, holder, vip, watching.Token);
        try
        {
            await start();
            await Eventually.TrueAsync(
                async () => (await File.ReadAllTextAsync(ConfigOf(holder))).Contains($"        {joiner.Address}\n", StringComparison.Ordinal),
                TimeSpan.FromSeconds(30),
                () => $"node {holder.Index}'s keepalived.conf never listed node {joiner.Index} as a unicast peer:\n{File.ReadAllText(ConfigOf(holder))}");
            await Eventually.TrueAsync(
                async () => (await joiner.DaemonsAsync()).Any(d => d.Command == "keepalived"),
                TimeSpan.FromSeconds(30),
                () => $"node {joiner.Index}'s keepalived never started:\n{joiner.Output}");
            var joinerConfig = await File.ReadAllTextAsync(ConfigOf(joiner));
            Assert.Contains($"        {holder.Address}\n", joinerConfig, StringComparison.Ordinal);
            await Task.Delay(AfterJoin); // an observation window (see AfterJoin), not a wait for an event
        }
        finally
        {
            await watching.CancelAsync();
        }

        var problems = await watch;
        Assert.True(problems.Count == 0, $"the VIP moved while node {joiner.Index} joined: {string.Join("; ", problems.Take(5))}\nnode {holder.Index}:\n{holder.Output}\nnode {joiner.Index}:\n{joiner.Output}");
        var after = (await holderClient.GetNetworkOwnershipAsync()).Changes.Where(c => c.Address == vip).ToList();
        Assert.True(after.Count == before, $"node {holder.Index}'s role for {vip} changed while node {joiner.Index} joined: {string.Join("; ", after.Skip(before).Select(c => $"{c.From}->{c.To} ({c.Reason})"))}");
        using var joinerClient = joiner.Client();
        var joined = await joinerClient.GetNetworkOwnershipAsync();
        Assert.Equal($"pe-n{joiner.Index}", joined.Node);
        Assert.DoesNotContain(joined.Changes, c => c.Address == vip && c.To == "MASTER");
        output.WriteLine($"node {joiner.Index} joined; node {holder.Index} kept {vip} ({after.Count} role changes before and after)");
    }

    private static async Task AssertHolderStaysAsync(FailoverNetwork net, FailoverNetwork.Node holder, string vip, TimeSpan window, string when)
    {
        using var watching = new CancellationTokenSource(window);
        var problems = await WatchHolderAsync(net, holder, vip, watching.Token);
        Assert.True(problems.Count == 0, $"the VIP moved {when}: {string.Join("; ", problems.Take(5))}");
    }

    /// <summary>Samples every node's eth0 until cancelled: each sample where the holder lacks the VIP or another node has it.</summary>
    private static async Task<List<string>> WatchHolderAsync(FailoverNetwork net, FailoverNetwork.Node holder, string vip, CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        var clock = Stopwatch.StartNew();
        while (!cancellationToken.IsCancellationRequested)
        {
            foreach (var node in net.Nodes)
            {
                if (node.Server is not { HasExited: false } && node != holder)
                {
                    continue;
                }

                var holds = await node.HoldsOnEthAsync(vip);
                if (holds != (node == holder))
                {
                    problems.Add($"{clock.Elapsed.TotalMilliseconds:0} ms: node {node.Index} {(holds ? "has" : "lacks")} {vip}");
                }
            }

            await Task.Delay(100, CancellationToken.None);
        }

        return problems;
    }

    private static string ConfigOf(FailoverNetwork.Node node) => Path.Combine(node.DataDir, "keepalived", "keepalived.conf");

    private static string[] Arguments(string store, FailoverNetwork.Node node, int priority) =>
    [
        "--store", store, "--node-name", $"pe-n{node.Index}", "--vip-pool", FailoverNetwork.VrrpPool, "--announce", "vrrp", "--vrrp-interface", "eth0",
        "--vrrp-router-id", "62", "--vrrp-priority", priority.ToString(CultureInfo.InvariantCulture),
    ];

    /// <summary>VRRP's multicast adverts (224.0.0.18) never leave the node: only the unicast peers the registry gives reach the others.</summary>
    private static async Task DropMulticastVrrpAsync(NetworkNamespace ns)
    {
        foreach (var command in new[]
        {
            new[] { "nft", "add", "table", "ip", "pe" },
            ["nft", "add", "chain", "ip", "pe", "out", "{ type filter hook output priority 0 ; }"],
            ["nft", "add", "rule", "ip", "pe", "out", "ip", "daddr", "224.0.0.18", "drop"],
        })
        {
            var result = await ns.ExecAsync(command);
            Assert.True(result.ExitCode == 0, $"{string.Join(' ', command)}: {result.StandardError}");
        }
    }

    private static string Holds(IReadOnlyList<NodeView> nodes, string name) =>
        string.Join(", ", nodes.SingleOrDefault(n => n.Name == name)?.Holds.Select(h => $"{h.Address} ({h.Role})") ?? []);

    private static string Describe(IReadOnlyList<NodeView> nodes) =>
        string.Join("; ", nodes.Select(n => $"{n.Name} {n.State} from {n.AnnounceAddress}: {Holds(nodes, n.Name)}"));
}
