using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using MultiVip.Control.Nodes;
using MultiVip.Control.State;

namespace MultiVip.Control.Tests.Postgres;

/// <summary>
/// Two running nodes with one --node-name on one PostgreSQL registry would overwrite each other's
/// row; the second refuses to start. The record a killed node left must not refuse its restart.
/// Real registry (PostgreSQL), fake clock for the guard's wait.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class NodeNameGuardTests(PostgresFixture fixture)
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan DownAfter = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_second_node_with_a_running_nodes_name_is_refused_with_what_to_do()
    {
        await using var store = await OpenAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var registry = new ReadSignal(store.Nodes);
        await store.Nodes.HeartbeatAsync(Record("lb-a", time.GetUtcNow()), default);

        var guard = NodeNameGuard.EnsureFreeAsync(registry, "LB-A", DownAfter, Interval, time, default);
        await registry.FirstRead.WaitAsync(TimeSpan.FromSeconds(30));
        // The running node beats on while the starting one waits.
        var beat = Record("lb-a", time.GetUtcNow() + Interval);
        await store.Nodes.HeartbeatAsync(beat, default);
        Assert.True(await AdvanceUntilDoneAsync(time, guard) >= Interval * 3, "the guard refused before it waited");

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => guard);
        Assert.Contains("Another node named 'lb-a' is running on this state database (API http://198.51.100.1:7400", refused.Message, StringComparison.Ordinal);
        Assert.Contains("needs its own --node-name", refused.Message, StringComparison.Ordinal);
        // Nothing was written by the refused node: the running node's record is as it wrote it.
        Assert.Equal(beat.LastHeartbeat, (await store.Nodes.ListAsync(default)).Single().LastHeartbeat);
    }

    [Fact]
    public async Task The_fresh_record_of_a_killed_node_does_not_refuse_its_restart()
    {
        await using var store = await OpenAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await store.Nodes.HeartbeatAsync(Record("lb-a", time.GetUtcNow() - TimeSpan.FromSeconds(2)), default);

        var guard = NodeNameGuard.EnsureFreeAsync(store.Nodes, "lb-a", DownAfter, Interval, time, default);
        // The record is fresh: the guard waits three heartbeats to see whether it moves on, then lets the start go on.
        Assert.True(await AdvanceUntilDoneAsync(time, guard) >= Interval * 3, "the guard did not wait for a fresh record");
        await guard;
    }

    [Fact]
    public async Task A_stopped_or_old_record_or_another_name_lets_the_start_go_on_at_once()
    {
        await using var store = await OpenAsync();
        var now = DateTimeOffset.UtcNow;
        var time = new FakeTimeProvider(now);
        await store.Nodes.HeartbeatAsync(Record("stopped", now) with { StoppedAt = now }, default);
        await store.Nodes.HeartbeatAsync(Record("old", now - DownAfter - TimeSpan.FromSeconds(1)), default);
        await store.Nodes.HeartbeatAsync(Record("other", now), default);

        foreach (var name in new[] { "stopped", "old", "new-node" })
        {
            // No clock advance: these must not wait at all.
            await NodeNameGuard.EnsureFreeAsync(store.Nodes, name, DownAfter, Interval, time, default).WaitAsync(TimeSpan.FromSeconds(30));
        }
    }

    private async Task<PostgresStateStore> OpenAsync() =>
        await PostgresStateStore.OpenAsync(PostgresLocation.Parse(await fixture.CreateDatabaseAsync()), TimeProvider.System, NullLoggerFactory.Instance, default);

    private static NodeRecord Record(string name, DateTimeOffset heartbeat) => new()
    {
        Name = name,
        ApiAddress = "http://198.51.100.1:7400",
        StartedAt = heartbeat - TimeSpan.FromMinutes(5),
        LastHeartbeat = heartbeat,
        Version = "test",
    };

    /// <summary>
    /// The guard's wait is a timer on the fake clock, made after its first read: move the clock in
    /// steps until the guard has finished (bounded by real time); returns how far the clock moved.
    /// </summary>
    private static async Task<TimeSpan> AdvanceUntilDoneAsync(FakeTimeProvider time, Task guard)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        var advanced = TimeSpan.Zero;
        while (!guard.IsCompleted && DateTime.UtcNow < deadline)
        {
            await Task.WhenAny(guard, Task.Delay(20));
            if (!guard.IsCompleted)
            {
                time.Advance(TimeSpan.FromMilliseconds(500));
                advanced += TimeSpan.FromMilliseconds(500);
            }
        }

        Assert.True(guard.IsCompleted, "the name check did not finish after its wait");
        return advanced;
    }

    /// <summary>The real registry, telling the test when the guard's first read is done.</summary>
    private sealed class ReadSignal(INodeRegistry inner) : INodeRegistry
    {
        private readonly TaskCompletionSource _first = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task FirstRead => _first.Task;

        public Task HeartbeatAsync(NodeRecord node, CancellationToken cancellationToken) => inner.HeartbeatAsync(node, cancellationToken);

        public async Task<IReadOnlyList<NodeRecord>> ListAsync(CancellationToken cancellationToken)
        {
            var records = await inner.ListAsync(cancellationToken);
            _first.TrySetResult();
            return records;
        }
    }
}
