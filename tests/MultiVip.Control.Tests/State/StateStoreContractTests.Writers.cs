using MultiVip.Control.State;
using MultiVip.Model.Operations;

namespace MultiVip.Control.Tests.State;

/// <summary>The multi-writer half of the contract: several stores open on one database at once.</summary>
public abstract partial class StateStoreContractTests
{
    [Fact]
    public async Task Generations_are_the_stores_consecutive_in_commit_order_and_stored_with_the_operations()
    {
        await using var store = await OpenAsync();
        var other = await store.AnotherAsync();

        // The writers' own idea of the generation (both think "1") is not what counts.
        var first = await store.Store.CommitAsync(
            [new StateChange { Operation = Operation(1), UpsertServices = [(Service("a", 1), 0)], Generation = 1 },
             new StateChange { Operation = Operation(2), UpsertServices = [(Service("b", 1), 0)], Generation = 2 }], default);
        var secondOperation = Operation(1);
        var second = await other.CommitAsync([new StateChange { Operation = secondOperation, UpsertServices = [(Service("c", 1), 0)], Generation = 1 }], default);

        Assert.Equal(new CommitReceipt(1, 2), first);
        Assert.Equal(new CommitReceipt(3, 3), second);
        Assert.Equal(3, (await store.Store.LoadAsync(default)).Generation);
        Assert.Equal(3, (await store.Store.GetOperationAsync(secondOperation.OperationId, default))!.Generation);
    }

    [Fact]
    public async Task Changes_since_a_generation_are_what_was_written_and_deleted_after_it()
    {
        await using var store = await OpenAsync();
        await store.Store.CommitAsync([new StateChange { Operation = Operation(1), UpsertServices = [(Service("old", 1), 0), (Service("gone", 1), 0)], UpsertReservedIps = [(Reserved("r", 1, "127.73.20.1"), 0)], Generation = 1 }], default);
        await store.Store.CommitAsync([new StateChange { Operation = Operation(2), UpsertServices = [(Service("back", 1), 0)], Generation = 2 }], default);
        await store.Store.CommitAsync([new StateChange { Operation = Operation(3), DeleteServices = [("back", 1)], Generation = 3 }], default);

        var since1 = await store.Store.LoadChangesSinceAsync(1, default);
        Assert.Equal(3, since1.Generation);
        Assert.Empty(since1.UpsertedServices);
        Assert.Equal(["back"], since1.DeletedServices);

        // Deleted, then created again under another spelling: the name is its document, not a tombstone.
        await store.Store.CommitAsync(
            [new StateChange { Operation = Operation(4), UpsertServices = [(Service("BACK", 1, "127.73.20.2"), 0), (Service("old", 2), 1)], DeleteServices = [("gone", 1)], DeleteReservedIps = [("r", 1)], AllocationCursor = 42, Generation = 4 }], default);
        var since3 = await store.Store.LoadChangesSinceAsync(3, default);
        Assert.Equal(4, since3.Generation);
        Assert.Equal(["BACK", "old"], since3.UpsertedServices.Select(s => s.Name).Order(StringComparer.Ordinal));
        Assert.Equal(2, since3.UpsertedServices.Single(s => s.Name == "old").Version);
        Assert.Equal(["gone"], since3.DeletedServices);
        Assert.Equal(["r"], since3.DeletedReservedIps);
        Assert.Equal(42u, since3.AllocationCursor);

        // Applying the changes to the state of generation 0 gives the state loaded whole.
        var caughtUp = WorldState.Empty.Apply(await store.Store.LoadChangesSinceAsync(0, default));
        var loaded = WorldState.From(await store.Store.LoadAsync(default));
        Assert.Equal(loaded.Generation, caughtUp.Generation);
        Assert.Equal(loaded.Services.Keys.Order(), caughtUp.Services.Keys.Order());
        Assert.Equal(loaded.Addresses.OrderBy(a => a.Key), caughtUp.Addresses.OrderBy(a => a.Key));
        Assert.True((await store.Store.LoadChangesSinceAsync(4, default)).IsEmpty);
    }

    [Fact]
    public async Task Writers_committing_at_once_get_distinct_generations_and_one_address_has_one_winner()
    {
        await using var store = await OpenAsync();
        var writers = new[] { store.Store, await store.AnotherAsync(), await store.AnotherAsync() };

        // Every writer commits 10 changes, and each also tries for one address all three want.
        var results = await Task.WhenAll(writers.Select((writer, w) => Task.Run(async () =>
        {
            var receipts = new List<CommitReceipt>();
            for (var i = 0; i < 10; i++)
            {
                receipts.Add(await writer.CommitAsync([new StateChange { Operation = Operation(1), UpsertServices = [(Service($"w{w}-{i}", 1, $"127.73.21.{(w * 10) + i + 1}"), 0)], Generation = 1 }], default));
            }

            var won = true;
            try
            {
                receipts.Add(await writer.CommitAsync([new StateChange { Operation = Operation(1), UpsertServices = [(Service($"contender{w}", 1, "127.73.21.200"), 0)], Generation = 1 }], default));
            }
            catch (StateConflictException)
            {
                won = false;
            }

            return (receipts, won);
        })));

        Assert.Single(results, r => r.won);
        var generations = results.SelectMany(r => r.receipts).Select(r => r.First).Order().ToList();
        Assert.Equal(Enumerable.Range(1, 31).Select(g => (long)g), generations);
        var loaded = await store.Store.LoadAsync(default);
        Assert.Equal(31, loaded.Services.Count);
        Assert.Equal(31, loaded.Generation);
    }

    [Fact]
    public async Task A_reader_catching_up_by_generation_while_writers_commit_misses_nothing()
    {
        await using var store = await OpenAsync();
        var writers = new[] { store.Store, await store.AnotherAsync(), await store.AnotherAsync() };
        var reader = await store.AnotherAsync();
        using var done = new CancellationTokenSource();

        var writing = Task.WhenAll(writers.Select((writer, w) => Task.Run(async () =>
        {
            for (var i = 0; i < 40; i++)
            {
                await writer.CommitAsync([new StateChange { Operation = Operation(1), UpsertServices = [(Service($"s{w}-{i}", 1), 0)], Generation = 1 }], default);
            }
        })));

        // The reader applies only what each read says changed after the generation it has: a change
        // committed "below" a generation it already read would be lost for good.
        var world = WorldState.Empty;
        var reading = Task.Run(async () =>
        {
            while (!writing.IsCompleted)
            {
                world = world.Apply(await reader.LoadChangesSinceAsync(world.Generation, default));
            }
        });
        await writing;
        await reading;
        world = world.Apply(await reader.LoadChangesSinceAsync(world.Generation, default));

        Assert.Equal(120, world.Generation);
        Assert.Equal(120, world.Services.Count);
    }

    [Fact]
    public async Task Operations_completed_by_one_writer_are_read_by_another()
    {
        await using var store = await OpenAsync();
        var other = await store.AnotherAsync();
        var operation = Operation(1);
        await store.Store.CommitAsync([new StateChange { Operation = operation, UpsertServices = [(Service("x", 1), 0)], Generation = 1 }], default);
        await store.Store.UpdateOperationsAsync([operation with { OperationStatus = OperationStatus.Succeeded }], default);

        Assert.Equal(OperationStatus.Succeeded, (await other.GetOperationAsync(operation.OperationId, default))!.OperationStatus);
        Assert.Empty((await other.LoadAsync(default)).UnfinishedOperations);
    }
}
