using Microsoft.Extensions.Logging.Abstractions;
using MultiVip.Control.Operations;
using MultiVip.Control.Publishing;
using MultiVip.Control.State;
using MultiVip.Control.Tests.Support;
using MultiVip.DataPlane.Contract;
using MultiVip.Model.Operations;

namespace MultiVip.Control.Tests.Publishing;

/// <summary>
/// The publisher hands the data plane one snapshot at a time: generations that arrive while an
/// apply runs are coalesced into one apply of the newest, and every operation of a generation
/// that is live completes. The data plane is held busy (<see cref="RecordingDataPlane"/>) so the
/// generations really arrive during an apply.
/// </summary>
public sealed class DataPlanePublisherTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Generations_published_while_the_data_plane_is_busy_end_in_one_apply_of_the_latest()
    {
        var world = new World();
        var plane = new RecordingDataPlane();
        var tracker = new OperationTracker(new InMemoryStateStore(), TimeProvider.System);
        await using var publisher = new DataPlanePublisher(world.Read, plane, tracker, TimeProvider.System, TimeSpan.FromMinutes(10), NullLogger.Instance);
        await publisher.ApplyNowAsync(default);
        Assert.Equal(0, await plane.NextStartedAsync());

        plane.Hold();
        world.Next();
        publisher.Notify();
        Assert.Equal(1, await plane.NextStartedAsync().AsTask().WaitAsync(Wait));

        // Generation 1 is being applied; 2, 3 and 4 are committed meanwhile, each with its operation.
        var operations = new List<Operation>();
        for (var i = 0; i < 3; i++)
        {
            var generation = world.Next();
            var operation = Operation(generation);
            tracker.Register(operation, ["svc"]);
            operations.Add(operation);
            publisher.Notify();
        }

        plane.Release();
        await plane.WaitAppliedAsync(4).WaitAsync(Wait);
        foreach (var operation in operations)
        {
            var done = await tracker.WaitAsync(operation, Wait, default);
            Assert.Equal(OperationStatus.Succeeded, done.OperationStatus);
            Assert.NotNull(done.CompletedAt);
        }

        // One more change: applied on its own, so nothing else (a second apply of 4) was pending.
        world.Next();
        publisher.Notify();
        await plane.WaitAppliedAsync(5).WaitAsync(Wait);
        Assert.Equal([0L, 1L, 4L, 5L], plane.Applied);
    }

    [Fact]
    public async Task An_operation_completes_only_when_a_generation_that_contains_it_is_live()
    {
        var world = new World();
        var plane = new RecordingDataPlane();
        var tracker = new OperationTracker(new InMemoryStateStore(), TimeProvider.System);
        await using var publisher = new DataPlanePublisher(world.Read, plane, tracker, TimeProvider.System, TimeSpan.FromMinutes(10), NullLogger.Instance);
        await publisher.ApplyNowAsync(default);

        plane.Hold();
        world.Next();
        publisher.Notify();
        Assert.Equal(0, await plane.NextStartedAsync());
        Assert.Equal(1, await plane.NextStartedAsync().AsTask().WaitAsync(Wait));

        // Committed after the snapshot being applied was taken: that apply must not complete it,
        // though it completes the operation of its own generation in the same pass.
        var current = Operation(1);
        var later = Operation(2);
        tracker.Register(current, ["svc"]);
        tracker.Register(later, ["svc"]);
        plane.Release();
        Assert.Equal(OperationStatus.Succeeded, (await tracker.WaitAsync(current, Wait, default)).OperationStatus);
        Assert.Equal(OperationStatus.InProgress, (await tracker.GetAsync(later.OperationId, default))!.OperationStatus);

        world.Next();
        publisher.Notify();
        Assert.Equal(OperationStatus.Succeeded, (await tracker.WaitAsync(later, Wait, default)).OperationStatus);
    }

    [Fact]
    public async Task A_fault_fails_the_operations_of_its_service_and_the_snapshot_is_applied_again_without_a_change()
    {
        var world = new World();
        var plane = new RecordingDataPlane();
        var tracker = new OperationTracker(new InMemoryStateStore(), TimeProvider.System);
        await using var publisher = new DataPlanePublisher(world.Read, plane, tracker, TimeProvider.System, TimeSpan.FromMilliseconds(20), NullLogger.Instance);
        await publisher.ApplyNowAsync(default);

        var key = new ListenerKey(System.Net.IPAddress.Parse("127.73.250.1"), Model.Services.TransportProtocol.Tcp, 80);
        plane.Faults = [new ListenerFault(key, "broken", "address not available")];
        var generation = world.Next();
        var broken = Operation(generation);
        var fine = Operation(generation) with { OperationId = Guid.NewGuid(), Target = "fine" };
        tracker.Register(broken, ["broken"]);
        tracker.Register(fine, ["fine"]);
        publisher.Notify();

        var failed = await tracker.WaitAsync(broken, Wait, default);
        Assert.Equal(OperationStatus.Failed, failed.OperationStatus);
        Assert.Equal(nameof(Model.Errors.ErrorCode.DataPlaneError), failed.ErrorCode);
        Assert.Contains("address not available", failed.ErrorMessage);
        Assert.Equal(OperationStatus.Succeeded, (await tracker.WaitAsync(fine, Wait, default)).OperationStatus);
        Assert.Single(publisher.Faults);

        // With a fault outstanding the same generation is applied again by itself, with no new
        // change: the address may have come back.
        while (await plane.NextStartedAsync().AsTask().WaitAsync(Wait) != generation)
        {
        }

        Assert.Equal(generation, await plane.NextStartedAsync().AsTask().WaitAsync(Wait));
    }

    private static Operation Operation(long generation) => new()
    {
        OperationId = Guid.NewGuid(),
        OperationDescription = "Set-AzureEndpoint",
        OperationStatus = OperationStatus.InProgress,
        Target = "svc",
        CreatedAt = DateTimeOffset.UtcNow,
        Generation = generation,
    };

    /// <summary>The world the publisher reads: empty services, a generation the test moves on.</summary>
    private sealed class World
    {
        private WorldState _current = WorldState.Empty;

        public WorldState Read() => Volatile.Read(ref _current);

        public long Next()
        {
            var next = _current with { Generation = _current.Generation + 1 };
            Volatile.Write(ref _current, next);
            return next.Generation;
        }
    }
}
