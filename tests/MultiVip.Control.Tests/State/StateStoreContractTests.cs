using Microsoft.Extensions.Logging.Abstractions;
using MultiVip.Control.State;
using MultiVip.Control.Tests.Postgres;
using MultiVip.Control.Tests.Support;
using MultiVip.Model.Operations;
using MultiVip.Model.ReservedIps;
using MultiVip.Model.Services;

namespace MultiVip.Control.Tests.State;

/// <summary>
/// The <see cref="IStateStore"/> contract, written once and run against every store: SQLite,
/// PostgreSQL and the in-memory one the fast tests use. What is committed loads back, a batch is all
/// or nothing, versions guard every update and delete, one address has one owner (also between
/// writers committing at once), generations are the store's, in commit order, and the catch-up read
/// by generation returns exactly what changed after it.
/// </summary>
public abstract partial class StateStoreContractTests
{
    /// <summary>A new, empty store.</summary>
    protected abstract Task<OpenStore> OpenAsync();

    [Fact]
    public async Task What_is_committed_loads_back_with_cursor_generation_and_unfinished_operations()
    {
        await using var store = await OpenAsync();
        var first = Operation(1);
        var second = Operation(2);
        await store.Store.CommitAsync(
        [
            new StateChange
            {
                Operation = first,
                UpsertServices = [(Service("b", 1, "127.73.10.1"), 0)],
                UpsertReservedIps = [(Reserved("r", 1, "127.73.10.2"), 0)],
                AllocationCursor = 7,
                Generation = 1,
            },
            new StateChange { Operation = second, UpsertServices = [(Service("A", 1), 0)], Generation = 2 },
        ], default);
        await store.Store.UpdateOperationsAsync([first with { OperationStatus = OperationStatus.Succeeded }], default);

        var loaded = await store.Store.LoadAsync(default);
        Assert.Equal(["A", "b"], loaded.Services.Select(s => s.Name));
        Assert.Equal("127.73.10.1", loaded.Services[1].Deployment!.VirtualIps[0].Address);
        Assert.Equal(["r"], loaded.ReservedIps.Select(r => r.Name));
        Assert.Equal(7u, loaded.AllocationCursor);
        Assert.Equal(2, loaded.Generation);
        Assert.Equal([second.OperationId], loaded.UnfinishedOperations.Select(o => o.OperationId));
        Assert.Equal(OperationStatus.Succeeded, (await store.Store.GetOperationAsync(first.OperationId, default))!.OperationStatus);
        Assert.Null(await store.Store.GetOperationAsync(Guid.NewGuid(), default));
        Assert.Equal([second.OperationId, first.OperationId], (await store.Store.ListOperationsAsync(10, default)).Select(o => o.OperationId));
        Assert.Equal([second.OperationId], (await store.Store.ListOperationsAsync(1, default)).Select(o => o.OperationId));
    }

    [Fact]
    public async Task A_new_aggregate_under_a_name_already_stored_is_a_conflict_whatever_its_case()
    {
        await using var store = await OpenAsync();
        await store.Store.CommitAsync([new StateChange { Operation = Operation(1), UpsertServices = [(Service("web", 1), 0)], Generation = 1 }], default);

        await Assert.ThrowsAsync<StateConflictException>(() => store.Store.CommitAsync(
            [new StateChange { Operation = Operation(2), UpsertServices = [(Service("WEB", 1), 0)], Generation = 2 }], default));
        await Assert.ThrowsAsync<StateConflictException>(() => store.Store.CommitAsync(
            [new StateChange { Operation = Operation(2), UpsertReservedIps = [(Reserved("r", 1, "127.73.11.1"), 0)], Generation = 2 },
             new StateChange { Operation = Operation(3), UpsertReservedIps = [(Reserved("R", 1, "127.73.11.2"), 0)], Generation = 3 }], default));

        var loaded = await store.Store.LoadAsync(default);
        Assert.Equal(["web"], loaded.Services.Select(s => s.Name));
        Assert.Empty(loaded.ReservedIps);
        Assert.Equal(1, loaded.Generation);
    }

