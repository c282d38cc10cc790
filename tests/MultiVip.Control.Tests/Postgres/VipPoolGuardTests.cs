using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using MultiVip.Control.Nodes;
using MultiVip.Control.State;
using MultiVip.Model.Networking;

namespace MultiVip.Control.Tests.Postgres;

/// <summary>
/// Nodes on one PostgreSQL store allocate from one address table, so they must share a --vip-pool:
/// a node whose pool differs from a live node's refuses to start. Real registry (PostgreSQL, with
/// migration 4's vip_pool column), fake clock for which records are live.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class VipPoolGuardTests(PostgresFixture fixture)
{
    private static readonly TimeSpan DownAfter = TimeSpan.FromSeconds(10);
    private static readonly AddressPool PoolA = AddressPool.Parse(["198.51.100.64/26"]);

    [Fact]
    public async Task A_node_with_another_pool_than_a_live_node_is_refused_with_both_pools_and_what_to_do()
    {
        await using var store = await OpenAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await store.Nodes.HeartbeatAsync(Record("lb-a", time.GetUtcNow(), PoolA.Canonical), default);

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            VipPoolGuard.EnsureAgreesAsync(store.Nodes, "lb-b", AddressPool.Parse(["198.51.100.0/26"]), DownAfter, time, default));

        Assert.Contains("Not starting node 'lb-b' with --vip-pool 198.51.100.1-198.51.100.62: node 'lb-a' (API http://198.51.100.1:7400) has --vip-pool 198.51.100.65-198.51.100.126", refused.Message, StringComparison.Ordinal);
        Assert.Contains("Start this node with --vip-pool 198.51.100.65-198.51.100.126", refused.Message, StringComparison.Ordinal);
        Assert.Contains("stop every node, then start them all with the new --vip-pool", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_same_addresses_written_another_way_agree()
    {
        await using var store = await OpenAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var given = AddressPool.Parse(["2001:db8::10-2001:db8::20", "198.51.100.64/26"]);
        await store.Nodes.HeartbeatAsync(Record("lb-a", time.GetUtcNow(), given.Canonical), default);

        await VipPoolGuard.EnsureAgreesAsync(store.Nodes, "lb-b", AddressPool.Parse(["198.51.100.65-198.51.100.126", "2001:db8::10-2001:db8::20"]), DownAfter, time, default);
    }

    [Fact]
    public async Task Stopped_down_and_unrecorded_pools_and_the_nodes_own_old_record_are_not_asked()
    {
        await using var store = await OpenAsync();
        var now = DateTimeOffset.UtcNow;
        var time = new FakeTimeProvider(now);
        await store.Nodes.HeartbeatAsync(Record("stopped", now, PoolA.Canonical) with { StoppedAt = now }, default);
        await store.Nodes.HeartbeatAsync(Record("down", now - DownAfter - TimeSpan.FromSeconds(1), PoolA.Canonical), default);
        await store.Nodes.HeartbeatAsync(Record("older-version", now, vipPool: null), default);
        // A node restarted with a new pool: its own record (left by kill -9) still has the old one.
        await store.Nodes.HeartbeatAsync(Record("lb-b", now, PoolA.Canonical), default);

        await VipPoolGuard.EnsureAgreesAsync(store.Nodes, "LB-B", AddressPool.Parse(["203.0.113.0/28"]), DownAfter, time, default);
    }

    [Fact]
    public async Task The_registry_keeps_each_nodes_pool()
    {
        await using var store = await OpenAsync();
        var now = DateTimeOffset.UtcNow;
        await store.Nodes.HeartbeatAsync(Record("lb-a", now, PoolA.Canonical), default);
        await store.Nodes.HeartbeatAsync(Record("lb-b", now, vipPool: null), default);

        var listed = await store.Nodes.ListAsync(default);
        Assert.Equal("198.51.100.65-198.51.100.126", listed.Single(n => n.Name == "lb-a").VipPool);
        Assert.Null(listed.Single(n => n.Name == "lb-b").VipPool);
    }

    private async Task<PostgresStateStore> OpenAsync() =>
        await PostgresStateStore.OpenAsync(PostgresLocation.Parse(await fixture.CreateDatabaseAsync()), TimeProvider.System, NullLoggerFactory.Instance, default);

    private static NodeRecord Record(string name, DateTimeOffset heartbeat, string? vipPool) => new()
    {
        Name = name,
        ApiAddress = "http://198.51.100.1:7400",
        StartedAt = heartbeat - TimeSpan.FromMinutes(5),
        LastHeartbeat = heartbeat,
        Version = "test",
        VipPool = vipPool,
    };
}
