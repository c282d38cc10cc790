namespace MultiVip.Control.Nodes;

/// <summary>
/// Where the nodes that share one state find each other: each writes its own record (heartbeat,
/// an upsert by name) and reads everyone's. Deliberately two calls, so a shared database
/// (PostgreSQL) implements it with one table and two statements; SQLite holds it for the
/// embedded single node (<see cref="SqliteNodeRegistry"/>).
/// </summary>
public interface INodeRegistry
{
    /// <summary>Inserts or replaces the record of <see cref="NodeRecord.Name"/>.</summary>
    Task HeartbeatAsync(NodeRecord node, CancellationToken cancellationToken);

    /// <summary>Every node's record, by name.</summary>
    Task<IReadOnlyList<NodeRecord>> ListAsync(CancellationToken cancellationToken);
}
