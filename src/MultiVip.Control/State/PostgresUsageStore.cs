using MultiVip.Control.Usage;
using Npgsql;
using NpgsqlTypes;

namespace MultiVip.Control.State;

/// <summary>
/// Usage on PostgreSQL, the same tables and rules as <see cref="SqliteUsageStore"/>: intervals are
/// written by <see cref="PostgresStateStore"/> inside each commit's transaction (<see cref="AddWrites"/>);
/// this reads them back and writes what is not part of a change. Names compare case-insensitively
/// (upper() on both sides), as SQLite's NOCASE columns do.
/// </summary>
public sealed class PostgresUsageStore(NpgsqlDataSource data) : IUsageStore
{
    /// <summary>Adds the statements for <paramref name="transitions"/> to a commit's batch: ends close the subject's open interval, starts open one.</summary>
    internal static void AddWrites(NpgsqlBatch batch, IReadOnlyList<UsageTransition> transitions)
    {
        foreach (var transition in transitions)
        {
            var holding = transition.Holding;
            var at = transition.At.UtcTicks;
            var operation = transition.OperationId?.ToString();

            // A start first closes whatever the subject still holds, so a subject never has two open intervals.
            var close = new NpgsqlBatchCommand("""
                UPDATE usage_intervals SET ended_at = GREATEST(@at, started_at), ended_by = @op
                WHERE meter = @meter AND upper(name) = upper(@name) AND ended_at IS NULL AND (@meter = 'reserved' OR upper(service) = upper(@service))
                """);
            close.Parameters.AddWithValue("at", at);
            close.Parameters.Add(Text("op", operation));
            close.Parameters.AddWithValue("meter", UsageRows.Meter(holding.Meter));
            close.Parameters.AddWithValue("name", holding.Name);
            close.Parameters.Add(Text("service", holding.ServiceName));
            batch.BatchCommands.Add(close);
            if (!transition.Starts)
            {
                continue;
            }

            var open = new NpgsqlBatchCommand("""
                INSERT INTO usage_intervals(meter, name, service, vip, address, started_at, started_by)
                VALUES(@meter, @name, @service, @vip, @address, @at, @op)
                """);
            open.Parameters.AddWithValue("meter", UsageRows.Meter(holding.Meter));
            open.Parameters.AddWithValue("name", holding.Name);
            open.Parameters.Add(Text("service", holding.ServiceName));
            open.Parameters.Add(Text("vip", holding.VirtualIpName));
            open.Parameters.AddWithValue("address", holding.Address);
            open.Parameters.AddWithValue("at", at);
            open.Parameters.Add(Text("op", operation));
            batch.BatchCommands.Add(open);
        }
    }

    public async Task<IReadOnlyList<RecordedInterval>> ReadIntervalsAsync(string? serviceName, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        await using var cmd = data.CreateCommand($"""
            SELECT {UsageRows.IntervalColumns} FROM usage_intervals
            WHERE started_at < @to AND (ended_at IS NULL OR ended_at > @from) AND (@service IS NULL OR upper(service) = upper(@service))
            ORDER BY started_at, id
            """);
        cmd.Parameters.AddWithValue("from", from.UtcTicks);
        cmd.Parameters.AddWithValue("to", to.UtcTicks);
        cmd.Parameters.Add(Text("service", serviceName));
        return await UsageRows.ReadIntervalsAsync(cmd, cancellationToken);
    }

    public async Task<IReadOnlyList<RecordedInterval>> ReadOpenAsync(CancellationToken cancellationToken)
    {
        await using var cmd = data.CreateCommand($"SELECT {UsageRows.IntervalColumns} FROM usage_intervals WHERE ended_at IS NULL ORDER BY id");
        return await UsageRows.ReadIntervalsAsync(cmd, cancellationToken);
    }

    public async Task<IReadOnlyList<TrafficSample>> ReadTrafficAsync(string? serviceName, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        await using var cmd = data.CreateCommand("""
            SELECT service, vip, SUM(bytes_in)::bigint, SUM(bytes_out)::bigint FROM usage_traffic
            WHERE bucket_start >= @from AND bucket_start < @to AND (@service IS NULL OR upper(service) = upper(@service))
            GROUP BY service, vip
            """);
        cmd.Parameters.AddWithValue("from", from.UtcTicks);
        cmd.Parameters.AddWithValue("to", to.UtcTicks);
        cmd.Parameters.Add(Text("service", serviceName));
        return await UsageRows.ReadTrafficAsync(cmd, from, cancellationToken);
    }

    public async Task RecordAsync(IReadOnlyList<UsageTransition> transitions, CancellationToken cancellationToken)
    {
        if (transitions.Count == 0)
        {
            return;
        }

        await using var connection = await data.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection, tx);
        AddWrites(batch, transitions);
        await batch.ExecuteNonQueryAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
    }

    public async Task AddTrafficAsync(IReadOnlyList<TrafficSample> samples, CancellationToken cancellationToken)
    {
        if (samples.Count == 0)
        {
            return;
        }

        await using var connection = await data.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection, tx);
        foreach (var sample in samples)
        {
            var cmd = new NpgsqlBatchCommand("""
                INSERT INTO usage_traffic(service, vip, bucket_start, bytes_in, bytes_out) VALUES(@service, @vip, @bucket, @in, @out)
                ON CONFLICT (service, vip, bucket_start) DO UPDATE SET bytes_in = usage_traffic.bytes_in + excluded.bytes_in, bytes_out = usage_traffic.bytes_out + excluded.bytes_out
                """);
            cmd.Parameters.AddWithValue("service", sample.ServiceName);
            cmd.Parameters.AddWithValue("vip", sample.VirtualIpName);
            cmd.Parameters.AddWithValue("bucket", sample.BucketStart.UtcTicks);
            cmd.Parameters.AddWithValue("in", sample.BytesIn);
            cmd.Parameters.AddWithValue("out", sample.BytesOut);
            batch.BatchCommands.Add(cmd);
        }

        await batch.ExecuteNonQueryAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
    }

    private static NpgsqlParameter Text(string name, string? value) =>
        new(name, NpgsqlDbType.Text) { Value = (object?)value ?? DBNull.Value };
}
