using MultiVip.Model.Operations;
using MultiVip.Model.ReservedIps;
using MultiVip.Model.Services;

namespace MultiVip.Control.State;

/// <summary>
/// Durable state, deliberately narrow: load everything once, then commit whole aggregates (a cloud
/// service with its deployment, a reserved IP) atomically together with the operation that changed
/// them. Optimistic versions on every aggregate let a shared database (PostgreSQL) serve several
/// nodes later; a single node never sees a version conflict because it serializes its writes.
/// </summary>
public interface IStateStore : IAsyncDisposable
{
    Task<StoredState> LoadAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Commits the changes, in order, with their operations in one transaction (one fsync for a whole
    /// group of commands); throws and changes nothing on failure.
    /// </summary>
    Task CommitAsync(IReadOnlyList<StateChange> changes, CancellationToken cancellationToken);

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

/// <summary>Another writer changed an aggregate between our read and our commit.</summary>
public sealed class StateConflictException(string message) : Exception(message);
