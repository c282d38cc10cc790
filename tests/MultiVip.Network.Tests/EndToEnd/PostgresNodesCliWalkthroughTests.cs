using System.Net;
using MultiVip.TestSupport.Network;
using MultiVip.TestSupport.Postgres;

namespace MultiVip.Network.Tests.EndToEnd;

/// <summary>
/// Issue 14's done-when: three `multivip serve` nodes on one PostgreSQL run the seed's walk-through
/// typed as `multivip` CLI commands, each command against the next node in turn, and every node
/// carries the traffic to every VIP. Each node is in a network namespace of its own with its own
/// backends (127.0.0.11 and .12 there greet with the node's name), so a greeting says which node
/// forwarded it. Relays on 127.130.1.x reach the APIs; VIPs come from 127.130.2.0/24 inside the namespaces.
/// </summary>
public sealed class PostgresNodesCliWalkthroughTests
{
    private static readonly string Cli = Path.Combine(AppContext.BaseDirectory, "multivip.dll");

    [Fact]
    public async Task Three_nodes_on_one_database_run_the_seed_walkthrough_with_the_cli_against_each_in_turn_and_every_node_carries_the_traffic()
    {
        await using var cluster = await PostgresCluster.StartAsync(new PostgresClusterOptions
        {
            Cli = Cli,
            Root = Directory.CreateTempSubdirectory("multivip-pg-cli-").FullName,
            VipPool = "127.130.2.0/24",
            RelayAddress = i => IPAddress.Parse($"127.130.1.{i + 1}"),
            NamespacePrefix = "cl-",
            Backends = (ns, name) => new (string Vm, string Address, int Port)[] { ("myVM1", "127.0.0.11", 8080), ("myVM1", "127.0.0.11", 8181), ("myVM2", "127.0.0.12", 8181) }
                .Select(b => NamespaceEchoBackend.Start(ns, new IPEndPoint(IPAddress.Parse(b.Address), b.Port), $"{name}-{b.Vm}-{b.Port}")),
        });
        var nodes = cluster.Nodes;

        // Each command goes to the next node: a, b, c, a, ...; an operation the CLI reports
        // Succeeded has been applied by every live node.
        var turn = 0;
        async Task<string> Multivip(params string[] args)
        {
            var node = nodes[turn++ % nodes.Count];
            var run = await Command.TryRunAsync("dotnet", [Cli, .. args, "--api", node.Api.ToString(), "--token", node.Token], TimeSpan.FromSeconds(60));
            Assert.True(run.Succeeded, $"multivip {string.Join(' ', args)} against node {node.Name} exited {run.ExitCode}: {run.StandardError}\n{node.Process?.Output}");
            return run.StandardOutput;
        }

        async Task Succeeded(params string[] args) => Assert.Matches(@"\sSucceeded\s*$", await Multivip(args));

        await Succeeded("service", "create", "--name", "myService");
        await Succeeded("vm", "add", "--service", "myService", "--name", "myVM1", "--address", "127.0.0.11");
        await Succeeded("vm", "add", "--service", "myService", "--name", "myVM2", "--address", "127.0.0.12");
        await Succeeded("vip", "add", "--service", "myService", "--name", "Vip2");
        await Succeeded("vip", "add", "--service", "myService", "--name", "Vip3");
        var vips = await Multivip("vip", "list", "--service", "myService");
        Assert.Contains("Name            : Vip3", vips);

        await Succeeded("endpoint", "add", "--service", "myService", "--vm", "myVM1", "--name", "myEndpoint", "--protocol", "tcp", "--local-port", "8080", "--public-port", "80", "--vip", "Vip2");
        var vip2 = await AddressAsync(nodes[turn % nodes.Count], "Vip2");
        await EveryNodeAsync(nodes, vip2, 80, node => $"{node.Name}-myVM1-8080");

        foreach (var vm in new[] { "myVM1", "myVM2" })
        {
            await Succeeded("endpoint", "add", "--service", "myService", "--vm", vm, "--name", "myLBEndpoint", "--lb-set", "myLBSet", "--protocol", "tcp", "--local-port", "8181", "--public-port", "81", "--vip", "Vip2", "--default-probe");
        }

        await EveryNodeAsync(nodes, vip2, 81, node => $"{node.Name}-myVM");

        // The set moves to Vip1: port 81 is now carried on Vip1 by every node, Vip2 keeps port 80.
        await Succeeded("lbset", "set", "--service", "myService", "--name", "myLBSet", "--vip", "Vip1");
        Assert.Matches(@"myLBSet\s+Vip1\s+tcp\s+81", await Multivip("lbset", "list", "--service", "myService"));
        var vip1 = await AddressAsync(nodes[turn % nodes.Count], "Vip1");
        await EveryNodeAsync(nodes, vip1, 81, node => $"{node.Name}-myVM");
        await EveryNodeAsync(nodes, vip2, 80, node => $"{node.Name}-myVM1-8080");

        await Succeeded("vip", "remove", "--service", "myService", "--name", "Vip3", "--force");
        for (var i = 0; i < nodes.Count; i++)
        {
            Assert.DoesNotContain("Vip3", await Multivip("vip", "list", "--service", "myService"));
        }

        // Every node is registered and up to date, as any of them reports it.
        var list = await Multivip("node", "list");
        foreach (var node in nodes)
        {
            Assert.Matches($@"(?m)^\s*{node.Name}( \*)?\s+Ready\s", list);
        }
    }

    private static async Task<string> AddressAsync(PostgresNode node, string vip)
    {
        using var client = node.Client();
        return (await client.ListVirtualIpsAsync("myService")).Single(v => v.Name == vip).Address
            ?? throw new InvalidOperationException($"{vip} has no address on node {node.Name}");
    }

    /// <summary>A client in each node's namespace reaches <paramref name="vip"/>:<paramref name="port"/> through that node, to that node's own backend.</summary>
    private static async Task EveryNodeAsync(IReadOnlyList<PostgresNode> nodes, string vip, int port, Func<PostgresNode, string> greetingStart)
    {
        foreach (var node in nodes)
        {
            string? last = null;
            await Eventually.TrueAsync(
                async () => (last = await TryHelloAsync(node, vip, port))?.StartsWith(greetingStart(node), StringComparison.Ordinal) == true,
                TimeSpan.FromSeconds(30),
                () => $"no traffic through node {node.Name} to {vip}:{port} (last answer: {last ?? "none"}):\n{node.Process?.Output}");
        }
    }

    private static async Task<string?> TryHelloAsync(PostgresNode node, string vip, int port)
    {
        try
        {
            return await NamespaceEchoBackend.HelloAsync(node.Ns, new IPEndPoint(IPAddress.Parse(vip), port));
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or OperationCanceledException)
        {
            return null;
        }
    }
}
