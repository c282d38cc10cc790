using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using MultiVip.Contracts;
using MultiVip.Control.Commands;
using MultiVip.Control.Nodes;
using MultiVip.Control.State;
using MultiVip.Control.Tests.Support;
using MultiVip.Model.Networking;
using MultiVip.Model.Operations;

namespace MultiVip.Control.Tests.Nodes;

/// <summary>
/// An operation is Succeeded when every live node applied its generation, Failed with the node's
/// name when one reported a fault, and a Down node holds nothing up. The other node is a record
/// written straight into the registry (SQLite, as the server keeps it), which is all this node
/// ever sees of it; this node's own data plane is a <see cref="RecordingDataPlane"/>.
/// </summary>
public sealed class OperationsAcrossNodesTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private static readonly CallContext Caller = new("nodes-test");

    [Fact]
    public async Task An_operation_waits_for_a_live_node_behind_it_and_succeeds_once_that_node_applied_it()
    {
        await using var node = await Node.StartAsync(Other("b", applied: 0, heartbeatAge: TimeSpan.Zero));
        var operation = await node.Control.CreateServiceAsync(new CreateServiceRequest { Name = "waits" }, Caller, default);
        await node.Plane.WaitAppliedAsync(operation.Generation).WaitAsync(Wait);

        // Applied here, not on b: still in progress, and b shows as Lagging.
        Assert.Equal(OperationStatus.InProgress, (await node.Control.WaitAsync(operation, TimeSpan.FromMilliseconds(500), default)).OperationStatus);
        Assert.Equal(NodeState.Lagging, State(node, "b"));
        Assert.Equal(NodeState.Ready, State(node, "a"));

        await node.Registry.HeartbeatAsync(Other("b", applied: operation.Generation, heartbeatAge: TimeSpan.Zero), default);
        var done = await node.Control.WaitAsync(operation, Wait, default);
        Assert.Equal(OperationStatus.Succeeded, done.OperationStatus);
        Assert.Equal(NodeState.Ready, State(node, "b"));
        Assert.Equal(OperationStatus.Succeeded, (await node.Store.GetOperationAsync(operation.OperationId, default))!.OperationStatus);
    }

    [Fact]
    public async Task A_down_node_does_not_hold_an_operation_up()
    {
        await using var node = await Node.StartAsync(Other("b", applied: 0, heartbeatAge: TimeSpan.FromMinutes(10)));
        var operation = await node.Control.CreateServiceAsync(new CreateServiceRequest { Name = "alone" }, Caller, default);

        Assert.Equal(OperationStatus.Succeeded, (await node.Control.WaitAsync(operation, Wait, default)).OperationStatus);
        Assert.Equal(NodeState.Down, State(node, "b"));
    }

    [Fact]
    public async Task A_node_that_goes_down_while_an_operation_waits_for_it_releases_the_operation()
    {
        // On a clock the test moves: b is alive until --node-down-after (60 s) has passed since its last heartbeat.
        var time = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        await using var node = await Node.StartAsync(time, Other("b", applied: 0, heartbeatAge: TimeSpan.Zero, now: time.GetUtcNow()));
        var operation = await node.Control.CreateServiceAsync(new CreateServiceRequest { Name = "released" }, Caller, default);
        await node.Plane.WaitAppliedAsync(operation.Generation).WaitAsync(Wait);
        Assert.Equal(OperationStatus.InProgress, (await node.Control.GetOperationAsync(operation.OperationId, default))!.OperationStatus);
        Assert.Equal(NodeState.Lagging, State(node, "b"));

        time.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal(OperationStatus.Succeeded, (await node.Control.WaitAsync(operation, TimeSpan.FromDays(1), default).WaitAsync(Wait)).OperationStatus);
        Assert.Equal(NodeState.Down, State(node, "b"));
    }

    [Fact]
    public async Task A_node_that_stopped_cleanly_holds_nothing_up_and_a_stopping_node_says_so_in_the_registry()
    {
        var now = TimeProvider.System.GetUtcNow();
        await using var node = await Node.StartAsync(Other("b", applied: 0, heartbeatAge: TimeSpan.Zero) with { StoppedAt = now });
        var operation = await node.Control.CreateServiceAsync(new CreateServiceRequest { Name = "stopped" }, Caller, default);
        Assert.Equal(OperationStatus.Succeeded, (await node.Control.WaitAsync(operation, Wait, default)).OperationStatus);
        Assert.Equal(NodeState.Down, State(node, "b"));

        // This node's own stop leaves a record the others read as Down at once.
        await node.Heartbeat.StopAsync();
        var a = Assert.Single(await node.Registry.ListAsync(default), n => n.Name == "a");
        Assert.NotNull(a.StoppedAt);
        Assert.Equal(NodeState.Down, NodeStates.Of(a, operation.Generation, TimeProvider.System.GetUtcNow(), TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public async Task A_fault_on_another_node_fails_the_operation_with_that_node_and_its_message()
    {
        await using var node = await Node.StartAsync(Other("b", applied: 0, heartbeatAge: TimeSpan.Zero));
        var operation = await node.Control.CreateServiceAsync(new CreateServiceRequest { Name = "svc" }, Caller, default);
        var other = await node.Control.CreateServiceAsync(new CreateServiceRequest { Name = "fine" }, Caller, default);
        await node.Plane.WaitAppliedAsync(other.Generation).WaitAsync(Wait);

        await node.Registry.HeartbeatAsync(
            Other("b", applied: other.Generation, heartbeatAge: TimeSpan.Zero) with
            {
                Faults = [new NodeFault("svc", "tcp/127.111.5.1:80", "Cannot assign requested address")],
            },
            default);

        var failed = await node.Control.WaitAsync(operation, Wait, default);
        Assert.Equal(OperationStatus.Failed, failed.OperationStatus);
        Assert.Equal(nameof(Model.Errors.ErrorCode.DataPlaneError), failed.ErrorCode);
        Assert.Equal("The change is stored but the data plane could not apply it: node b: listener tcp/127.111.5.1:80: Cannot assign requested address", failed.ErrorMessage);

        // A fault of another service's listener is not this operation's.
        Assert.Equal(OperationStatus.Succeeded, (await node.Control.WaitAsync(other, Wait, default)).OperationStatus);
    }

    [Fact]
    public async Task Alone_an_operation_completes_on_the_local_apply_and_this_nodes_record_is_in_the_registry()
    {
        await using var node = await Node.StartAsync();
        var operation = await node.Control.CreateServiceAsync(new CreateServiceRequest { Name = "single" }, Caller, default);
        Assert.Equal(OperationStatus.Succeeded, (await node.Control.WaitAsync(operation, Wait, default)).OperationStatus);

        var stored = Assert.Single(await node.Registry.ListAsync(default));
        Assert.Equal("a", stored.Name);
        Assert.Equal("http://127.111.0.1:7400", stored.ApiAddress);
        Assert.Equal(NodeHeartbeat.Version, stored.Version);
        var listed = Assert.Single(node.Heartbeat.Snapshot());
        Assert.True(listed.IsLocal);
        Assert.Equal(NodeState.Ready, listed.State);
        Assert.Equal(operation.Generation, listed.Record.AppliedGeneration);
    }

    [Fact]
    public async Task The_registry_replaces_a_record_by_name_without_case_and_keeps_its_faults()
    {
        await using var node = await Node.StartAsync();
        var record = Other("B", applied: 3, heartbeatAge: TimeSpan.Zero) with { Faults = [new NodeFault("svc", "udp/[2001:db8::1]:53", "quote \" and ünïcode")] };
        await node.Registry.HeartbeatAsync(record, default);
        await node.Registry.HeartbeatAsync(record with { Name = "b", AppliedGeneration = 4 }, default);

        var b = Assert.Single(await node.Registry.ListAsync(default), n => n.Name.Equals("b", StringComparison.OrdinalIgnoreCase));
        Assert.Equal("b", b.Name);
        Assert.Equal(4, b.AppliedGeneration);
        Assert.Equal(record.Faults, b.Faults);
        Assert.Equal(record.LastHeartbeat, b.LastHeartbeat);
        Assert.Equal(record.StartedAt, b.StartedAt);
    }

    [Fact]
    public async Task The_registry_keeps_the_announce_address_and_the_held_vips_and_a_record_without_them_reads_empty()
    {
        await using var node = await Node.StartAsync();
        var record = Other("b", applied: 1, heartbeatAge: TimeSpan.Zero) with
        {
            AnnounceAddress = "198.18.0.2",
            Holds = [new NodeHold("198.51.100.10", "MASTER"), new NodeHold("2001:db8::10", "BACKUP")],
        };
        await node.Registry.HeartbeatAsync(record, default);
        var b = Assert.Single(await node.Registry.ListAsync(default), n => n.Name == "b");
        Assert.Equal("198.18.0.2", b.AnnounceAddress);
        Assert.Equal(record.Holds, b.Holds);

        // The node restarts without a shared announcer: both columns go back to null.
        await node.Registry.HeartbeatAsync(record with { AnnounceAddress = null, Holds = [] }, default);
        b = Assert.Single(await node.Registry.ListAsync(default), n => n.Name == "b");
        Assert.Null(b.AnnounceAddress);
        Assert.Empty(b.Holds);
    }

    private static NodeState State(Node node, string name) =>
        node.Heartbeat.Snapshot().Single(n => n.Record.Name == name).State;

    private static NodeRecord Other(string name, long applied, TimeSpan heartbeatAge, DateTimeOffset? now = null)
    {
        now ??= TimeProvider.System.GetUtcNow();
        return new NodeRecord
        {
            Name = name,
            ApiAddress = $"http://127.111.0.2:7400",
            StartedAt = now.Value - TimeSpan.FromHours(1),
            LastHeartbeat = now.Value - heartbeatAge,
            AppliedGeneration = applied,
            Version = "other",
        };
    }

    /// <summary>Node "a": a control plane on an SQLite store, its heartbeat on the store's node registry.</summary>
    private sealed class Node : IAsyncDisposable
    {
        private readonly TempDataDir _dir;

        private Node(TempDataDir dir, SqliteStateStore store, SqliteNodeRegistry registry, RecordingDataPlane plane, ControlPlane control, NodeHeartbeat heartbeat)
        {
            _dir = dir;
            Store = store;
            Registry = registry;
            Plane = plane;
            Control = control;
            Heartbeat = heartbeat;
        }

        public SqliteStateStore Store { get; }

        public SqliteNodeRegistry Registry { get; }

        public RecordingDataPlane Plane { get; }

        public ControlPlane Control { get; }

        public NodeHeartbeat Heartbeat { get; }

        public static Task<Node> StartAsync(params NodeRecord[] others) => StartAsync(TimeProvider.System, others);

        public static async Task<Node> StartAsync(TimeProvider time, params NodeRecord[] others)
        {
            var dir = new TempDataDir();
            var store = await SqliteStateStore.OpenAsync(dir.Path, default);
            var registry = new SqliteNodeRegistry(store.ConnectionString);
            foreach (var other in others)
            {
                await registry.HeartbeatAsync(other, default);
            }

            var plane = new RecordingDataPlane();
            var control = await ControlPlane.StartAsync(
                store,
                new ControlPlaneOptions { Pool = AddressPool.Parse([MemoryNode.UniquePool()]), NodeName = "a", NodeDownAfter = TimeSpan.FromSeconds(60) },
                plane,
                time,
                NullLoggerFactory.Instance,
                default);
            var heartbeat = new NodeHeartbeat(control, registry, time, NullLogger.Instance);
            await heartbeat.StartAsync("http://127.111.0.1:7400", default);
            return new Node(dir, store, registry, plane, control, heartbeat);
        }

        public async ValueTask DisposeAsync()
        {
            await Heartbeat.DisposeAsync();
            Plane.Release();
            await Control.DisposeAsync();
            await Store.DisposeAsync();
            _dir.Dispose();
        }
    }
}
