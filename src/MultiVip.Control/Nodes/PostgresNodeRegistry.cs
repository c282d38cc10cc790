using System.Text.Json;
using Npgsql;

namespace MultiVip.Control.Nodes;

/// <summary>
/// The node registry shared by every node on one PostgreSQL state database (table <c>nodes</c>,
/// PostgreSQL migration 2): each node upserts its own row on every heartbeat and reads everyone's.
/// Names are unique without case (name_key is the upper-cased name), as in the SQLite registry.
/// </summary>
public sealed class PostgresNodeRegistry(NpgsqlDataSource data) : INodeRegistry
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public async Task HeartbeatAsync(NodeRecord node, CancellationToken cancellationToken)
    {
        await using var cmd = data.CreateCommand("""
            INSERT INTO nodes(name_key, name, api_address, started_at, heartbeat_at, applied_generation, faults, version, stopped_at)
            VALUES(@key, @name, @api, @started, @heartbeat, @applied, @faults, @version, @stopped)
            ON CONFLICT (name_key) DO UPDATE SET name = excluded.name, api_address = excluded.api_address, started_at = excluded.started_at,
                heartbeat_at = excluded.heartbeat_at, applied_generation = excluded.applied_generation, faults = excluded.faults, version = excluded.version,
                stopped_at = excluded.stopped_at
            """);
        cmd.Parameters.AddWithValue("key", node.Name.ToUpperInvariant());
        cmd.Parameters.AddWithValue("name", node.Name);
        cmd.Parameters.AddWithValue("api", node.ApiAddress);
        cmd.Parameters.AddWithValue("started", node.StartedAt.UtcTicks);
        cmd.Parameters.AddWithValue("heartbeat", node.LastHeartbeat.UtcTicks);
        cmd.Parameters.AddWithValue("applied", node.AppliedGeneration);
        cmd.Parameters.AddWithValue("faults", JsonSerializer.Serialize(node.Faults, Json));
        cmd.Parameters.AddWithValue("version", node.Version);
        cmd.Parameters.Add(new NpgsqlParameter<long?>("stopped", node.StoppedAt?.UtcTicks));
        await cmd.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<NodeRecord>> ListAsync(CancellationToken cancellationToken)
    {
        await using var cmd = data.CreateCommand("SELECT name, api_address, started_at, heartbeat_at, applied_generation, faults, version, stopped_at FROM nodes ORDER BY name_key");
        var nodes = new List<NodeRecord>();
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            nodes.Add(new NodeRecord
            {
                Name = reader.GetString(0),
                ApiAddress = reader.GetString(1),
                StartedAt = new DateTimeOffset(reader.GetInt64(2), TimeSpan.Zero),
                LastHeartbeat = new DateTimeOffset(reader.GetInt64(3), TimeSpan.Zero),
                AppliedGeneration = reader.GetInt64(4),
                Faults = ReadFaults(reader.GetString(5)),
                Version = reader.GetString(6),
                StoppedAt = reader.IsDBNull(7) ? null : new DateTimeOffset(reader.GetInt64(7), TimeSpan.Zero),
            });
        }

        return nodes;
    }

    /// <summary>A record another version wrote with faults this one cannot read still lists the node; only its faults are lost.</summary>
    private static List<NodeFault> ReadFaults(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<List<NodeFault>>(json, Json) ?? [];
        }
        catch (JsonException)
        {
            return [new NodeFault("", "", "this node's faults could not be read: " + json[..Math.Min(json.Length, 200)])];
        }
    }
}
