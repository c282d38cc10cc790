using MultiVip.Control.State;
using MultiVip.Contracts;
using MultiVip.Model.Errors;

namespace MultiVip.Control.Usage;

/// <summary>
/// Usage as the seed bills it, read back from the store: reports over a range, and the start-up
/// step that makes the open intervals agree with the loaded state.
/// </summary>
public sealed class UsageLedger(IUsageStore store, Func<WorldState> current, TimeProvider time)
{
    public IUsageStore Store => store;

    /// <summary>
    /// Opens intervals for what the state holds and the records do not (a data dir from before
    /// usage was recorded: its hours count from now), and closes intervals the state no longer
    /// holds. Changes commit their own transitions, so on a data dir written by this version this
    /// finds nothing to do. Run before the API opens.
    /// </summary>
    public async Task<int> ReconcileAsync(CancellationToken cancellationToken)
    {
        var open = await store.ReadOpenAsync(cancellationToken);
        var transitions = new List<UsageTransition>();
        UsageTransitions.Diff(open.Select(o => o.Holding), UsageTransitions.Holdings(current()), time.GetUtcNow(), null, transitions);
        await store.RecordAsync(transitions, cancellationToken);
        return transitions.Count;
    }

    /// <summary>
    /// The report of one service, or with <paramref name="serviceName"/> null of everything, over
    /// [from, to) (ISO 8601; default: this month so far). A service that no longer exists still
    /// has its recorded usage; a name never seen is ResourceNotFound.
    /// </summary>
    public async Task<UsageReport> ReportAsync(string? serviceName, string? from, string? to, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var (start, end) = UsageRange.Resolve(from, to, now);
        var world = current();
        var intervals = await store.ReadIntervalsAsync(serviceName, start, end, cancellationToken);
        var traffic = await store.ReadTrafficAsync(serviceName, start, end, cancellationToken);
        if (serviceName is not null && !world.Services.ContainsKey(serviceName) && intervals.Count == 0 && traffic.Count == 0)
        {
            throw MultiVipException.NotFound(
                $"The cloud service '{serviceName}' does not exist and has no recorded usage between {start:O} and {end:O}. Check the name (multivip service list) or the range.");
        }

        return UsageCalculator.Report(serviceName, start, end, now, intervals, traffic, world);
    }
}
