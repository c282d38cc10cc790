using MultiVip.Model.Operations;
using MultiVip.Model.ReservedIps;
using MultiVip.Model.Services;

namespace MultiVip.Control.State;

/// <summary>
/// Durable state, deliberately narrow: load everything once, then commit whole aggregates (a cloud
/// service with its deployment, a reserved IP) atomically together with the operation that changed
/// them. Several writers may share one store (nodes on one PostgreSQL database, or two processes
/// on one SQLite file): every commit carries the versions it read and is refused as stale
/// (<see cref="StateConflictException"/>) when another writer changed one of them; the database
/// itself refuses one address to two owners; generations are assigned by the store in commit
/// order; and <see cref="LoadChangesSinceAsync"/> is the catch-up read of what others committed.
/// </summary>
public interface IStateStore : IAsyncDisposable
{
    Task<StoredState> LoadAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Commits the changes, in order, with their operations in one transaction (one fsync for a whole
    /// group of commands); throws and changes nothing on failure. The store assigns the changes
    /// consecutive generations after every commit before this one (<see cref="StateChange.Generation"/>
    /// is what the writer expected; the operations are stored with the assigned ones) and returns them.
    /// </summary>
    Task<CommitReceipt> CommitAsync(IReadOnlyList<StateChange> changes, CancellationToken cancellationToken);

    /// <summary>
    /// The catch-up read: every aggregate written or deleted by a commit whose generation is above
    /// <paramref name="generation"/>, the allocation cursors and the store's generation, all from one
    /// consistent snapshot. Applying it to a state of <paramref name="generation"/> gives the
    /// state of <see cref="StoredChanges.Generation"/>.
    /// </summary>
    Task<StoredChanges> LoadChangesSinceAsync(long generation, CancellationToken cancellationToken);

    /// <summary>
    /// Completes when the store heard that some writer committed (PostgreSQL: a notification on
    /// LISTEN); never completes where there is no such signal (SQLite). Only a hint to read
    /// <see cref="LoadChangesSinceAsync"/> soon: the control plane also reads it periodically, so a
    /// missed notification is never a missed change.
    /// </summary>
    Task WaitForChangesAsync(CancellationToken cancellationToken);

    /// <summary>Records the final status of operations, in one transaction.</summary>
    Task UpdateOperationsAsync(IReadOnlyList<Operation> operations, CancellationToken cancellationToken);

    Task<Operation?> GetOperationAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>The newest operations first.</summary>
    Task<IReadOnlyList<Operation>> ListOperationsAsync(int limit, CancellationToken cancellationToken);
}

/// <summary>Everything the control plane needs at start.</summary>
public sealed record StoredState(
    IReadOnlyList<CloudService> Services,
    IReadOnlyList<ReservedIp> ReservedIps,
    uint? AllocationCursor,
    long Generation,
    IReadOnlyList<Operation> UnfinishedOperations)
{
    /// <summary>The IPv6 allocation cursor (IPv6 pools walk on from it like IPv4 ones).</summary>
    public Model.Networking.IpNumber? AllocationCursorV6 { get; init; }
}

/// <summary>
/// One atomic change. Upserts carry the version they replace (0 = new) so a store shared by several
/// nodes can reject a lost update; deletes likewise.
/// </summary>
public sealed record StateChange
{
    public required Operation Operation { get; init; }

    public IReadOnlyList<(CloudService Service, long ExpectedVersion)> UpsertServices { get; init; } = [];

    public IReadOnlyList<(string Name, long ExpectedVersion)> DeleteServices { get; init; } = [];

    public IReadOnlyList<(ReservedIp ReservedIp, long ExpectedVersion)> UpsertReservedIps { get; init; } = [];

    public IReadOnlyList<(string Name, long ExpectedVersion)> DeleteReservedIps { get; init; } = [];

    public uint? AllocationCursor { get; init; }

    public Model.Networking.IpNumber? AllocationCursorV6 { get; init; }

    public long Generation { get; init; }

    /// <summary>What the change begins and ends for billing (docs/usage.md); written in the same transaction.</summary>
    public IReadOnlyList<Usage.UsageTransition> Usage { get; init; } = [];
}

/// <summary>The generations a commit was given: <see cref="First"/> for its first change, one more for each next.</summary>
public sealed record CommitReceipt(long First, long Last);

/// <summary>
/// What changed in the store after some generation (see <see cref="IStateStore.LoadChangesSinceAsync"/>).
/// A name is either upserted (its current document) or deleted (a tombstone), never both.
/// </summary>
public sealed record StoredChanges(
    long Generation,
    IReadOnlyList<CloudService> UpsertedServices,
    IReadOnlyList<string> DeletedServices,
    IReadOnlyList<ReservedIp> UpsertedReservedIps,
    IReadOnlyList<string> DeletedReservedIps,
    uint? AllocationCursor,
    Model.Networking.IpNumber? AllocationCursorV6)
{
    public bool IsEmpty => UpsertedServices.Count == 0 && DeletedServices.Count == 0 && UpsertedReservedIps.Count == 0 && DeletedReservedIps.Count == 0;
}

/// <summary>Another writer changed an aggregate between our read and our commit.</summary>
public sealed class StateConflictException(string message) : Exception(message);

/// <summary>
/// The connection to the database broke while COMMIT was on its way, and the store could not find
/// out since whether the transaction committed. The change may be stored; <see cref="ResolveAsync"/>
/// asks again (true: it was made, with <see cref="Receipt"/>'s generations; false: it was not; null:
/// still unknown), so the writer can settle its operations once the database answers.
/// </summary>
public sealed class CommitInDoubtException(string message, CommitReceipt receipt, Func<CancellationToken, Task<bool?>> resolve, Exception inner)
    : Exception(message, inner)
{
    public CommitReceipt Receipt { get; } = receipt;

    public Func<CancellationToken, Task<bool?>> ResolveAsync { get; } = resolve;
}
