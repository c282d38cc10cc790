using MultiVip.Contracts;
using MultiVip.Control.Usage;
using MultiVip.DataPlane.Contract;
using MultiVip.Model.Services;

namespace MultiVip.Server.Usage;

/// <summary>
/// The server's side of usage (docs/usage.md). Intervals need nothing here: every change records
/// them in its own commit. Bytes come from the data plane's per-VIP totals, sampled every
/// <see cref="Bucket"/> (on the bucket boundaries) and before every report, and persisted as the
/// difference since the last sample, into the minute bucket the sampled stretch mostly fell in. A
/// crash loses at most the bytes since the last sample (one bucket); a graceful stop writes them.
/// </summary>
internal sealed partial class UsageRecorder : IAsyncDisposable
{
    /// <summary>Resolution of the byte counts, and the most a crash can lose.</summary>
    public static readonly TimeSpan Bucket = TimeSpan.FromMinutes(1);

    private readonly UsageLedger _ledger;
    private readonly ITrafficSource _dataPlane;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private Dictionary<(string, string), (long In, long Out)> _persisted = new(VipNameComparer.Instance);
    private DateTimeOffset _sampledAt;
    private ITimer? _timer;
    private int _disposed;

    public UsageRecorder(UsageLedger ledger, ITrafficSource dataPlane, TimeProvider time, ILogger<UsageRecorder> logger)
    {
        _ledger = ledger;
        _dataPlane = dataPlane;
        _time = time;
        _logger = logger;
        _sampledAt = time.GetUtcNow();
    }

    /// <summary>Reconciles the open intervals with the loaded state, then starts sampling. Before the API opens.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var reconciled = await _ledger.ReconcileAsync(cancellationToken);
        if (reconciled > 0)
        {
            Log.Reconciled(_logger, reconciled);
        }

        var now = _time.GetUtcNow();
        var next = BucketOf(now) + Bucket;
        _timer = _time.CreateTimer(static state => ((UsageRecorder)state!).SampleFromTimer(), this, next - now, Bucket);
    }

    /// <summary>A report with the bytes up to this moment: the data plane is sampled first.</summary>
    public async Task<UsageReport> ReportAsync(string? serviceName, string? from, string? to, CancellationToken cancellationToken)
    {
        await SampleAsync(cancellationToken);
        return await _ledger.ReportAsync(serviceName, from, to, cancellationToken);
    }

    /// <summary>
    /// Persists what each VIP carried since the last sample. If the write fails the totals are kept
    /// as they were, so the next sample carries those bytes too: nothing is counted twice or lost
    /// while the process lives.
    /// </summary>
    public async Task SampleAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var now = _time.GetUtcNow();
            var totals = _dataPlane.GetVipBytes();
            var bucket = BucketOf(_sampledAt + ((now - _sampledAt) / 2));
            var samples = new List<TrafficSample>();
            var persisted = new Dictionary<(string, string), (long In, long Out)>(VipNameComparer.Instance);
            foreach (var total in totals)
            {
                var key = (total.ServiceName, total.VirtualIpName);
                var before = _persisted.GetValueOrDefault(key);
                var bytesIn = total.BytesIn - before.In;
                var bytesOut = total.BytesOut - before.Out;
                if (bytesIn > 0 || bytesOut > 0)
                {
                    samples.Add(new TrafficSample(total.ServiceName, total.VirtualIpName, bucket, bytesIn, bytesOut));
                }

                persisted[key] = (total.BytesIn, total.BytesOut);
            }

            await _ledger.Store.AddTrafficAsync(samples, cancellationToken);
            _persisted = persisted;
            _sampledAt = now;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The start of the minute bucket <paramref name="time"/> falls in (UTC).</summary>
    public static DateTimeOffset BucketOf(DateTimeOffset time)
    {
        var ticks = time.UtcTicks;
        return new DateTimeOffset(ticks - (ticks % Bucket.Ticks), TimeSpan.Zero);
    }

    private void SampleFromTimer() => _ = SampleLoggedAsync();

    private async Task SampleLoggedAsync()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        try
        {
            await SampleAsync(CancellationToken.None);
        }
        catch (Exception ex)
        {
            Log.SampleFailed(_logger, ex);
        }
    }

    /// <summary>
    /// Stops sampling and writes the last bytes. Call after the data plane has stopped (so its
    /// totals are final) and before the state store closes.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_timer is not null)
        {
            await _timer.DisposeAsync();
        }

        try
        {
            await SampleAsync(CancellationToken.None);
        }
        catch (Exception ex)
        {
            Log.SampleFailed(_logger, ex);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3101, EventName = "UsageReconciled", Level = LogLevel.Information, Message = "Usage: {Count} interval(s) opened or closed to match the loaded state (usage was not recorded for them before this start)")]
        public static partial void Reconciled(ILogger logger, int count);

        [LoggerMessage(EventId = 3102, EventName = "UsageSampleFailed", Level = LogLevel.Warning, Message = "Usage: writing the traffic sample failed; its bytes are carried into the next sample")]
        public static partial void SampleFailed(ILogger logger, Exception exception);
    }
}
