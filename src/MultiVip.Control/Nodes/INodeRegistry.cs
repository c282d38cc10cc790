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

    /// <summary>
    /// Raised with the writer's name when some node wrote its record (this one included), so a
    /// reader waiting for another node's progress reads at once instead of at its next poll. A
    /// registry without such a feed never raises it (SQLite: one node alone), and a notice may be
    /// missed (a lost listening connection): readers keep polling as the fallback.
    /// </summary>
    event Action<string>? RecordWritten
    {
        add { }
        remove { }
    }
}
