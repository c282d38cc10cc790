using System.Globalization;
using Microsoft.Data.Sqlite;

namespace MultiVip.Control.State;

/// <summary>
/// Versioned schema: each migration runs once, in order, in its own transaction, and is recorded in
/// <c>schema_migrations</c>. Append new migrations; never edit one that has shipped.
/// </summary>
internal static class SchemaMigrations
{
    private static readonly (int Version, string Name, string Sql)[] Migrations =
    [
        (1, "initial", """
            CREATE TABLE services (
                name TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
                version INTEGER NOT NULL,
                doc TEXT NOT NULL);
            CREATE TABLE reserved_ips (
                name TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
                version INTEGER NOT NULL,
                doc TEXT NOT NULL);
            CREATE TABLE addresses (
                address TEXT NOT NULL PRIMARY KEY,
                owner_kind TEXT NOT NULL,
                owner_name TEXT NOT NULL COLLATE NOCASE,
                vip_name TEXT);
            CREATE INDEX addresses_owner ON addresses(owner_kind, owner_name);
            CREATE TABLE operations (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT NOT NULL UNIQUE,
                created_at TEXT NOT NULL,
                status TEXT NOT NULL,
                target TEXT,
                doc TEXT NOT NULL);
            CREATE INDEX operations_status ON operations(status);
            CREATE TABLE meta (
                key TEXT NOT NULL PRIMARY KEY,
                value TEXT NOT NULL);
            """),

        // Usage (docs/usage.md): intervals are derived from committed changes and written with them;
        // traffic is sampled into minute buckets. Times are UTC ticks. Existing tables are untouched.
        (2, "usage", """
            CREATE TABLE usage_intervals (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                meter TEXT NOT NULL,
                name TEXT NOT NULL COLLATE NOCASE,
                service TEXT COLLATE NOCASE,
                vip TEXT COLLATE NOCASE,
                address TEXT NOT NULL,
                started_at INTEGER NOT NULL,
                ended_at INTEGER,
                started_by TEXT,
                ended_by TEXT);
            CREATE INDEX usage_intervals_open ON usage_intervals(meter, name) WHERE ended_at IS NULL;
            CREATE INDEX usage_intervals_started ON usage_intervals(started_at);
            CREATE TABLE usage_traffic (
                service TEXT NOT NULL COLLATE NOCASE,
                vip TEXT NOT NULL COLLATE NOCASE,
                bucket_start INTEGER NOT NULL,
                bytes_in INTEGER NOT NULL,
                bytes_out INTEGER NOT NULL,
                PRIMARY KEY (service, vip, bucket_start));
            CREATE INDEX usage_traffic_bucket ON usage_traffic(bucket_start);
            """),

        // The node registry (docs/operations.md#nodes): one row per node, replaced by its
        // heartbeat. Times are UTC ticks; faults a JSON array. Nothing else refers to it.
        (3, "nodes", """
            CREATE TABLE nodes (
                name TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
                api_address TEXT NOT NULL,
                started_at INTEGER NOT NULL,
                heartbeat_at INTEGER NOT NULL,
                applied_generation INTEGER NOT NULL,
                faults TEXT NOT NULL,
                version TEXT NOT NULL,
                stopped_at INTEGER);
            """),

        // Several writers (docs/architecture.md#storage): each aggregate row records the generation
        // that last wrote it and a deletion leaves a tombstone, so "what changed after generation G"
        // is one indexed read. Rows written before this migration are generation 0: no writer
        // catches up from below the generation it loaded whole.
        (4, "change feed", """
            ALTER TABLE services ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE reserved_ips ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
            CREATE INDEX services_generation ON services(generation);
            CREATE INDEX reserved_ips_generation ON reserved_ips(generation);
            CREATE TABLE tombstones (
                kind TEXT NOT NULL,
                name TEXT NOT NULL COLLATE NOCASE,
                generation INTEGER NOT NULL,
                PRIMARY KEY (kind, name));
            CREATE INDEX tombstones_generation ON tombstones(generation);
            """),

        // VIP failover (docs/network.md#several-nodes): the address each node announces from (the
        // others' VRRP unicast peer) and the VIPs it holds with its role, JSON. Null for older rows.
        (5, "node announcements", """
            ALTER TABLE nodes ADD COLUMN announce_address TEXT;
            ALTER TABLE nodes ADD COLUMN holds TEXT;
            """),

        // The VIP pool each node allocates from, as in the PostgreSQL registry (one mapping, NodeRows).
        (6, "node vip pools", """
            ALTER TABLE nodes ADD COLUMN vip_pool TEXT;
            """),
    ];

    public static int LatestVersion => Migrations[^1].Version;

    public static async Task ApplyAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        await using (var create = connection.CreateCommand())
        {
            create.CommandText = "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)";
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        long current;
        await using (var query = connection.CreateCommand())
        {
            query.CommandText = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";
            current = (long)(await query.ExecuteScalarAsync(cancellationToken))!;
        }

        if (current > LatestVersion)
        {
            throw new InvalidOperationException(
                $"The data dir's schema is version {current}, newer than this build knows ({LatestVersion}). Run a newer MultiVip.");
        }

        foreach (var (version, name, sql) in Migrations)
        {
            if (version <= current)
            {
                continue;
            }

            await using var tx = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
            await using (var migrate = connection.CreateCommand())
            {
                migrate.Transaction = tx;
                migrate.CommandText = sql;
                await migrate.ExecuteNonQueryAsync(cancellationToken);
            }

            await using (var record = connection.CreateCommand())
            {
                record.Transaction = tx;
                record.CommandText = "INSERT INTO schema_migrations(version, name, applied_at) VALUES($v, $n, $t)";
                record.Parameters.AddWithValue("$v", version);
                record.Parameters.AddWithValue("$n", name);
                record.Parameters.AddWithValue("$t", DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture));
                await record.ExecuteNonQueryAsync(cancellationToken);
            }

            await tx.CommitAsync(cancellationToken);
        }
    }
}
