using Microsoft.Extensions.Logging.Abstractions;
using MultiVip.Contracts;
using MultiVip.Control.Commands;
using MultiVip.Control.State;
using MultiVip.Control.Tests.Support;
using MultiVip.Model.Errors;
using MultiVip.Model.Networking;
using MultiVip.Model.Operations;

namespace MultiVip.Control.Tests.Postgres;

/// <summary>
/// Several control planes ("nodes"), each with its own <see cref="PostgresStateStore"/> on one
/// database, as `multivip serve --store postgresql://...` runs them: migrations once, commits
/// announced, every node follows every other's changes, and many concurrent changes all succeed.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresNodesTests(PostgresFixture fixture)
{
    private static readonly CallContext Caller = new("pg-nodes-test");

    [Fact]
    public async Task Migrations_run_once_however_many_nodes_start_together()
    {
        var database = await fixture.Server.CreateDatabaseAsync();
        var location = PostgresLocation.Parse(fixture.Server.ConnectionString(database));

        var stores = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => PostgresStateStore.OpenAsync(location, TimeProvider.System, NullLoggerFactory.Instance, default))));
        foreach (var store in stores)
        {
            await store.DisposeAsync();
        }

        Assert.Equal("1|initial\n2|nodes\n3|node announcements\n4|node vip pools", await fixture.Server.PsqlAsync(database, "SELECT version || '|' || name FROM schema_migrations ORDER BY version"));
        Assert.Equal("0", await fixture.Server.PsqlAsync(database, "SELECT generation FROM cluster_state"));
    }

    [Fact]
    public async Task The_registry_keeps_each_nodes_announce_address_and_held_vips()
    {
        var location = PostgresLocation.Parse(await fixture.CreateDatabaseAsync());
        await using var store = await PostgresStateStore.OpenAsync(location, TimeProvider.System, NullLoggerFactory.Instance, default);
        var now = TimeProvider.System.GetUtcNow();
        var record = new MultiVip.Control.Nodes.NodeRecord
        {
            Name = "lb-a", ApiAddress = "http://10.0.0.11:7400", StartedAt = now, LastHeartbeat = now, Version = "test",
            AnnounceAddress = "198.18.0.1", Holds = [new("198.51.100.10", "MASTER")],
        };
        await store.Nodes.HeartbeatAsync(record, default);
        await store.Nodes.HeartbeatAsync(record with { Name = "lb-b", AnnounceAddress = null, Holds = [] }, default);

        var listed = await store.Nodes.ListAsync(default);
        Assert.Equal("198.18.0.1", listed.Single(n => n.Name == "lb-a").AnnounceAddress);
        Assert.Equal(record.Holds, listed.Single(n => n.Name == "lb-a").Holds);
        Assert.Null(listed.Single(n => n.Name == "lb-b").AnnounceAddress);
        Assert.Empty(listed.Single(n => n.Name == "lb-b").Holds);
    }

    [Fact]
    public async Task A_commit_on_one_node_is_announced_to_the_others()
    {
        var location = PostgresLocation.Parse(await fixture.CreateDatabaseAsync());
        await using var a = await PostgresStateStore.OpenAsync(location, TimeProvider.System, NullLoggerFactory.Instance, default);
        await using var b = await PostgresStateStore.OpenAsync(location, TimeProvider.System, NullLoggerFactory.Instance, default);

        // The listener wakes once when it starts listening; after that only a commit wakes it.
        await b.WaitForChangesAsync(default).WaitAsync(TimeSpan.FromSeconds(30));
        var woken = b.WaitForChangesAsync(default);
        Assert.False(woken.IsCompleted);
        await a.CommitAsync([new StateChange { Operation = NewOperation(), UpsertServices = [(new Model.Services.CloudService { Name = "x", Version = 1 }, 0)], Generation = 1 }], default);
        await woken.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_change_through_one_node_reaches_the_others_state_and_data_plane()
    {
        await using var nodes = await Nodes.StartAsync(fixture, 3);
        await nodes[0].Control.CreateServiceAsync(new CreateServiceRequest { Name = "web" }, Caller, default);
        var added = await nodes[0].Control.AddVmAsync("web", new AddVmRequest { Name = "vm", Address = "127.0.0.10" }, Caller, default);
        var address = nodes[0].Control.Current.Services["web"].Deployment!.VirtualIps[0].Address;

        foreach (var node in nodes.All)
        {
            await Eventually(() => node.DataPlane.Applied.Any(g => g >= added.Generation));
            Assert.Equal(address, node.Control.Current.Services["web"].Deployment!.VirtualIps[0].Address);
        }
    }

    [Fact]
    public async Task Three_hundred_concurrent_changes_through_three_nodes_all_succeed_with_unique_addresses()
    {
        await using var nodes = await Nodes.StartAsync(fixture, 3);
        const int perNode = 50;

        // Each change through node n: a new service, then its deployment (which allocates a VIP
        // address from the pool all nodes share): 2 × 50 × 3 = 300 changes, all at once.
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var changes = nodes.All.SelectMany((node, n) => Enumerable.Range(0, perNode).Select(i => Task.Run(async () =>
        {
            await start.Task;
            var name = $"s{n}-{i}";
            await node.Control.CreateServiceAsync(new CreateServiceRequest { Name = name }, Caller, default);
            return await node.Control.AddVmAsync(name, new AddVmRequest { Name = "vm", Address = "127.0.0.10" }, Caller, default);
        }))).ToList();
        start.SetResult();
        var operations = await Task.WhenAll(changes);

        Assert.Equal(3 * perNode, operations.Select(o => o.Generation).Distinct().Count());
        Assert.Equal(0, nodes.All.Sum(n => n.Events.Count("CommitGaveUp") + n.Events.Count("CommitFailed")));
        var last = operations.Max(o => o.Generation);
        foreach (var node in nodes.All)
        {
            await Eventually(() => node.Control.Current.Generation >= last);
            var world = node.Control.Current;
            Assert.Equal(3 * perNode, world.Services.Count);
            var addresses = world.Services.Values.Select(s => s.Deployment!.VirtualIps[0].Address!).ToList();
            Assert.Equal(addresses.Count, addresses.Distinct().Count());
            Assert.Equal(3 * perNode, world.Addresses.Count);
        }

        // What every node holds is what the database holds.
        var stored = WorldState.From(await nodes[0].Store.LoadAsync(default));
        Assert.Equal(stored.Addresses.OrderBy(a => a.Key), nodes[2].Control.Current.Addresses.OrderBy(a => a.Key));
    }

    [Fact]
    public async Task The_same_name_through_two_nodes_at_once_is_one_success_and_Azures_conflict()
    {
        await using var nodes = await Nodes.StartAsync(fixture, 2);
        var results = await Task.WhenAll(nodes.All.Select(node => Task.Run(async () =>
        {
            try
            {
                await node.Control.CreateServiceAsync(new CreateServiceRequest { Name = "dup" }, Caller, default);
                return null;
            }
            catch (MultiVipException ex)
            {
                return ex;
            }
        })));

        var refused = Assert.Single(results, r => r is not null)!;
        Assert.Equal(ErrorCode.ConflictError, refused.Code);
        Assert.Equal(Messages.ServiceExists("dup"), refused.Message);
    }

    private static Operation NewOperation() => new()
    {
        OperationId = Guid.NewGuid(),
        OperationDescription = "Test",
        OperationStatus = OperationStatus.InProgress,
        CreatedAt = DateTimeOffset.UtcNow,
    };

    internal static async Task Eventually(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "The condition did not hold within 30 s.");
            await Task.Delay(20);
        }
    }

    internal sealed record Node(PostgresStateStore Store, RecordingDataPlane DataPlane, ControlPlane Control, LogEvents Events);

    /// <summary>Control planes on one fresh database, each with its own store and a recording data plane.</summary>
    internal sealed class Nodes : IAsyncDisposable
    {
        private Nodes(List<Node> all) => All = all;

        public IReadOnlyList<Node> All { get; }

        public Node this[int index] => All[index];

        public static async Task<Nodes> StartAsync(PostgresFixture fixture, int count)
        {
            var location = PostgresLocation.Parse(await fixture.CreateDatabaseAsync());
            var pool = AddressPool.Parse(["127.110.16.0/20"]);
            var all = new List<Node>();
            for (var i = 0; i < count; i++)
            {
                var store = await PostgresStateStore.OpenAsync(location, TimeProvider.System, NullLoggerFactory.Instance, default);
                var dataPlane = new RecordingDataPlane();
                var events = new LogEvents();
                var control = await ControlPlane.StartAsync(store, new ControlPlaneOptions { Pool = pool }, dataPlane, TimeProvider.System, events, default);
                all.Add(new Node(store, dataPlane, control, events));
            }

            return new Nodes(all);
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var node in All)
            {
                node.DataPlane.Release();
                await node.Control.DisposeAsync();
                await node.Store.DisposeAsync();
            }
        }
    }
}
