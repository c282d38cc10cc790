using Microsoft.Extensions.Logging;
using MultiVip.Model.Operations;

namespace MultiVip.Control.State;

/// <summary>Everything a store holds, for <see cref="StoreCopy"/>: the state, every operation (oldest first) and the usage rows.</summary>
public sealed record StoreSnapshot(
    StoredState State,
    IReadOnlyList<Operation> Operations,
    IReadOnlyList<UsageIntervalRow> Intervals,
    IReadOnlyList<UsageTrafficRow> Traffic);

/// <summary>One row of usage_intervals as stored (times in UTC ticks).</summary>
public sealed record UsageIntervalRow(string Meter, string Name, string? Service, string? Vip, string Address, long StartedAt, long? EndedAt, string? StartedBy, string? EndedBy);

/// <summary>One row of usage_traffic as stored.</summary>
public sealed record UsageTrafficRow(string Service, string Vip, long BucketStart, long BytesIn, long BytesOut);

/// <summary>A store that can hand over everything it holds, and take everything into an empty database.</summary>
internal interface ITransferableStore
{
    Task<StoreSnapshot> ExportAsync(CancellationToken cancellationToken);

    /// <summary>Writes the snapshot in one transaction into a store that holds nothing.</summary>
    Task ImportAsync(StoreSnapshot snapshot, CancellationToken cancellationToken);
}

/// <summary>What <see cref="StoreCopy.CopyAsync"/> copied.</summary>
public sealed record StoreCopySummary(string From, string To, int Services, int ReservedIps, int Operations, long Generation);

/// <summary>A copy refused before anything was written (the target holds state, the source has none...).</summary>
public sealed class StoreCopyException(string message) : Exception(message);

/// <summary>
/// `multivip store copy`: moves a whole state between a SQLite data dir and a PostgreSQL database
/// (either way), into an empty target only, so two states are never mixed. The copy keeps
/// versions, the generation, the allocation cursors, every operation and the usage records; the
/// source is only read. Stop the server(s) on the source first: what they change during the copy
/// is not in it.
/// </summary>
public static class StoreCopy
{
    /// <summary>Opens a data dir (SQLite) or a PostgreSQL URL / connection string.</summary>
    public static async Task<IStateStore> OpenAsync(string place, bool mustHoldState, TimeProvider time, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        if (PostgresLocation.IsPostgres(place))
        {
            PostgresLocation location;
            try
            {
                location = PostgresLocation.Parse(place);
            }
            catch (FormatException ex)
            {
                throw new StoreCopyException(ex.Message);
            }

            return await PostgresStateStore.OpenAsync(location, time, loggers, cancellationToken);
        }

        var dataDir = Path.GetFullPath(place);
        if (mustHoldState && !File.Exists(Path.Combine(dataDir, SqliteStateStore.FileName)))
        {
            throw new StoreCopyException($"{dataDir} holds no MultiVip state (there is no {SqliteStateStore.FileName} in it). Give --from the --data-dir of the server whose state to copy, or a postgresql:// URL.");
        }

        return await SqliteStateStore.OpenAsync(dataDir, cancellationToken);
    }

    public static async Task<StoreCopySummary> CopyAsync(IStateStore from, string fromName, IStateStore to, string toName, CancellationToken cancellationToken)
    {
        var target = await to.LoadAsync(cancellationToken);
        var targetOperations = await to.ListOperationsAsync(1, cancellationToken);
        if (target.Services.Count > 0 || target.ReservedIps.Count > 0 || target.Generation > 0 || targetOperations.Count > 0)
        {
            throw new StoreCopyException(
                $"Nothing was copied: {toName} already holds state ({target.Services.Count} cloud services, {target.ReservedIps.Count} reserved IPs, generation {target.Generation}). " +
                "store copy writes only into an empty store, so it never mixes two states: give --to a new database (createdb NAME) or a new, empty data dir.");
        }

        var snapshot = await ((ITransferableStore)from).ExportAsync(cancellationToken);
        await ((ITransferableStore)to).ImportAsync(snapshot, cancellationToken);
        return new StoreCopySummary(fromName, toName, snapshot.State.Services.Count, snapshot.State.ReservedIps.Count, snapshot.Operations.Count, snapshot.State.Generation);
    }

    /// <summary>The place as it may be printed: a URL or connection string without its password, a data dir in full.</summary>
    public static string Describe(string place) =>
        PostgresLocation.IsPostgres(place) ? PostgresLocation.Redact(place) : Path.GetFullPath(place);
}
