using System.Data.Common;
using MultiVip.Control.Usage;

namespace MultiVip.Control.State;

/// <summary>
/// How usage rows map to values, the same for SQLite and PostgreSQL (one schema in both): the meter
/// names stored, the columns an interval is read from, and the reading itself.
/// </summary>
internal static class UsageRows
{
    public const string VipMeter = "vip";
    public const string ReservedMeter = "reserved";

    /// <summary>The columns <see cref="ReadIntervalsAsync"/> reads, in its order.</summary>
    public const string IntervalColumns = "meter, name, service, vip, address, started_at, ended_at";

    public static string Meter(UsageMeter meter) => meter == UsageMeter.ReservedIp ? ReservedMeter : VipMeter;

    /// <summary>Runs <paramref name="command"/> (selecting <see cref="IntervalColumns"/>) and maps its rows; times are UTC ticks.</summary>
    public static async Task<IReadOnlyList<RecordedInterval>> ReadIntervalsAsync(DbCommand command, CancellationToken cancellationToken)
    {
        var intervals = new List<RecordedInterval>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var meter = reader.GetString(0) == ReservedMeter ? UsageMeter.ReservedIp : UsageMeter.VirtualIp;
            var holding = new UsageHolding(
                meter,
                reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.GetString(1),
                reader.GetString(4),
                reader.IsDBNull(3) ? null : reader.GetString(3));
            intervals.Add(new RecordedInterval(
                holding,
                new DateTimeOffset(reader.GetInt64(5), TimeSpan.Zero),
                reader.IsDBNull(6) ? null : new DateTimeOffset(reader.GetInt64(6), TimeSpan.Zero)));
        }

        return intervals;
    }

    /// <summary>Maps the rows of a traffic query (service, vip, bytes in, bytes out) to samples of the bucket starting at <paramref name="from"/>.</summary>
    public static async Task<IReadOnlyList<TrafficSample>> ReadTrafficAsync(DbCommand command, DateTimeOffset from, CancellationToken cancellationToken)
    {
        var samples = new List<TrafficSample>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            samples.Add(new TrafficSample(reader.GetString(0), reader.GetString(1), from, reader.GetInt64(2), reader.GetInt64(3)));
        }

        return samples;
    }
}
