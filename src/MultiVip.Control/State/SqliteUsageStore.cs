using Microsoft.Data.Sqlite;
using MultiVip.Control.Usage;

namespace MultiVip.Control.State;

/// <summary>
/// Usage in the state database (tables of schema migration 2): <c>usage_intervals</c>, one row per
/// stretch an extra VIP held an address or a reserved IP existed (ended_at null while held), and
/// <c>usage_traffic</c>, bytes per VIP per minute bucket. Times are UTC ticks, so hours are exact.
/// Intervals are written by <see cref="SqliteStateStore"/> inside each commit's transaction
/// (<see cref="WriteAsync"/>); this class reads them and writes what is not part of a change, on
/// connections of its own (SQLite's busy timeout queues them behind the state writer).
/// </summary>
public sealed class SqliteUsageStore(SqliteConnections connections) : IUsageStore
{
    public SqliteUsageStore(string connectionString)
        : this(new SqliteConnections(connectionString))
    {
    }

    /// <summary>Writes transitions in the caller's transaction: ends close the subject's open interval, starts open one.</summary>
    internal static async Task WriteAsync(SqliteTransaction tx, IReadOnlyList<UsageTransition> transitions, CancellationToken cancellationToken)
    {
        foreach (var transition in transitions)
        {
            var holding = transition.Holding;
            var at = transition.At.UtcTicks;
            var operation = (object?)transition.OperationId?.ToString() ?? DBNull.Value;

            // A start first closes whatever the subject still holds, so a subject never has two open intervals.
            await using (var close = tx.Connection!.CreateCommand())
            {
                close.Transaction = tx;
                close.CommandText = """
                    UPDATE usage_intervals SET ended_at = MAX($at, started_at), ended_by = $op
                    WHERE meter = $meter AND name = $name AND ended_at IS NULL AND ($meter = 'reserved' OR service = $service)
                    """;
                close.Parameters.AddWithValue("$at", at);
                close.Parameters.AddWithValue("$op", operation);
                close.Parameters.AddWithValue("$meter", UsageRows.Meter(holding.Meter));
                close.Parameters.AddWithValue("$name", holding.Name);
                close.Parameters.AddWithValue("$service", (object?)holding.ServiceName ?? DBNull.Value);
                await close.ExecuteNonQueryAsync(cancellationToken);
            }

            if (!transition.Starts)
            {
                continue;
            }

            await using var open = tx.Connection!.CreateCommand();
            open.Transaction = tx;
            open.CommandText = """
                INSERT INTO usage_intervals(meter, name, service, vip, address, started_at, started_by)
                VALUES($meter, $name, $service, $vip, $address, $at, $op)
                """;
            open.Parameters.AddWithValue("$meter", UsageRows.Meter(holding.Meter));
            open.Parameters.AddWithValue("$name", holding.Name);
            open.Parameters.AddWithValue("$service", (object?)holding.ServiceName ?? DBNull.Value);
            open.Parameters.AddWithValue("$vip", (object?)holding.VirtualIpName ?? DBNull.Value);
            open.Parameters.AddWithValue("$address", holding.Address);
            open.Parameters.AddWithValue("$at", at);
            open.Parameters.AddWithValue("$op", operation);
            await open.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    public async Task<IReadOnlyList<RecordedInterval>> ReadIntervalsAsync(string? serviceName, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var cmd = connection.CreateCommand();
        cmd.CommandText = $"""
            SELECT {UsageRows.IntervalColumns} FROM usage_intervals
            WHERE started_at < $to AND (ended_at IS NULL OR ended_at > $from) AND ($service IS NULL OR service = $service)
            ORDER BY started_at, id
            """;
        cmd.Parameters.AddWithValue("$from", from.UtcTicks);
        cmd.Parameters.AddWithValue("$to", to.UtcTicks);
        cmd.Parameters.AddWithValue("$service", (object?)serviceName ?? DBNull.Value);
        return await UsageRows.ReadIntervalsAsync(cmd, cancellationToken);
    }

    public async Task<IReadOnlyList<RecordedInterval>> ReadOpenAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var cmd = connection.CreateCommand();
        cmd.CommandText = $"SELECT {UsageRows.IntervalColumns} FROM usage_intervals WHERE ended_at IS NULL ORDER BY id";
        return await UsageRows.ReadIntervalsAsync(cmd, cancellationToken);
    }

    public async Task<IReadOnlyList<TrafficSample>> ReadTrafficAsync(string? serviceName, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var cmd = connection.CreateCommand();
        cmd.CommandText = """
            SELECT service, vip, SUM(bytes_in), SUM(bytes_out) FROM usage_traffic
            WHERE bucket_start >= $from AND bucket_start < $to AND ($service IS NULL OR service = $service)
            GROUP BY service, vip
            """;
        cmd.Parameters.AddWithValue("$from", from.UtcTicks);
        cmd.Parameters.AddWithValue("$to", to.UtcTicks);
        cmd.Parameters.AddWithValue("$service", (object?)serviceName ?? DBNull.Value);
        return await UsageRows.ReadTrafficAsync(cmd, from, cancellationToken);
    }

    public async Task RecordAsync(IReadOnlyList<UsageTransition> transitions, CancellationToken cancellationToken)
    {
        if (transitions.Count == 0)
        {
            return;
        }

        await using var connection = await OpenAsync(cancellationToken);
        await using var tx = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        await WriteAsync(tx, transitions, cancellationToken);
        await tx.CommitAsync(cancellationToken);
    }

    public async Task AddTrafficAsync(IReadOnlyList<TrafficSample> samples, CancellationToken cancellationToken)
    {
        if (samples.Count == 0)
        {
            return;
        }

        await using var connection = await OpenAsync(cancellationToken);
        await using var tx = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        foreach (var sample in samples)
        {
            await using var cmd = connection.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = """
                INSERT INTO usage_traffic(service, vip, bucket_start, bytes_in, bytes_out) VALUES($service, $vip, $bucket, $in, $out)
                ON CONFLICT(service, vip, bucket_start) DO UPDATE SET bytes_in = bytes_in + excluded.bytes_in, bytes_out = bytes_out + excluded.bytes_out
                """;
            cmd.Parameters.AddWithValue("$service", sample.ServiceName);
            cmd.Parameters.AddWithValue("$vip", sample.VirtualIpName);
            cmd.Parameters.AddWithValue("$bucket", sample.BucketStart.UtcTicks);
            cmd.Parameters.AddWithValue("$in", sample.BytesIn);
            cmd.Parameters.AddWithValue("$out", sample.BytesOut);
            await cmd.ExecuteNonQueryAsync(cancellationToken);
        }

        await tx.CommitAsync(cancellationToken);
    }

    // BeginTransaction is not deferred (BEGIN IMMEDIATE): the write lock is taken up front, so two
    // writers wait for each other instead of failing to upgrade a read lock.
    private Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken) =>
        connections.OpenAsync("PRAGMA synchronous=FULL; PRAGMA busy_timeout=30000;", cancellationToken);
}
