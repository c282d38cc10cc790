using System.Globalization;
using Microsoft.Data.Sqlite;
using MultiVip.Model.Operations;

namespace MultiVip.Control.State;

/// <summary>`multivip store copy` from and into the SQLite store (<see cref="StoreCopy"/>).</summary>
public sealed partial class SqliteStateStore
{
    public async Task<StoreSnapshot> ExportAsync(CancellationToken cancellationToken)
    {
        var state = await LoadAsync(cancellationToken);
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            await using var tx = _writer.BeginTransaction(deferred: true);
            var operations = new List<Operation>();
            await using (var cmd = _writer.CreateCommand())
            {
                cmd.Transaction = tx;
                cmd.CommandText = "SELECT doc FROM operations ORDER BY seq";
                await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    operations.Add(Deserialize<Operation>(reader.GetString(0)));
                }
            }

            var intervals = new List<UsageIntervalRow>();
            await using (var cmd = _writer.CreateCommand())
            {
                cmd.Transaction = tx;
                cmd.CommandText = "SELECT meter, name, service, vip, address, started_at, ended_at, started_by, ended_by FROM usage_intervals ORDER BY id";
                await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    intervals.Add(new UsageIntervalRow(
                        reader.GetString(0), reader.GetString(1), NullableString(reader, 2), NullableString(reader, 3), reader.GetString(4),
                        reader.GetInt64(5), reader.IsDBNull(6) ? null : reader.GetInt64(6), NullableString(reader, 7), NullableString(reader, 8)));
                }
            }

            var traffic = new List<UsageTrafficRow>();
            await using (var cmd = _writer.CreateCommand())
            {
                cmd.Transaction = tx;
                cmd.CommandText = "SELECT service, vip, bucket_start, bytes_in, bytes_out FROM usage_traffic ORDER BY bucket_start, service, vip";
                await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    traffic.Add(new UsageTrafficRow(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4)));
                }
            }

            await tx.CommitAsync(cancellationToken);
            return new StoreSnapshot(state, operations, intervals, traffic);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public async Task ImportAsync(StoreSnapshot snapshot, CancellationToken cancellationToken)
    {
        var state = snapshot.State;
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            await using var tx = (SqliteTransaction)await _writer.BeginTransactionAsync(System.Data.IsolationLevel.Serializable, cancellationToken);
            foreach (var service in state.Services)
            {
                await UpsertAsync(tx, "services", service.Name, service.Version, 0, state.Generation, Serialize(service), cancellationToken);
                foreach (var vip in service.Deployment?.VirtualIps ?? [])
                {
                    if (vip.Address is { } address && vip.ReservedIpName is null)
                    {
                        await ClaimAddressAsync(tx, address, "vip", service.Name, vip.Name, cancellationToken);
                    }
                }
            }

            foreach (var reserved in state.ReservedIps)
            {
                await UpsertAsync(tx, "reserved_ips", reserved.Name, reserved.Version, 0, state.Generation, Serialize(reserved), cancellationToken);
                await ClaimAddressAsync(tx, reserved.Address, "reserved", reserved.Name, null, cancellationToken);
            }

            if (state.AllocationCursor is { } cursor)
            {
                await SetMetaAsync(tx, "allocation_cursor", cursor.ToString(CultureInfo.InvariantCulture), cancellationToken);
            }

            if (state.AllocationCursorV6 is { } cursorV6)
            {
                await SetMetaAsync(tx, "allocation_cursor_v6", cursorV6.ToString(), cancellationToken);
            }

            await SetMetaAsync(tx, "generation", state.Generation.ToString(CultureInfo.InvariantCulture), cancellationToken);
            foreach (var operation in snapshot.Operations)
            {
                await InsertOperationAsync(tx, operation, cancellationToken);
            }

            foreach (var row in snapshot.Intervals)
            {
                await using var cmd = _writer.CreateCommand();
                cmd.Transaction = tx;
                cmd.CommandText = """
                    INSERT INTO usage_intervals(meter, name, service, vip, address, started_at, ended_at, started_by, ended_by)
                    VALUES($meter, $name, $service, $vip, $address, $started, $ended, $startedBy, $endedBy)
                    """;
                cmd.Parameters.AddWithValue("$meter", row.Meter);
                cmd.Parameters.AddWithValue("$name", row.Name);
                cmd.Parameters.AddWithValue("$service", (object?)row.Service ?? DBNull.Value);
                cmd.Parameters.AddWithValue("$vip", (object?)row.Vip ?? DBNull.Value);
                cmd.Parameters.AddWithValue("$address", row.Address);
                cmd.Parameters.AddWithValue("$started", row.StartedAt);
                cmd.Parameters.AddWithValue("$ended", (object?)row.EndedAt ?? DBNull.Value);
                cmd.Parameters.AddWithValue("$startedBy", (object?)row.StartedBy ?? DBNull.Value);
                cmd.Parameters.AddWithValue("$endedBy", (object?)row.EndedBy ?? DBNull.Value);
                await cmd.ExecuteNonQueryAsync(cancellationToken);
            }

            foreach (var row in snapshot.Traffic)
            {
                await using var cmd = _writer.CreateCommand();
                cmd.Transaction = tx;
                cmd.CommandText = "INSERT INTO usage_traffic(service, vip, bucket_start, bytes_in, bytes_out) VALUES($service, $vip, $bucket, $in, $out)";
                cmd.Parameters.AddWithValue("$service", row.Service);
                cmd.Parameters.AddWithValue("$vip", row.Vip);
                cmd.Parameters.AddWithValue("$bucket", row.BucketStart);
                cmd.Parameters.AddWithValue("$in", row.BytesIn);
                cmd.Parameters.AddWithValue("$out", row.BytesOut);
                await cmd.ExecuteNonQueryAsync(cancellationToken);
            }

            await tx.CommitAsync(cancellationToken);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private static string? NullableString(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
