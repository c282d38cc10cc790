using Npgsql;

namespace MultiVip.Control.Nodes;

/// <summary>
/// The node registry shared by every node on one PostgreSQL state database (table <c>nodes</c>,
/// PostgreSQL migration 2): each node upserts its own row on every heartbeat and reads everyone's.
/// Names are unique without case (name_key is the upper-cased name), as in the SQLite registry.
/// Every write NOTIFYs <see cref="Channel"/> with the node's name in the same round trip; the
/// store's listener hears it on every node (<see cref="RecordWritten"/>), so an operation waiting
/// for the writer completes when its record says so, not at the reader's next poll.
/// </summary>
public sealed class PostgresNodeRegistry(NpgsqlDataSource data) : INodeRegistry
{
    public const string Channel = "multivip_nodes";

    public event Action<string>? RecordWritten;

    public async Task HeartbeatAsync(NodeRecord node, CancellationToken cancellationToken)
    {
        await using var cmd = data.CreateCommand($"""
            INSERT INTO nodes(name_key, name, api_address, started_at, heartbeat_at, applied_generation, faults, version, stopped_at, announce_address, holds, vip_pool)
            VALUES(@key, @name, @api, @started, @heartbeat, @applied, @faults, @version, @stopped, @announce, @holds, @pool)
            ON CONFLICT (name_key) DO UPDATE SET name = excluded.name, api_address = excluded.api_address, started_at = excluded.started_at,
                heartbeat_at = excluded.heartbeat_at, applied_generation = excluded.applied_generation, faults = excluded.faults, version = excluded.version,
                stopped_at = excluded.stopped_at, announce_address = excluded.announce_address, holds = excluded.holds,
                vip_pool = excluded.vip_pool;
            SELECT pg_notify('{Channel}', @name);
            """);
        cmd.Parameters.AddWithValue("key", node.Name.ToUpperInvariant());
        cmd.Parameters.AddWithValue("name", node.Name);
        cmd.Parameters.AddWithValue("api", node.ApiAddress);
        cmd.Parameters.AddWithValue("started", node.StartedAt.UtcTicks);
        cmd.Parameters.AddWithValue("heartbeat", node.LastHeartbeat.UtcTicks);
        cmd.Parameters.AddWithValue("applied", node.AppliedGeneration);
        cmd.Parameters.AddWithValue("faults", NodeRows.FaultsJson(node));
        cmd.Parameters.AddWithValue("version", node.Version);
        cmd.Parameters.Add(new NpgsqlParameter<long?>("stopped", node.StoppedAt?.UtcTicks));
        cmd.Parameters.Add(new NpgsqlParameter<string?>("announce", node.AnnounceAddress));
        cmd.Parameters.Add(new NpgsqlParameter<string?>("holds", NodeRows.HoldsJson(node)));
        cmd.Parameters.Add(new NpgsqlParameter<string?>("pool", node.VipPool));
        await cmd.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>A notification on <see cref="Channel"/> (from the store's listening connection): <paramref name="name"/> wrote its record.</summary>
    internal void Notified(string name) => RecordWritten?.Invoke(name);

    public async Task<IReadOnlyList<NodeRecord>> ListAsync(CancellationToken cancellationToken)
    {
        await using var cmd = data.CreateCommand($"SELECT {NodeRows.Columns} FROM nodes ORDER BY name_key");
        var nodes = new List<NodeRecord>();
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            nodes.Add(NodeRows.Read(reader));
        }

        return nodes;
    }
}