    [Fact]
    public async Task A_stale_version_refuses_the_whole_batch_and_keeps_nothing_of_it()
    {
        await using var store = await OpenAsync();
        await store.Store.CommitAsync([new StateChange { Operation = Operation(1), UpsertServices = [(Service("s", 1), 0)], Generation = 1 }], default);
        await store.Store.CommitAsync([new StateChange { Operation = Operation(2), UpsertServices = [(Service("s", 2), 1)], Generation = 2 }], default);

        // A good change followed by one written on version 1 of "s", which is now version 2.
        var good = Operation(3);
        await Assert.ThrowsAsync<StateConflictException>(() => store.Store.CommitAsync(
        [
            new StateChange { Operation = good, UpsertServices = [(Service("fresh", 1, "127.73.12.1"), 0)], AllocationCursor = 99, Generation = 3 },
            new StateChange { Operation = Operation(4), UpsertServices = [(Service("s", 2), 1)], Generation = 4 },
        ], default));
        await Assert.ThrowsAsync<StateConflictException>(() => store.Store.CommitAsync(
            [new StateChange { Operation = Operation(3), DeleteServices = [("s", 1)], Generation = 3 }], default));
        await Assert.ThrowsAsync<StateConflictException>(() => store.Store.CommitAsync(
            [new StateChange { Operation = Operation(3), UpsertServices = [(Service("unknown", 5), 4)], Generation = 3 }], default));
        await Assert.ThrowsAsync<StateConflictException>(() => store.Store.CommitAsync(
            [new StateChange { Operation = Operation(3), DeleteReservedIps = [("unknown", 1)], Generation = 3 }], default));

        var loaded = await store.Store.LoadAsync(default);
        Assert.Equal([("s", 2L)], loaded.Services.Select(s => (s.Name, s.Version)));
        Assert.Null(loaded.AllocationCursor);
        Assert.Equal(2, loaded.Generation);
        Assert.Null(await store.Store.GetOperationAsync(good.OperationId, default));

        // The address the refused batch would have claimed is still free.
        await store.Store.CommitAsync([new StateChange { Operation = Operation(3), UpsertServices = [(Service("other", 1, "127.73.12.1"), 0)], Generation = 3 }], default);
        await store.Store.CommitAsync([new StateChange { Operation = Operation(4), DeleteServices = [("s", 2)], Generation = 4 }], default);
        Assert.Equal(["other"], (await store.Store.LoadAsync(default)).Services.Select(s => s.Name));
    }

    [Fact]
    public async Task An_address_has_one_owner_but_may_move_between_owners_in_one_change()
    {
        await using var store = await OpenAsync();
        const string Address = "127.73.13.1";
        await store.Store.CommitAsync([new StateChange { Operation = Operation(1), UpsertServices = [(Service("a", 1, Address), 0)], Generation = 1 }], default);

        await Assert.ThrowsAsync<StateConflictException>(() => store.Store.CommitAsync(
            [new StateChange { Operation = Operation(2), UpsertServices = [(Service("b", 1, Address), 0)], Generation = 2 }], default));
        await Assert.ThrowsAsync<StateConflictException>(() => store.Store.CommitAsync(
            [new StateChange { Operation = Operation(2), UpsertReservedIps = [(Reserved("r", 1, Address), 0)], Generation = 2 }], default));

        // Reserving the VIP's own address: the VIP lets go of it and the reservation takes it, in one change.
        var reservedVip = Service("a", 2, Address);
        reservedVip = reservedVip with { Deployment = reservedVip.Deployment! with { VirtualIps = [reservedVip.Deployment.VirtualIps[0] with { ReservedIpName = "r" }] } };
        await store.Store.CommitAsync([new StateChange
        {
            Operation = Operation(2),
            UpsertServices = [(reservedVip, 1)],
            UpsertReservedIps = [(Reserved("r", 1, Address) with { ServiceName = "a", VirtualIpName = "Vip1" }, 0)],
            Generation = 2,
        }], default);

        // Now the reservation holds it; deleting the service does not free it, deleting the reservation does.
        await store.Store.CommitAsync([new StateChange { Operation = Operation(3), DeleteServices = [("a", 2)], Generation = 3 }], default);
        await Assert.ThrowsAsync<StateConflictException>(() => store.Store.CommitAsync(
            [new StateChange { Operation = Operation(4), UpsertServices = [(Service("c", 1, Address), 0)], Generation = 4 }], default));
        await store.Store.CommitAsync([new StateChange { Operation = Operation(4), DeleteReservedIps = [("r", 1)], Generation = 4 }], default);
        await store.Store.CommitAsync([new StateChange { Operation = Operation(5), UpsertServices = [(Service("c", 1, Address), 0)], Generation = 5 }], default);
        Assert.Equal(["c"], (await store.Store.LoadAsync(default)).Services.Select(x => x.Name));
    }

