using System.Net;
using MultiVip.Client;
using MultiVip.Contracts;
using MultiVip.TestSupport.Network;
using MultiVip.TestSupport.Postgres;

namespace MultiVip.Network.Tests.EndToEnd;

/// <summary>
/// Three `multivip serve` processes, each in a network namespace of its own (so each binds the same
/// VIP addresses and has its own backend on 127.0.0.2), sharing one throwaway PostgreSQL reached
/// through its Unix socket (a socket file crosses network namespaces). The test reaches each API
/// through a relay on 127.110.90.x.
/// </summary>
public sealed class PostgresNodesTests
{
    private const int BackendPort = 8080;

    private static readonly string Cli = Path.Combine(AppContext.BaseDirectory, "multivip.dll");

    [Fact]
    public async Task Three_nodes_carry_each_others_changes_take_300_at_once_lose_nothing_to_kill_9_and_survive_a_database_restart()
    {
        await using var cluster = await PostgresCluster.StartAsync(new PostgresClusterOptions
        {
            Cli = Cli,
            Root = Directory.CreateTempSubdirectory("multivip-pg-nodes-").FullName,
            VipPool = "127.110.80.0/24",
            RelayAddress = i => IPAddress.Parse($"127.110.90.{i + 1}"),
            Backends = (ns, name) => [NamespaceEchoBackend.Start(ns, new IPEndPoint(IPAddress.Parse("127.0.0.2"), BackendPort), "backend-" + name)],
        });
        var (pg, nodes) = (cluster.Database, cluster.Nodes);
        var (a, b, c) = (nodes[0], nodes[1], nodes[2]);

        // A change through A carries traffic through B and C (each to its own backend).
        using (var client = a.Client())
        {
            await client.CreateServiceAsync(new CreateServiceRequest { Name = "web" });
            await client.AddVmAsync("web", new AddVmRequest { Name = "vm", Address = "127.0.0.2" });
            await client.AddEndpointAsync("web", "vm", new EndpointRequest { Name = "http", Protocol = "tcp", LocalPort = BackendPort, PublicPort = 80 });
        }

        var vip = (await Service(a, "web")).Single().Address!;
        foreach (var node in nodes)
        {
            await Eventually.TrueAsync(
                async () => await TryHelloAsync(node, vip) == "backend-" + node.Name,
                TimeSpan.FromSeconds(30),
                () => $"no traffic through node {node.Name} to {vip}:80:\n{node.Process?.Output}");
        }

        // 300 changes at once, 100 through each node: a service and its deployment (a VIP address).
        var changes = nodes.SelectMany(node => Enumerable.Range(0, 50).Select(i => Task.Run(async () =>
        {
            using var client = node.Client();
            var name = $"s{node.Name}{i}";
            await client.CreateServiceAsync(new CreateServiceRequest { Name = name }, waitForCompletion: false);
            await client.AddVmAsync(name, new AddVmRequest { Name = "vm", Address = "127.0.0.2" }, waitForCompletion: false);
        }))).ToList();
        await Task.WhenAll(changes);
        await AllSeeAsync(nodes, 151);
        using (var client = c.Client())
        {
            var addresses = new List<string>();
            foreach (var service in await client.ListServicesAsync())
            {
                addresses.AddRange((await client.ListVirtualIpsAsync(service.Name)).Select(v => v.Address!));
            }

            Assert.Equal(151, addresses.Count);
            Assert.Equal(addresses.Count, addresses.Distinct().Count());
        }

        // kill -9 of B during a stream of changes through it: every acknowledged one is kept.
        var acknowledged = new List<string>();
        var stream = Task.Run(async () =>
        {
            using var client = b.Client();
            for (var i = 0; ; i++)
            {
                try
                {
                    await client.CreateServiceAsync(new CreateServiceRequest { Name = $"k{i}" }, waitForCompletion: false);
                    lock (acknowledged)
                    {
                        acknowledged.Add($"k{i}");
                    }
                }
                catch (Exception)
                {
                    // The node is gone: this change was not acknowledged.
                    return;
                }
            }
        });
        await Eventually.TrueAsync(() => Task.FromResult(Count(acknowledged) >= 20), TimeSpan.FromSeconds(60), () => "the stream of changes did not start");
        await b.KillAsync();
        await stream;
        using (var client = a.Client())
        {
            var names = (await client.ListServicesAsync()).Select(s => s.Name).ToHashSet();
            lock (acknowledged)
            {
                Assert.All(acknowledged, name => Assert.Contains(name, names));
            }
        }

        // B starts again on the same database and catches up; A changes meanwhile.
        using (var client = a.Client())
        {
            await client.CreateServiceAsync(new CreateServiceRequest { Name = "while-b-was-down" }, waitForCompletion: false);
        }

        await b.StartAsync();
        var total = (await a.Client().ListServicesAsync()).Count;
        await AllSeeAsync(nodes, total);

        // The database restarts: changes are refused meanwhile with 503, then accepted again.
        await pg.StopAsync();
        var refused = await Assert.ThrowsAsync<MultiVipApiException>(() => c.Client().CreateServiceAsync(new CreateServiceRequest { Name = "during" }, waitForCompletion: false));
        Assert.Equal(503, refused.HttpStatus);
        Assert.Contains("is unreachable since", refused.Message);
        Assert.Equal("backend-c", await TryHelloAsync(c, vip));
        await pg.RestartAsync();
        await c.Client().CreateServiceAsync(new CreateServiceRequest { Name = "after" }, waitForCompletion: false);
        await AllSeeAsync(nodes, total + 1);
    }

    private static int Count(List<string> list)
    {
        lock (list)
        {
            return list.Count;
        }
    }

    private static async Task<IReadOnlyList<MultiVip.Model.Services.VirtualIp>> Service(PostgresNode node, string name)
    {
        using var client = node.Client();
        return await client.ListVirtualIpsAsync(name);
    }

    private static async Task AllSeeAsync(IReadOnlyList<PostgresNode> nodes, int services)
    {
        foreach (var node in nodes)
        {
            await Eventually.TrueAsync(
                async () =>
                {
                    using var client = node.Client();
                    return (await client.ListServicesAsync()).Count == services;
                },
                TimeSpan.FromSeconds(60),
                () => $"node {node.Name} does not list {services} services:\n{node.Process?.Output}");
        }
    }

    private static async Task<string?> TryHelloAsync(PostgresNode node, string vip)
    {
        try
        {
            return await NamespaceEchoBackend.HelloAsync(node.Ns, new IPEndPoint(IPAddress.Parse(vip), 80));
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or OperationCanceledException)
        {
            return null;
        }
    }
}
