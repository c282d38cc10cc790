namespace MultiVip.Control.Usage;

/// <summary>
/// Where usage is kept. Intervals are written by the state store in the same transaction as the
/// change that caused them (<see cref="State.StateChange.Usage"/>); this reads them back and takes
/// the two writes that are not part of a change: start-up reconciliation and traffic buckets.
/// </summary>
public interface IUsageStore
{
    /// <summary>Intervals that overlap [from, to): of one service (its VIPs, and reserved IPs while they backed one of them), or all.</summary>
    Task<IReadOnlyList<RecordedInterval>> ReadIntervalsAsync(string? serviceName, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken);

    /// <summary>Bytes per VIP of the buckets that start in [from, to), summed; each sample's BucketStart is <paramref name="from"/>.</summary>
    Task<IReadOnlyList<TrafficSample>> ReadTrafficAsync(string? serviceName, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken);

    /// <summary>Every interval still held.</summary>
    Task<IReadOnlyList<RecordedInterval>> ReadOpenAsync(CancellationToken cancellationToken);

    /// <summary>Records transitions that no change caused (start-up reconciliation), in one transaction.</summary>
    Task RecordAsync(IReadOnlyList<UsageTransition> transitions, CancellationToken cancellationToken);

    /// <summary>Adds the bytes to their buckets (a bucket already written grows), in one transaction.</summary>
    Task AddTrafficAsync(IReadOnlyList<TrafficSample> samples, CancellationToken cancellationToken);
}