    protected static CloudService Service(string name, long version, string? address = null) => new()
    {
        Name = name,
        Version = version,
        Deployment = address is null ? null : new Deployment
        {
            Name = name,
            VirtualIps = [new VirtualIp { Name = "Vip1", Address = address, IsDnsProgrammed = true }],
            VirtualMachines = [],
        },
    };

    protected static ReservedIp Reserved(string name, long version, string address) => new() { Name = name, Version = version, Address = address, Id = Guid.NewGuid() };

    protected static Operation Operation(long generation) => new()
    {
        OperationId = Guid.NewGuid(),
        OperationDescription = "Test",
        OperationStatus = OperationStatus.InProgress,
        CreatedAt = DateTimeOffset.UtcNow,
        Generation = generation,
    };

    /// <summary>A store under test and how to open another writer on the same database.</summary>
    protected sealed class OpenStore(IStateStore store, Func<Task<IStateStore>> another, Func<ValueTask>? cleanUp = null) : IAsyncDisposable
    {
        private readonly List<IStateStore> _others = [];

        public IStateStore Store { get; } = store;

        /// <summary>A second writer on the same data (another node on the database).</summary>
        public async Task<IStateStore> AnotherAsync()
        {
            var other = await another();
            _others.Add(other);
            return other;
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var other in _others.Where(o => !ReferenceEquals(o, Store)))
            {
                await other.DisposeAsync();
            }

            await Store.DisposeAsync();
            if (cleanUp is not null)
            {
                await cleanUp();
            }
        }
    }
}

public sealed class SqliteStateStoreContractTests : StateStoreContractTests
{
    protected override async Task<OpenStore> OpenAsync()
    {
        var dir = new TempDataDir();
        return new OpenStore(
            await SqliteStateStore.OpenAsync(dir.Path, default),
            async () => await SqliteStateStore.OpenAsync(dir.Path, default),
            () =>
            {
                dir.Dispose();
                return ValueTask.CompletedTask;
            });
    }
}

public sealed class MemoryStateStoreContractTests : StateStoreContractTests
{
    protected override Task<OpenStore> OpenAsync()
    {
        // Writers share the one instance, as control planes on one database do in the fast tests.
        var store = new InMemoryStateStore();
        return Task.FromResult(new OpenStore(store, () => Task.FromResult<IStateStore>(store)));
    }
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresStateStoreContractTests(PostgresFixture fixture) : StateStoreContractTests
{
    protected override async Task<OpenStore> OpenAsync()
    {
        var location = PostgresLocation.Parse(await fixture.CreateDatabaseAsync());
        return new OpenStore(
            await PostgresStateStore.OpenAsync(location, TimeProvider.System, NullLoggerFactory.Instance, default),
            async () => await PostgresStateStore.OpenAsync(location, TimeProvider.System, NullLoggerFactory.Instance, default));
    }
}
