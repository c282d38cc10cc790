using Microsoft.Extensions.Logging;
using MultiVip.Control.Commands;
using MultiVip.Control.Operations;
using MultiVip.Control.Publishing;
using MultiVip.Control.State;
using MultiVip.Model.DesiredState;
using MultiVip.Model.Operations;

namespace MultiVip.Control;

/// <summary>
/// The control plane: validates and commits every change, then publishes the new desired state.
/// Writes are serialized through one lock — which is what "changes to one deployment are serialized"
/// needs, and also what keeps address allocation and reservations (which span services) race-free.
/// A change costs microseconds of validation plus one SQLite commit; the wait for the data plane
/// happens outside the lock. Reads never lock: they take <see cref="Current"/>.
/// </summary>
public sealed partial class ControlPlane : IAsyncDisposable
{
    private readonly IStateStore _store;
    private readonly ControlPlaneOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly OperationTracker _tracker;
    private readonly DataPlanePublisher _publisher;
    private WorldState _world;

    private ControlPlane(IStateStore store, WorldState world, ControlPlaneOptions options, IDataPlane dataPlane, TimeProvider time, ILoggerFactory loggers)
    {
        _store = store;
        _world = world;
        _options = options;
        _time = time;
        _logger = loggers.CreateLogger<ControlPlane>();
        _tracker = new OperationTracker(store, time) { Completed = op => OperationCompleted?.Invoke(op) };
        _publisher = new DataPlanePublisher(() => Volatile.Read(ref _world), dataPlane, _tracker, time, options.FaultRetryInterval, loggers.CreateLogger<DataPlanePublisher>());
    }

    /// <summary>Raised when an operation finishes (Succeeded or Failed), with its CreatedAt and CompletedAt set.</summary>
    public event Action<Operation>? OperationCompleted;

    /// <summary>The current desired state; immutable, safe to read from any thread.</summary>
    public WorldState Current => Volatile.Read(ref _world);

    public ControlPlaneOptions Options => _options;

    /// <summary>Faults the data plane reported on its last apply (listeners it could not start).</summary>
    public IReadOnlyList<ListenerFault> Faults => _publisher.Faults;

    /// <summary>
    /// Loads the stored state, rebuilds the data plane from it before returning (so listeners are up
    /// before the API opens), and completes operations a crash left InProgress.
    /// </summary>
    public static async Task<ControlPlane> StartAsync(IStateStore store, ControlPlaneOptions options, IDataPlane dataPlane, TimeProvider time, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var stored = await store.LoadAsync(cancellationToken);
        var control = new ControlPlane(store, WorldState.From(stored), options, dataPlane, time, loggers);
        foreach (var operation in stored.UnfinishedOperations)
        {
            control._tracker.Register(operation with { Generation = Math.Min(operation.Generation, stored.Generation) }, [operation.Target ?? ""]);
        }

        var result = await control._publisher.ApplyNowAsync(cancellationToken);
        Log.Started(control._logger, stored.Services.Count, stored.ReservedIps.Count, stored.Generation, result.Faults.Count);
        return control;
    }

    public Task<Operation?> GetOperationAsync(Guid id, CancellationToken cancellationToken) =>
        _tracker.GetAsync(id, cancellationToken);

    public Task<IReadOnlyList<Operation>> ListOperationsAsync(int limit, CancellationToken cancellationToken) =>
        _store.ListOperationsAsync(Math.Clamp(limit, 1, 10_000), cancellationToken);

    /// <summary>Waits (bounded) for an operation to finish; returns its latest state.</summary>
    public Task<Operation> WaitAsync(Operation operation, TimeSpan max, CancellationToken cancellationToken) =>
        _tracker.WaitAsync(operation, max, cancellationToken);

    /// <summary>
    /// Runs one command: builds the change against the current state, commits it with its operation
    /// record, swaps the state in, and wakes the publisher. A command that throws changes nothing.
    /// </summary>
    private async Task<Operation> ExecuteAsync(string description, string target, CallContext context, Action<Mutation> command, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        Operation operation;
        try
        {
            var world = _world;
            var mutation = new Mutation(world, _options.Pool, _options.Limits, _time.GetUtcNow());
            command(mutation);
            var generation = world.Generation + 1;
            operation = new Operation
            {
                OperationId = Guid.NewGuid(),
                OperationDescription = description,
                OperationStatus = OperationStatus.InProgress,
                Target = target,
                Caller = context.Caller,
                CreatedAt = mutation.Now,
                Generation = generation,
            };
            var (change, next) = mutation.Build(operation, generation);

            // Past this point the change must not be abandoned half-way: the commit is not cancellable.
            await _store.CommitAsync(change, CancellationToken.None);
            Volatile.Write(ref _world, next);
            _tracker.Register(operation, mutation.TouchedServices.Append(target));
        }
        finally
        {
            _writeLock.Release();
        }

        Log.Committed(_logger, description, target, operation.OperationId, operation.Generation, context.Caller ?? "");
        _publisher.Notify();
        return operation;
    }

    public async ValueTask DisposeAsync()
    {
        await _publisher.DisposeAsync();
        _writeLock.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1001, EventName = "ControlPlaneStarted", Level = LogLevel.Information, Message = "Control plane started: {Services} cloud services, {ReservedIps} reserved IPs, generation {Generation}, {Faults} listener faults")]
        public static partial void Started(ILogger logger, int services, int reservedIps, long generation, int faults);

        [LoggerMessage(EventId = 1002, EventName = "OperationCommitted", Level = LogLevel.Information, Message = "{Description} on {Target} committed as operation {OperationId} (generation {Generation}) by {Caller}")]
        public static partial void Committed(ILogger logger, string description, string target, Guid operationId, long generation, string caller);
    }
}
