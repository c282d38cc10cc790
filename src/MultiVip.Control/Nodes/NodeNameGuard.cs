namespace MultiVip.Control.Nodes;

/// <summary>
/// One --node-name per running node on a shared registry. The registry row is an upsert by name, so
/// two running nodes with one name would overwrite each other's heartbeat and applied generation
/// every second: an operation could be reported Succeeded while one of them had not applied it, and
/// `node list` would show one node where there are two. A node therefore checks the name before it
/// writes its first record, and refuses to start when another node keeps beating under it.
/// </summary>
public static class NodeNameGuard
{
    /// <summary>
    /// Returns when <paramref name="name"/> is free: no record, a stopped one, one older than
    /// <paramref name="downAfter"/>, or a fresh one that stops beating while this waits three
    /// heartbeat intervals — the record a node left when it was killed (kill -9, then a restart at
    /// once, as systemd's Restart= does) is the usual case and must not refuse the restart. Throws
    /// <see cref="InvalidOperationException"/> with what to do when the record's heartbeat moves on
    /// meanwhile. A registry that cannot be read lets the start go on: the database's own outage
    /// handling applies, and the check is a guard against a configuration mistake, not a lock.
    /// </summary>
    public static async Task EnsureFreeAsync(INodeRegistry registry, string name, TimeSpan downAfter, TimeSpan heartbeatInterval, TimeProvider time, CancellationToken cancellationToken)
    {
        var first = await FindAsync(registry, name, cancellationToken);
        if (first is null || !NodeStates.IsLive(first, time.GetUtcNow(), downAfter))
        {
            return;
        }

        await Task.Delay(heartbeatInterval * 3, time, cancellationToken);
        var again = await FindAsync(registry, name, cancellationToken);
        if (again is null || again.StoppedAt is not null || again.LastHeartbeat <= first.LastHeartbeat)
        {
            return;
        }

        var age = NodeStates.HeartbeatAgeSeconds(again, time.GetUtcNow());
        throw new InvalidOperationException(
            $"Another node named '{again.Name}' is running on this state database (API {again.ApiAddress}, started {again.StartedAt.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC, "
            + $"last heartbeat {age:0.0} s ago): every node sharing a --store needs its own --node-name. "
            + "Start this one with another --node-name (the default is the host name), or stop the other one first.");
    }

    private static async Task<NodeRecord?> FindAsync(INodeRegistry registry, string name, CancellationToken cancellationToken)
    {
        try
        {
            var records = await registry.ListAsync(cancellationToken);
            return records.FirstOrDefault(r => string.Equals(r.Name, name, StringComparison.OrdinalIgnoreCase));
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return null;
        }
    }
}
