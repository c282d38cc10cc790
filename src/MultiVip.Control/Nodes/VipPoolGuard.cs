using MultiVip.Model.Networking;

namespace MultiVip.Control.Nodes;

/// <summary>
/// One VIP pool per shared store. Nodes on one PostgreSQL database allocate VIP addresses from one
/// address table, each from its own --vip-pool: with different pools, a VIP made through one node
/// gets an address another node was told is not its to use, and which node made it decides where
/// the address comes from. A node therefore compares its pool with the live nodes' records before
/// it writes its first one and refuses to start when any differs.
/// </summary>
public static class VipPoolGuard
{
    /// <summary>
    /// Returns when every live node other than <paramref name="name"/> records the same pool as
    /// <paramref name="pool"/> (compared as <see cref="AddressPool.Canonical"/>), or records none (a
    /// version from before pools were recorded). Stopped and Down nodes are not asked: a pool is
    /// changed by stopping every node and starting them with the new one. Throws
    /// <see cref="InvalidOperationException"/> naming each disagreeing node with its pool and what
    /// to do. A registry that cannot be read lets the start go on, as <see cref="NodeNameGuard"/> does.
    /// </summary>
    public static async Task EnsureAgreesAsync(INodeRegistry registry, string name, AddressPool pool, TimeSpan downAfter, TimeProvider time, CancellationToken cancellationToken)
    {
        IReadOnlyList<NodeRecord> records;
        try
        {
            records = await registry.ListAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return;
        }

        var mine = pool.Canonical;
        var now = time.GetUtcNow();
        var others = records
            .Where(r => !string.Equals(r.Name, name, StringComparison.OrdinalIgnoreCase) && r.VipPool is not null && r.VipPool != mine && NodeStates.IsLive(r, now, downAfter))
            .ToList();
        if (others.Count == 0)
        {
            return;
        }

        var theirs = string.Join("; ", others.Select(r => $"node '{r.Name}' (API {r.ApiAddress}) has --vip-pool {r.VipPool}"));
        throw new InvalidOperationException(
            $"Not starting node '{name}' with --vip-pool {mine}: {theirs}, and every node sharing a --store allocates VIPs from one address table, so all need the same pool. "
            + $"Start this node with --vip-pool {others[0].VipPool} (the live nodes' pool). To move the cluster to another pool deliberately, stop every node, then start them all with the new --vip-pool.");
    }
}
