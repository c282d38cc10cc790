using System.Diagnostics;
using System.Net;
using MultiVip.Contracts;
using MultiVip.TestSupport.Network;
using MultiVip.TestSupport.Postgres;
using Xunit.Abstractions;

namespace MultiVip.Network.Tests.Failover;

/// <summary>
/// Two `multivip serve --announce vrrp` nodes sharing ONE PostgreSQL (over its Unix socket, which
/// crosses network namespaces) and NO --vrrp-peer: each finds the other's announce address in the
/// node registry and keepalived adverts to it by unicast. Multicast VRRP is dropped in both node
/// namespaces, so without the registry's peers both nodes would become MASTER (split brain) and this
/// test fails. Namespaces mvnet-PID-RANDOM-pe-*; API relays on 127.118.x.y.
/// </summary>
public sealed class RegistryPeersFailoverTests(ITestOutputHelper output)
{
    private static readonly TimeSpan KillBound = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task Nodes_on_one_postgres_find_their_vrrp_peers_in_the_registry_and_fail_over_on_kill_9()
    {
        await using var pg = await PostgresServer.StartAsync();
        var store = pg.SocketConnectionString(await pg.CreateDatabaseAsync());
        await using var net = await FailoverNetwork.CreateAsync(prefix: "pe", relayOctet: 118);
        net.Backend(FailoverNetwork.Vm1, 8080, "vm1");
        net.Backend(FailoverNetwork.Vm2, 8080, "vm2");
        var (n1, n2) = (net.Nodes[0], net.Nodes[1]);
        foreach (var node in net.Nodes)
        {
            await DropMulticastVrrpAsync(node.Ns);
        }

        await n1.StartAsync(Arguments(store, "pe-n1", priority: 250));
        string vip;
        using (var client = n1.Client())
        {
            await FailoverNetwork.ConfigureAsync(client);
            vip = (await client.ListVirtualIpsAsync("svc")).Single(v => v.Name == "Vip1").Address!;
        }

        await Eventually.TrueAsync(() => n1.HoldsOnEthAsync(vip), TimeSpan.FromSeconds(20), () => $"node 1 never became VRRP master for {vip}:\n{n1.Output}");

        // One API token for both (one shared state): node 1's, copied before node 2's first start.
        Directory.CreateDirectory(n2.DataDir);
        File.Copy(Path.Combine(n1.DataDir, "token"), Path.Combine(n2.DataDir, "token"));
        await n2.StartAsync(Arguments(store, "pe-n2", priority: 240));
        await n2.Server!.WaitForOutputAsync("to [198.18.0.1]", TimeSpan.FromSeconds(20)); // its peers went from [] to [198.18.0.1]

        // One holder: node 2 hears node 1's unicast adverts and stays BACKUP.
        using var c2 = n2.Client();
        var nodes = await Eventually.MatchesAsync(
            () => c2.ListNodesAsync(),
            // Exactly one holder. Usually node 1, but a peer-set reload can fault keepalived for a moment
            // (its track script restarts), and then node 2 takes the VIP and keeps it (nopreempt).
            list => new[] { Holds(list, "pe-n1"), Holds(list, "pe-n2") }.Order().SequenceEqual([$"{vip} (BACKUP)", $"{vip} (MASTER)"]),
            TimeSpan.FromSeconds(30),
            list => $"node list does not show one MASTER and one BACKUP for {vip}: {Describe(list)}\nnode 1:\n{n1.Output}\nnode 2:\n{n2.Output}");
        Assert.Equal("198.18.0.1", nodes.Single(n => n.Name == "pe-n1").AnnounceAddress);
        Assert.Equal("198.18.0.2", nodes.Single(n => n.Name == "pe-n2").AnnounceAddress);
        var (holder, other) = Holds(nodes, "pe-n1") == $"{vip} (MASTER)" ? (n1, n2) : (n2, n1);
        Assert.False(await other.HoldsOnEthAsync(vip), "the backup must not hold the VIP");
        Assert.Contains("unicast_peer", await File.ReadAllTextAsync(Path.Combine(n2.DataDir, "keepalived", "keepalived.conf")), StringComparison.Ordinal);

        // `multivip node list` shows the same (run inside node 2's namespace, where its API listens).
        var text = await n2.Ns.ExecAsync("dotnet", Path.Combine(AppContext.BaseDirectory, "multivip.dll"), "node", "list", "--data-dir", n2.DataDir);
        output.WriteLine(text.StandardOutput);
        Assert.True(text.ExitCode == 0, text.StandardError);
        Assert.Contains($"{vip} (MASTER)", text.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("198.18.0.1", text.StandardOutput, StringComparison.Ordinal);

        // kill -9 of the holder: its keepalived goes with it, node 2 takes over.
        var endPoint = new IPEndPoint(IPAddress.Parse(vip), 80);
        Assert.StartsWith("vm", await NamespaceEchoBackend.HelloAsync(net.ClientNs, endPoint), StringComparison.Ordinal);
        var clock = Stopwatch.StartNew();
        holder.Server!.Kill();
        var killed = await FailoverNetwork.MeasureOutageAsync(net.ClientNs, endPoint, TimeSpan.FromSeconds(20), clock, () => other.HoldsOnEthAsync(vip));
        output.WriteLine($"VRRP with registry peers, kill -9 of the master (node {holder.Index}), VIP moved to node {other.Index} after {clock.Elapsed.TotalMilliseconds:0} ms: {killed}");
        Assert.True(killed.Recovered, $"node {other.Index} did not take over within 20 s of kill -9 ({killed}).\nnode {other.Index}:\n{other.Output}");
        Assert.True(killed.Longest <= KillBound, $"new connections failed for {killed.Longest.TotalMilliseconds:0} ms after kill -9 (requirement 3 s)");
        using var survivor = other.Client();
        await Eventually.MatchesAsync(
            () => survivor.ListNodesAsync(),
            list => Holds(list, $"pe-n{other.Index}") == $"{vip} (MASTER)",
            TimeSpan.FromSeconds(10),
            list => $"node list does not show pe-n{other.Index} MASTER after the takeover: {Describe(list)}");
    }

    private static string[] Arguments(string store, string name, int priority) =>
    [
        "--store", store, "--node-name", name, "--vip-pool", FailoverNetwork.VrrpPool, "--announce", "vrrp", "--vrrp-interface", "eth0",
        "--vrrp-router-id", "62", "--vrrp-priority", priority.ToString(System.Globalization.CultureInfo.InvariantCulture),
    ];

    /// <summary>VRRP's multicast adverts (224.0.0.18) never leave the node: only the unicast peers the registry gives reach the other.</summary>
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
