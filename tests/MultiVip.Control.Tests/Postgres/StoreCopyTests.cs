using Microsoft.Extensions.Logging.Abstractions;
using MultiVip.Control.State;
using MultiVip.Model.Operations;
using MultiVip.Model.ReservedIps;
using MultiVip.Model.Services;

namespace MultiVip.Control.Tests.Postgres;

/// <summary>`multivip store copy`: SQLite into an empty PostgreSQL database and back, whole, and never into a store that holds state.</summary>
[Collection(PostgresCollection.Name)]
public sealed class StoreCopyTests(PostgresFixture fixture)
{
    [Fact]
    public async Task A_state_copied_from_SQLite_to_PostgreSQL_and_back_is_the_same_state()
    {
        using var source = new TempDataDir();
        using var back = new TempDataDir();
        var url = fixture.Server.Url(await fixture.Server.CreateDatabaseAsync());
        var operation = new Operation { OperationId = Guid.NewGuid(), OperationDescription = "Seed", OperationStatus = OperationStatus.InProgress, CreatedAt = DateTimeOffset.UtcNow, Target = "web" };
        await using (var sqlite = await SqliteStateStore.OpenAsync(source.Path, default))
        {
            await sqlite.CommitAsync([new StateChange
            {
                Operation = operation,
                UpsertServices = [(new CloudService
                {
                    Name = "web",
                    Version = 1,
                    Deployment = new Deployment { Name = "web", VirtualIps = [new VirtualIp { Name = "Vip1", Address = "127.110.50.1", IsDnsProgrammed = true }], VirtualMachines = [] },
                }, 0)],
                UpsertReservedIps = [(new ReservedIp { Name = "keep", Version = 1, Address = "127.110.50.2", Id = Guid.NewGuid() }, 0)],
                AllocationCursor = 0x7F6E3201,
                Usage = [],
            }], default);
            await sqlite.UpdateOperationsAsync([operation with { OperationStatus = OperationStatus.Succeeded }], default);
        }

        var there = await CopyAsync(source.Path, url);
        Assert.Equal((1, 1, 1, 1L), (there.Services, there.ReservedIps, there.Operations, there.Generation));
        Assert.DoesNotContain("pg-test-secret", there.To);
        await CopyAsync(url, back.Path);

        await using var original = await SqliteStateStore.OpenAsync(source.Path, default);
        await using var copied = await SqliteStateStore.OpenAsync(back.Path, default);
        var before = WorldState.From(await original.LoadAsync(default));
        var after = WorldState.From(await copied.LoadAsync(default));
        Assert.Equal(before.Generation, after.Generation);
        Assert.Equal(before.AllocationCursor, after.AllocationCursor);
        Assert.Equal(StoredDocumentJson.Write(before.Services["web"]), StoredDocumentJson.Write(after.Services["web"]));
        Assert.Equal(StoredDocumentJson.Write(before.ReservedIps["keep"]), StoredDocumentJson.Write(after.ReservedIps["keep"]));
        Assert.Equal(before.Addresses.OrderBy(a => a.Key), after.Addresses.OrderBy(a => a.Key));
        Assert.Equal(OperationStatus.Succeeded, (await copied.GetOperationAsync(operation.OperationId, default))!.OperationStatus);

        // The copy is a working store: it takes the next change, with the next generation.
        var next = await copied.CommitAsync([new StateChange { Operation = operation with { OperationId = Guid.NewGuid() }, DeleteReservedIps = [("keep", 1)] }], default);
        Assert.Equal(2, next.First);
    }

    [Fact]
    public async Task A_target_that_holds_state_is_refused_and_left_as_it_was()
    {
        using var source = new TempDataDir();
        var url = fixture.Server.Url(await fixture.Server.CreateDatabaseAsync());
        await using (var sqlite = await SqliteStateStore.OpenAsync(source.Path, default))
        {
            await sqlite.CommitAsync([new StateChange { Operation = NewOperation(), UpsertServices = [(new CloudService { Name = "a", Version = 1 }, 0)] }], default);
        }

        await CopyAsync(source.Path, url);
        var refused = await Assert.ThrowsAsync<StoreCopyException>(() => CopyAsync(source.Path, url));
        Assert.Contains("Nothing was copied", refused.Message);
        Assert.Contains("already holds state (1 cloud services", refused.Message);
        Assert.Contains("empty store", refused.Message);
        Assert.DoesNotContain("pg-test-secret", refused.Message);
    }

    private static async Task<StoreCopySummary> CopyAsync(string from, string to)
    {
        await using var source = await StoreCopy.OpenAsync(from, mustHoldState: true, TimeProvider.System, NullLoggerFactory.Instance, default);
        await using var target = await StoreCopy.OpenAsync(to, mustHoldState: false, TimeProvider.System, NullLoggerFactory.Instance, default);
        return await StoreCopy.CopyAsync(source, StoreCopy.Describe(from), target, StoreCopy.Describe(to), default);
    }

    private static Operation NewOperation() => new() { OperationId = Guid.NewGuid(), OperationDescription = "Seed", OperationStatus = OperationStatus.InProgress, CreatedAt = DateTimeOffset.UtcNow };
}
