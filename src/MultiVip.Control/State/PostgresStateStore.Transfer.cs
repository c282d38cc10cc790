using System.Data;
using MultiVip.Model.Operations;
using Npgsql;

namespace MultiVip.Control.State;

/// <summary>`multivip store copy` from and into the PostgreSQL store (<see cref="StoreCopy"/>).</summary>
public sealed partial class PostgresStateStore
{
    public Task<StoreSnapshot> ExportAsync(CancellationToken cancellationToken) => GuardAsync(async () =>
    {
        var state = await LoadAsync(cancellationToken);
        await using var connection = await _data.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
        await using var batch = new NpgsqlBatch(connection, tx)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand("SELECT doc FROM operations ORDER BY seq"),
                new NpgsqlBatchCommand("SELECT meter, name, service, vip, address, started_at, ended_at, started_by, ended_by FROM usage_intervals ORDER BY id"),
                new NpgsqlBatchCommand("SELECT service, vip, bucket_start, bytes_in, bytes_out FROM usage_traffic ORDER BY bucket_start, service, vip"),
            },
        };
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        var operations = await ReadDocumentsAsync<Operation>(reader, cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        var intervals = new List<UsageIntervalRow>();
        while (await reader.ReadAsync(cancellationToken))
        {
            intervals.Add(new UsageIntervalRow(
                reader.GetString(0), reader.GetString(1), NullableString(reader, 2), NullableString(reader, 3), reader.GetString(4),
                reader.GetInt64(5), reader.IsDBNull(6) ? null : reader.GetInt64(6), NullableString(reader, 7), NullableString(reader, 8)));
        }

        await reader.NextResultAsync(cancellationToken);
        var traffic = new List<UsageTrafficRow>();
        while (await reader.ReadAsync(cancellationToken))
        {
            traffic.Add(new UsageTrafficRow(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4)));
        }

        return new StoreSnapshot(state, operations, intervals, traffic);
    });

    public Task ImportAsync(StoreSnapshot snapshot, CancellationToken cancellationToken) => GuardAsync(async () =>
    {
        var state = snapshot.State;
        await using var connection = await _data.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection, tx);
        var guarded = new List<(NpgsqlBatchCommand Command, string Conflict)>();
        foreach (var service in state.Services)
        {
            Upsert(batch, guarded, "services", service.Name, service.Version, 0, state.Generation, StoredDocumentJson.Write(service));
            foreach (var vip in service.Deployment?.VirtualIps ?? [])
            {
                if (vip.Address is { } address && vip.ReservedIpName is null)
                {
                    Claim(batch, address, "vip", service.Name, vip.Name);
                }
            }
        }

        foreach (var reserved in state.ReservedIps)
        {
            Upsert(batch, guarded, "reserved_ips", reserved.Name, reserved.Version, 0, state.Generation, StoredDocumentJson.Write(reserved));
            Claim(batch, reserved.Address, "reserved", reserved.Name, null);
        }

        var cluster = new NpgsqlBatchCommand("UPDATE cluster_state SET generation = @g, allocation_cursor = @c, allocation_cursor_v6 = @c6 WHERE id = 1");
        cluster.Parameters.AddWithValue("g", state.Generation);
        cluster.Parameters.Add(new NpgsqlParameter("c", NpgsqlTypes.NpgsqlDbType.Bigint) { Value = state.AllocationCursor is { } c ? (long)c : DBNull.Value });
        cluster.Parameters.Add(Text("c6", state.AllocationCursorV6?.ToString()));
        batch.BatchCommands.Add(cluster);
        foreach (var operation in snapshot.Operations)
        {
            var insert = new NpgsqlBatchCommand("INSERT INTO operations(id, created_at, status, target, doc) VALUES(@id, @created, @status, @target, @doc)");
            insert.Parameters.AddWithValue("id", operation.OperationId);
            insert.Parameters.AddWithValue("created", operation.CreatedAt.ToUniversalTime());
            insert.Parameters.AddWithValue("status", operation.OperationStatus.ToString());
            insert.Parameters.Add(Text("target", operation.Target));
            insert.Parameters.AddWithValue("doc", StoredDocumentJson.Write(operation));
            batch.BatchCommands.Add(insert);
        }

        foreach (var row in snapshot.Intervals)
        {
            var insert = new NpgsqlBatchCommand("""
                INSERT INTO usage_intervals(meter, name, service, vip, address, started_at, ended_at, started_by, ended_by)
                VALUES(@meter, @name, @service, @vip, @address, @started, @ended, @startedBy, @endedBy)
                """);
            insert.Parameters.AddWithValue("meter", row.Meter);
            insert.Parameters.AddWithValue("name", row.Name);
            insert.Parameters.Add(Text("service", row.Service));
            insert.Parameters.Add(Text("vip", row.Vip));
            insert.Parameters.AddWithValue("address", row.Address);
            insert.Parameters.AddWithValue("started", row.StartedAt);
            insert.Parameters.Add(new NpgsqlParameter("ended", NpgsqlTypes.NpgsqlDbType.Bigint) { Value = (object?)row.EndedAt ?? DBNull.Value });
            insert.Parameters.Add(Text("startedBy", row.StartedBy));
            insert.Parameters.Add(Text("endedBy", row.EndedBy));
            batch.BatchCommands.Add(insert);
        }

        foreach (var row in snapshot.Traffic)
        {
            var insert = new NpgsqlBatchCommand("INSERT INTO usage_traffic(service, vip, bucket_start, bytes_in, bytes_out) VALUES(@service, @vip, @bucket, @in, @out)");
            insert.Parameters.AddWithValue("service", row.Service);
            insert.Parameters.AddWithValue("vip", row.Vip);
            insert.Parameters.AddWithValue("bucket", row.BucketStart);
            insert.Parameters.AddWithValue("in", row.BytesIn);
            insert.Parameters.AddWithValue("out", row.BytesOut);
            batch.BatchCommands.Add(insert);
        }

        await batch.ExecuteNonQueryAsync(cancellationToken);
        foreach (var (command, conflict) in guarded)
        {
            if (command.RecordsAffected != 1)
            {
                throw new StoreCopyException($"Nothing was copied: {conflict}");
            }
        }

        await tx.CommitAsync(cancellationToken);
        return true;
    });

    private static string? NullableString(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
