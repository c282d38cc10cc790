using Npgsql;

namespace MultiVip.Control.State;

/// <summary>
/// The PostgreSQL schema, versioned like SQLite's (<see cref="SchemaMigrations"/>) but in its own
/// list: the two databases differ in types and in how names ignore case. Every node runs this at
/// start; all of it happens in one transaction that first takes a transaction-scoped advisory lock,
/// so however many nodes start together, one applies the pending migrations and the others wait
/// and then find nothing left to do. Append new migrations; never edit one that has shipped.
/// </summary>
internal static class PostgresMigrations
{
    /// <summary>pg_advisory_xact_lock key: "MVIP" in ASCII, so it is recognisable in pg_locks.</summary>
    private const long LockKey = 0x4D564950;

    private static readonly (int Version, string Name, string Sql)[] Migrations =
    [
        // Names are case-insensitive (as Azure's and the NOCASE columns of SQLite): name_key is the
        // upper-cased name, the primary key; name keeps the spelling. cluster_state is one row: the
        // generation counter (updated under its row lock in every commit, so generations follow
        // commit order) and the allocation cursors.
        (1, "initial", """
            CREATE TABLE cluster_state (
                id integer PRIMARY KEY CHECK (id = 1),
                generation bigint NOT NULL,
                allocation_cursor bigint,
                allocation_cursor_v6 text);
            INSERT INTO cluster_state(id, generation) VALUES (1, 0);
            CREATE TABLE services (
                name_key text PRIMARY KEY,
                name text NOT NULL,
                version bigint NOT NULL,
                generation bigint NOT NULL,
                doc text NOT NULL);
            CREATE INDEX services_generation ON services(generation);
            CREATE TABLE reserved_ips (
                name_key text PRIMARY KEY,
                name text NOT NULL,
                version bigint NOT NULL,
                generation bigint NOT NULL,
                doc text NOT NULL);
            CREATE INDEX reserved_ips_generation ON reserved_ips(generation);
            CREATE TABLE tombstones (
                kind text NOT NULL,
                name_key text NOT NULL,
                name text NOT NULL,
                generation bigint NOT NULL,
                PRIMARY KEY (kind, name_key));
            CREATE INDEX tombstones_generation ON tombstones(generation);
            CREATE TABLE addresses (
                address text PRIMARY KEY,
                owner_kind text NOT NULL,
                owner_key text NOT NULL,
                vip_name text);
            CREATE INDEX addresses_owner ON addresses(owner_kind, owner_key);
            CREATE TABLE operations (
                seq bigserial PRIMARY KEY,
                id uuid NOT NULL UNIQUE,
                created_at timestamptz NOT NULL,
                status text NOT NULL,
                target text,
                doc text NOT NULL);
            CREATE INDEX operations_in_progress ON operations(seq) WHERE status = 'InProgress';
            CREATE TABLE usage_intervals (
                id bigserial PRIMARY KEY,
                meter text NOT NULL,
                name text NOT NULL,
                service text,
                vip text,
                address text NOT NULL,
                started_at bigint NOT NULL,
                ended_at bigint,
                started_by text,
                ended_by text);
            CREATE INDEX usage_intervals_open ON usage_intervals(meter, upper(name)) WHERE ended_at IS NULL;
            CREATE INDEX usage_intervals_started ON usage_intervals(started_at);
            CREATE TABLE usage_traffic (
                service text NOT NULL,
                vip text NOT NULL,
                bucket_start bigint NOT NULL,
                bytes_in bigint NOT NULL,
                bytes_out bigint NOT NULL,
                PRIMARY KEY (service, vip, bucket_start));
            CREATE INDEX usage_traffic_bucket ON usage_traffic(bucket_start);
            """),

        // The node registry (Nodes/PostgresNodeRegistry): one row per node, replaced by its heartbeat.
        (2, "nodes", """
            CREATE TABLE nodes (
                name_key text PRIMARY KEY,
                name text NOT NULL,
                api_address text NOT NULL,
                started_at bigint NOT NULL,
                heartbeat_at bigint NOT NULL,
                applied_generation bigint NOT NULL,
                faults text NOT NULL,
                version text NOT NULL,
                stopped_at bigint);
            """),

        // VIP failover: the address each node announces from (the others' VRRP unicast peer) and
        // the VIPs it holds with its role, JSON. Null for rows older versions wrote.
        (3, "node announcements", """
            ALTER TABLE nodes ADD COLUMN announce_address text, ADD COLUMN holds text;
            """),

        // The VIP pool each node allocates from (Nodes/VipPoolGuard: a node whose --vip-pool differs
        // from a live node's refuses to start). Null for rows older versions wrote.
        (4, "node vip pools", """
            ALTER TABLE nodes ADD COLUMN vip_pool text;
            """),
    ];

    public static int LatestVersion => Migrations[^1].Version;

    /// <summary>Brings the schema up to date; returns how many migrations this call applied.</summary>
    public static async Task<int> ApplyAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await using (var setup = new NpgsqlCommand(
            "SELECT pg_advisory_xact_lock(@key); CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
            connection, tx))
        {
            setup.Parameters.AddWithValue("key", LockKey);
            await setup.ExecuteNonQueryAsync(cancellationToken);
        }

        int current;
        await using (var query = new NpgsqlCommand("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", connection, tx))
        {
            current = Convert.ToInt32(await query.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
        }

        if (current > LatestVersion)
        {
            throw new StateStorageException(
                $"Not starting: the state database's schema is version {current}, newer than this build knows ({LatestVersion}). Run the MultiVip version the other nodes run, or newer.");
        }

        var applied = 0;
        foreach (var (version, name, sql) in Migrations)
        {
            if (version <= current)
            {
                continue;
            }

            await using (var migrate = new NpgsqlCommand(sql, connection, tx))
            {
                await migrate.ExecuteNonQueryAsync(cancellationToken);
            }

            await using (var record = new NpgsqlCommand("INSERT INTO schema_migrations(version, name) VALUES(@v, @n)", connection, tx))
            {
                record.Parameters.AddWithValue("v", version);
                record.Parameters.AddWithValue("n", name);
                await record.ExecuteNonQueryAsync(cancellationToken);
            }

            applied++;
        }

        await tx.CommitAsync(cancellationToken);
        return applied;
    }
}
