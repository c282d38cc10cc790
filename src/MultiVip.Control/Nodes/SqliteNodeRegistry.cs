using Microsoft.Data.Sqlite;
using MultiVip.Control.State;

namespace MultiVip.Control.Nodes;

/// <summary>
/// The node registry in the state database (table <c>nodes</c>, schema migration 3), for the
/// embedded single node: its record is what `node list` shows and what a PostgreSQL registry
/// shares between nodes. Own connections, like the usage store: a heartbeat never takes the
/// state writer's connection, and SQLite's busy timeout queues it behind a commit. The record is
/// rewritten every second and means nothing after a crash, so it is written without the fsync
/// the state needs (synchronous=NORMAL in WAL mode).
/// </summary>
public sealed class SqliteNodeRegistry(SqliteConnections connections) : INodeRegistry
{
    public SqliteNodeRegistry(string connectionString)
        : this(new SqliteConnections(connectionString))
    {
    }

    public async Task HeartbeatAsync(NodeRecord node, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var cmd = connection.CreateCommand();
        cmd.CommandText = """
            INSERT INTO nodes(name, api_address, started_at, heartbeat_at, applied_generation, faults, version, stopped_at, announce_address, holds, vip_pool)
            VALUES($name, $api, $started, $heartbeat, $applied, $faults, $version, $stopped, $announce, $holds, $pool)
            ON CONFLICT(name) DO UPDATE SET name = excluded.name, api_address = excluded.api_address, started_at = excluded.started_at,
                heartbeat_at = excluded.heartbeat_at, applied_generation = excluded.applied_generation, faults = excluded.faults, version = excluded.version,
                stopped_at = excluded.stopped_at, announce_address = excluded.announce_address, holds = excluded.holds,
                vip_pool = excluded.vip_pool
            """;
        cmd.Parameters.AddWithValue("$name", node.Name);
        cmd.Parameters.AddWithValue("$api", node.ApiAddress);
        cmd.Parameters.AddWithValue("$started", node.StartedAt.UtcTicks);
        cmd.Parameters.AddWithValue("$heartbeat", node.LastHeartbeat.UtcTicks);
        cmd.Parameters.AddWithValue("$applied", node.AppliedGeneration);
        cmd.Parameters.AddWithValue("$faults", NodeRows.FaultsJson(node));
        cmd.Parameters.AddWithValue("$version", node.Version);
        cmd.Parameters.AddWithValue("$stopped", node.StoppedAt is { } stopped ? stopped.UtcTicks : DBNull.Value);
        cmd.Parameters.AddWithValue("$announce", (object?)node.AnnounceAddress ?? DBNull.Value);
        cmd.Parameters.AddWithValue("$holds", (object?)NodeRows.HoldsJson(node) ?? DBNull.Value);
        cmd.Parameters.AddWithValue("$pool", (object?)node.VipPool ?? DBNull.Value);
        await cmd.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<NodeRecord>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var cmd = connection.CreateCommand();
        cmd.CommandText = $"SELECT {NodeRows.Columns} FROM nodes ORDER BY name";
        var nodes = new List<NodeRecord>();
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            nodes.Add(NodeRows.Read(reader));
        }

        return nodes;
    }

    private Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken) =>
        connections.OpenAsync("PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;", cancellationToken);
}
