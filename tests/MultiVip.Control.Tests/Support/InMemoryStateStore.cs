using MultiVip.Control.State;
using MultiVip.Model.Operations;
using MultiVip.Model.ReservedIps;
using MultiVip.Model.Services;

namespace MultiVip.Control.Tests.Support;

/// <summary>
/// The <see cref="IStateStore"/> contract without a disk, for the fast tests of the control plane's
/// pure parts. It keeps what <see cref="SqliteStateStore"/> promises, rule for rule: a batch of
/// changes is all or nothing; an upsert with expected version 0 is an insert and fails when the name
/// exists (names case-insensitive, as the NOCASE columns); any other upsert or delete must match the
/// stored version; every address has one owner, released before the change claims what it holds
/// now; each commit records its operations, the cursor and the generation. Every refusal is a
/// <see cref="StateConflictException"/> worded as the SQLite store words it.
/// <see cref="StateStoreContractTests"/> runs the same cases against both stores, so the two cannot
/// drift apart unnoticed. Several control planes may share one instance: that is two nodes on one
/// database, the way to make a read version stale.
/// </summary>
internal sealed class InMemoryStateStore : IStateStore
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, CloudService> _services = new(Names.Comparer);
    private readonly Dictionary<string, ReservedIp> _reserved = new(Names.Comparer);
    private readonly Dictionary<string, (string Kind, string Owner)> _addresses = new(StringComparer.Ordinal);
    private readonly List<Operation> _operations = [];
    private readonly List<int> _commits = [];

    // What the catch-up read needs: the generation that last wrote each name, a live one or a tombstone.
    private readonly Dictionary<string, long> _written = new(StringComparer.OrdinalIgnoreCase);
    private uint? _cursor;
    private long _generation;
    private HeldCommit? _held;

    /// <summary>Sizes (changes per call) of the commits the store accepted, in order.</summary>
    public IReadOnlyList<int> Commits
    {
        get
        {
            lock (_gate)
            {
                return [.. _commits];
            }
        }
    }

    /// <summary>Commit calls the store refused with a version conflict.</summary>
    public int Conflicts { get; private set; }

    /// <summary>
    /// The next <see cref="CommitAsync"/> waits (before it looks at anything) until the test releases
    /// it: the control plane's writer is then busy, and the commands queued meanwhile form one group.
    /// </summary>
    public HeldCommit HoldNextCommit()
    {
        var held = new HeldCommit();
        lock (_gate)
        {
            _held = held;
        }

        return held;
    }

    /// <summary>
    /// Consulted for every commit: an exception returned is thrown and the commit changes nothing
    /// (a full disk, say, or a conflict that never clears).
    /// </summary>
    public Func<IReadOnlyList<StateChange>, Exception?>? FailCommit { get; set; }

    public Task<StoredState> LoadAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult(new StoredState(
                [.. _services.Values.OrderBy(s => s.Name, StringComparer.OrdinalIgnoreCase)],
                [.. _reserved.Values.OrderBy(r => r.Name, StringComparer.OrdinalIgnoreCase)],
                _cursor,
                _generation,
                [.. _operations.Where(o => o.OperationStatus == OperationStatus.InProgress)]));
        }
    }

    public async Task<CommitReceipt> CommitAsync(IReadOnlyList<StateChange> changes, CancellationToken cancellationToken)
    {
        HeldCommit? held;
        lock (_gate)
        {
            held = _held;
            _held = null;
        }

        if (held is not null)
        {
            held.Reach();
            await held.Released;
        }

        lock (_gate)
        {
            if (FailCommit?.Invoke(changes) is { } failure)
            {
                throw failure;
            }

            // Work on copies and swap them in only when every change of the batch passed: a refused
            // batch leaves nothing behind, as a rolled-back transaction does.
            var services = new Dictionary<string, CloudService>(_services, Names.Comparer);
            var reserved = new Dictionary<string, ReservedIp>(_reserved, Names.Comparer);
            var addresses = new Dictionary<string, (string Kind, string Owner)>(_addresses, StringComparer.Ordinal);
            var operations = new List<Operation>(_operations);
            var cursor = _cursor;
            var generation = _generation;
            var written = new Dictionary<string, long>(_written, StringComparer.OrdinalIgnoreCase);
            try
            {
                foreach (var change in changes)
                {
                    generation++;
                    Apply(change with { Operation = change.Operation with { Generation = generation } }, services, reserved, addresses, operations, ref cursor);
                    foreach (var name in change.UpsertServices.Select(u => u.Service.Name).Concat(change.DeleteServices.Select(d => d.Name)))
                    {
                        written["s:" + name] = generation;
                    }

                    foreach (var name in change.UpsertReservedIps.Select(u => u.ReservedIp.Name).Concat(change.DeleteReservedIps.Select(d => d.Name)))
                    {
                        written["r:" + name] = generation;
                    }
                }
            }
            catch (StateConflictException)
            {
                Conflicts++;
                throw;
            }

            Swap(_services, services);
            Swap(_reserved, reserved);
            Swap(_addresses, addresses);
            _operations.Clear();
            _operations.AddRange(operations);
            Swap(_written, written);
            _cursor = cursor;
            var first = _generation + 1;
            _generation = generation;
            _commits.Add(changes.Count);
            return new CommitReceipt(first, generation);
        }
    }

    public Task<StoredChanges> LoadChangesSinceAsync(long generation, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var changed = _written.Where(w => w.Value > generation).Select(w => w.Key).ToList();
            var services = changed.Where(k => k.StartsWith("s:", StringComparison.Ordinal)).Select(k => k[2..]).ToList();
            var reserved = changed.Where(k => k.StartsWith("r:", StringComparison.Ordinal)).Select(k => k[2..]).ToList();
            return Task.FromResult(new StoredChanges(
                _generation,
                [.. services.Where(_services.ContainsKey).Select(n => _services[n])],
                [.. services.Where(n => !_services.ContainsKey(n))],
                [.. reserved.Where(_reserved.ContainsKey).Select(n => _reserved[n])],
                [.. reserved.Where(n => !_reserved.ContainsKey(n))],
                _cursor,
                null));
        }
    }

    /// <summary>Like SQLite: no notifications, the control plane's periodic catch-up is the feed.</summary>
    public Task WaitForChangesAsync(CancellationToken cancellationToken) => Task.Delay(Timeout.Infinite, cancellationToken);

    private static void Apply(
        StateChange change,
        Dictionary<string, CloudService> services,
        Dictionary<string, ReservedIp> reserved,
        Dictionary<string, (string Kind, string Owner)> addresses,
        List<Operation> operations,
        ref uint? cursor)
    {
        foreach (var (name, expected) in change.DeleteServices)
        {
            Release(addresses, "vip", name);
            Delete(services, "services", name, expected, s => s.Version);
        }

        foreach (var (name, expected) in change.DeleteReservedIps)
        {
            Release(addresses, "reserved", name);
            Delete(reserved, "reserved_ips", name, expected, r => r.Version);
        }

        // Everything the changed aggregates held is released before anything is claimed: an
        // address may move between owners in one change (reserving a VIP's address).
        foreach (var (service, _) in change.UpsertServices)
        {
            Release(addresses, "vip", service.Name);
        }

        foreach (var (ip, _) in change.UpsertReservedIps)
        {
            Release(addresses, "reserved", ip.Name);
        }

        foreach (var (service, expected) in change.UpsertServices)
        {
            Upsert(services, "services", service.Name, service, expected, s => s.Version);
            foreach (var vip in service.Deployment?.VirtualIps ?? [])
            {
                if (vip.Address is { } address && vip.ReservedIpName is null)
                {
                    Claim(addresses, address, "vip", service.Name);
                }
            }
        }

        foreach (var (ip, expected) in change.UpsertReservedIps)
        {
            Upsert(reserved, "reserved_ips", ip.Name, ip, expected, r => r.Version);
            Claim(addresses, ip.Address, "reserved", ip.Name);
        }

        if (change.AllocationCursor is { } moved)
        {
            cursor = moved;
        }

        if (operations.Any(o => o.OperationId == change.Operation.OperationId))
        {
            // The SQLite store's UNIQUE id refuses it too (as a storage error, not a conflict).
            throw new InvalidOperationException($"Operation {change.Operation.OperationId} is already stored.");
        }

        operations.Add(change.Operation);
    }

    private static void Upsert<T>(Dictionary<string, T> table, string tableName, string name, T value, long expected, Func<T, long> version)
    {
        var exists = table.TryGetValue(name, out var current);
        if (expected == 0)
        {
            if (exists)
            {
                throw new StateConflictException($"{tableName} '{name}' already exists in the store.");
            }
        }
        else if (!exists || version(current!) != expected)
        {
            throw new StateConflictException($"{tableName} '{name}' was changed by another writer (expected version {expected}).");
        }

        // The stored key keeps the spelling of the first insert, as an UPDATE keeps the row's name.
        var key = exists ? table.Keys.First(k => Names.Equal(k, name)) : name;
        table[key] = value;
    }

    private static void Delete<T>(Dictionary<string, T> table, string tableName, string name, long expected, Func<T, long> version)
    {
        if (!table.TryGetValue(name, out var current) || version(current) != expected)
        {
            throw new StateConflictException($"{tableName} '{name}' was changed by another writer (expected version {expected}).");
        }

        table.Remove(name);
    }

    private static void Release(Dictionary<string, (string Kind, string Owner)> addresses, string kind, string owner)
    {
        foreach (var address in addresses.Where(a => a.Value.Kind == kind && Names.Equal(a.Value.Owner, owner)).Select(a => a.Key).ToList())
        {
            addresses.Remove(address);
        }
    }

    private static void Claim(Dictionary<string, (string Kind, string Owner)> addresses, string address, string kind, string owner)
    {
        if (!addresses.TryAdd(address, (kind, owner)))
        {
            throw new StateConflictException($"The address {address} is already in use; it cannot be given to {kind} '{owner}'.");
        }
    }

    private static void Swap<TKey, TValue>(Dictionary<TKey, TValue> target, Dictionary<TKey, TValue> source)
        where TKey : notnull
    {
        target.Clear();
        foreach (var (key, value) in source)
        {
            target[key] = value;
        }
    }

    public Task UpdateOperationsAsync(IReadOnlyList<Operation> operations, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            foreach (var operation in operations)
            {
                var index = _operations.FindIndex(o => o.OperationId == operation.OperationId);
                if (index >= 0)
                {
                    _operations[index] = operation;
                }
            }
        }

        return Task.CompletedTask;
    }

    public Task<Operation?> GetOperationAsync(Guid id, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult(_operations.FirstOrDefault(o => o.OperationId == id));
        }
    }

    public Task<IReadOnlyList<Operation>> ListOperationsAsync(int limit, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<Operation>>([.. Enumerable.Reverse(_operations).Take(limit)]);
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>A commit the store holds until the test releases it.</summary>
internal sealed class HeldCommit
{
    private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when the writer is inside the held commit.</summary>
    public Task Reached => _reached.Task;

    internal Task Released => _released.Task;

    public void Release() => _released.TrySetResult();

    internal void Reach() => _reached.TrySetResult();
}
