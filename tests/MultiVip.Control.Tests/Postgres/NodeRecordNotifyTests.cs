using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using MultiVip.Contracts;
using MultiVip.Control.Commands;
using MultiVip.Control.Nodes;
using MultiVip.Control.State;
using MultiVip.Control.Tests.Support;
using MultiVip.Model.Networking;
using MultiVip.Model.Operations;

namespace MultiVip.Control.Tests.Postgres;

/// <summary>
/// An operation on a PostgreSQL store waits for every live node; the node that took it learns that
/// the last one applied it from that node's record. It must learn at once, from the NOTIFY every
/// record write sends — not at its next registry poll (250 ms while operations wait), which made
/// the 202 of `bench/run --cluster` take 266 ms. The node runs on a clock that never moves, so
/// no poll and no heartbeat timer ever comes: only the notification can complete the operation.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class NodeRecordNotifyTests(PostgresFixture fixture)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private static readonly CallContext Caller = new("notify-test");

    [Fact]
    public async Task An_operation_waiting_for_another_node_completes_when_that_nodes_record_is_written_without_a_poll()
    {
        var location = PostgresLocation.Parse(await fixture.CreateDatabaseAsync());
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        // The other node "b" is its record, written through a store of its own, as another process would.
        await using var other = await PostgresStateStore.OpenAsync(location, TimeProvider.System, NullLoggerFactory.Instance, default);
        await other.Nodes.HeartbeatAsync(Record("b", applied: 0, time.GetUtcNow()), default);

        await using var store = await PostgresStateStore.OpenAsync(location, time, NullLoggerFactory.Instance, default);
        var plane = new RecordingDataPlane();
        var control = await ControlPlane.StartAsync(
            store, new ControlPlaneOptions { Pool = AddressPool.Parse(["127.142.1.0/24"]), NodeName = "a" }, plane, time, NullLoggerFactory.Instance, default);
        var registry = new Watched(store.Nodes);
        var heartbeat = new NodeHeartbeat(control, registry, time, NullLogger.Instance);
        try
        {
            await heartbeat.StartAsync("http://127.142.0.1:7400", default);
            var operation = await control.CreateServiceAsync(new CreateServiceRequest { Name = "web" }, Caller, default);
            await plane.WaitAppliedAsync(operation.Generation).WaitAsync(Wait);
            // The local apply made the heartbeat write this node's record and read the others': b is behind.
            await registry.ReadAfterWriting(operation.Generation).WaitAsync(Wait);
            Assert.Equal(OperationStatus.InProgress, (await control.GetOperationAsync(operation.OperationId, default))!.OperationStatus);

            // b applies it. Written again until the operation is done, since the node's listener may
            // not have started listening before the first write; the clock never moves meanwhile.
            var done = control.WaitAsync(operation, TimeSpan.FromDays(1), default);
            var deadline = DateTime.UtcNow + Wait;
            while (!done.IsCompleted && DateTime.UtcNow < deadline)
            {
                await other.Nodes.HeartbeatAsync(Record("b", applied: operation.Generation, time.GetUtcNow()), default);
                await Task.WhenAny(done, Task.Delay(100));
            }

            Assert.True(done.IsCompleted, "the operation did not complete when b's record said it applied it: the node waited for a poll that a still clock never brings");
            Assert.Equal(OperationStatus.Succeeded, (await done).OperationStatus);
        }
        finally
        {
            await heartbeat.DisposeAsync();
            plane.Release();
            await control.DisposeAsync();
        }
    }

    private static NodeRecord Record(string name, long applied, DateTimeOffset heartbeat) => new()
    {
        Name = name,
        ApiAddress = "http://127.142.0.2:7400",
        StartedAt = heartbeat - TimeSpan.FromMinutes(1),
        LastHeartbeat = heartbeat,
        AppliedGeneration = applied,
        Version = "test",
    };

    /// <summary>
    /// The real registry (its notifications too), telling the test when a read followed this node's
    /// write of a generation. A read that came before the test asks is remembered: the heartbeat
    /// wakes on the local apply and can write and read before the test gets to ask, and with a clock
    /// that never moves there is no later read to wait for.
    /// </summary>
    private sealed class Watched(PostgresNodeRegistry inner) : INodeRegistry
    {
        private readonly Lock _gate = new();
        private readonly List<(long Generation, TaskCompletionSource Read)> _waits = [];
        private long _written;
        private long _readAfterWriting = -1;

        public event Action<string>? RecordWritten
        {
            add => inner.RecordWritten += value;
            remove => inner.RecordWritten -= value;
        }

        public Task ReadAfterWriting(long generation)
        {
            var read = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_gate)
            {
                if (generation <= _readAfterWriting)
                {
                    read.TrySetResult();
                }
                else
                {
                    _waits.Add((generation, read));
                }
            }

            return read.Task;
        }

        public async Task HeartbeatAsync(NodeRecord node, CancellationToken cancellationToken)
        {
            await inner.HeartbeatAsync(node, cancellationToken);
            Interlocked.Exchange(ref _written, node.AppliedGeneration);
        }

        public async Task<IReadOnlyList<NodeRecord>> ListAsync(CancellationToken cancellationToken)
        {
            var written = Interlocked.Read(ref _written);
            var records = await inner.ListAsync(cancellationToken);
            lock (_gate)
            {
                _readAfterWriting = Math.Max(_readAfterWriting, written);
                foreach (var (generation, read) in _waits.Where(w => w.Generation <= written))
                {
                    read.TrySetResult();
                }
            }

            return records;
        }
    }
}
