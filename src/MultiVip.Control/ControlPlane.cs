using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using MultiVip.Control.Commands;
using MultiVip.Control.Nodes;
using MultiVip.Control.Operations;
using MultiVip.Control.Publishing;
using MultiVip.Control.State;
using MultiVip.DataPlane.Contract;
using MultiVip.Model.Errors;
using MultiVip.Model.Networking;
using MultiVip.Model.Operations;
using MultiVip.Model.Text;

namespace MultiVip.Control;

/// <summary>
/// The control plane: validates and commits every change, then publishes the new desired state.
/// Writes go through one queue and one writer — which is what "changes to one deployment are
/// serialized" needs, and also what keeps address allocation and reservations (which span services)
/// race-free. Commands waiting together are committed together (group commit); the wait for the
/// data plane happens outside the writer. Reads never lock: they take <see cref="Current"/>.
/// </summary>
public sealed partial class ControlPlane : IAsyncDisposable
{
    private readonly IStateStore _store;
    private readonly ControlPlaneOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Channel<QueuedCommand> _queue = Channel.CreateUnbounded<QueuedCommand>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _committer;

    // The writer and the change feed take turns replacing _world: a commit's catch-up and the
    // feed's never interleave, and each starts from the state the other left.
    private readonly SemaphoreSlim _worldGate = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private Task _feed = Task.CompletedTask;
    private readonly OperationTracker _tracker;
    private readonly DataPlanePublisher _publisher;
    private WorldState _world;
    private Maintenance.DrainCompletion? _drains;

    private ControlPlane(IStateStore store, WorldState world, ControlPlaneOptions options, IDataPlane dataPlane, TimeProvider time, ILoggerFactory loggers)
    {
        _store = store;
        _world = world;
        _options = options;
        _time = time;
        _logger = loggers.CreateLogger<ControlPlane>();
        _tracker = new OperationTracker(store, time) { Completed = op => OperationCompleted?.Invoke(op) };
        Nodes = new NodeCluster(options.NodeName, options.NodeDownAfter, time);
        _publisher = new DataPlanePublisher(() => Volatile.Read(ref _world), dataPlane, _tracker, time, options.FaultRetryInterval, loggers.CreateLogger<DataPlanePublisher>(), Nodes);
        _committer = Task.Run(CommitLoopAsync);
    }

    /// <summary>Raised when an operation finishes (Succeeded or Failed), with its CreatedAt and CompletedAt set.</summary>
    public event Action<Operation>? OperationCompleted;

    /// <summary>The current desired state; immutable, safe to read from any thread.</summary>
    public WorldState Current => Volatile.Read(ref _world);

    public ControlPlaneOptions Options => _options;

    /// <summary>This node's and the other nodes' progress, which operations complete against.</summary>
    public NodeCluster Nodes { get; }

    /// <summary>Whether operations wait for a data plane (the node heartbeat polls other nodes meanwhile).</summary>
    internal bool HasPendingOperations => _tracker.HasPending;

    /// <summary>Completes what the other nodes' latest records settle (called when the registry was read, and as time makes nodes Down).</summary>
    internal Task CompleteFromNodesAsync(CancellationToken cancellationToken) =>
        _tracker.CompleteAsync(Nodes.Live(), cancellationToken);

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
        control._feed = Task.Run(control.FeedLoopAsync, CancellationToken.None);
        control._drains = new Maintenance.DrainCompletion(control, dataPlane, time, loggers.CreateLogger<Maintenance.DrainCompletion>());
        Log.Started(control._logger, stored.Services.Count, stored.ReservedIps.Count, stored.Generation, result.Faults.Count);
        WarnAboutAddressesOutsidePool(control._logger, control.Current, options.Pool);
        return control;
    }

    /// <summary>
    /// A restart with a --vip-pool that no longer covers addresses in use is allowed (the addresses
    /// keep serving; only new allocations come from the pool), but it is usually a typo: say so once,
    /// with enough of the list to recognise it, instead of one line per address.
    /// </summary>
    private static void WarnAboutAddressesOutsidePool(ILogger logger, WorldState world, AddressPool pool)
    {
        const int shown = 5;
        var outside = world.Addresses.Where(a => !pool.Contains(a.Key)).OrderBy(a => a.Key).ToList();
        if (outside.Count == 0)
        {
            return;
        }

        var list = string.Join(", ", outside.Take(shown).Select(a => $"{a.Key} ({a.Value})"));
        if (outside.Count > shown)
        {
            list += $" and {outside.Count - shown} more";
        }

        Log.AddressesOutsidePool(logger, outside.Count, pool.ToString(), list);
    }

    public Task<Operation?> GetOperationAsync(Guid id, CancellationToken cancellationToken) =>
        _tracker.GetAsync(id, cancellationToken);

    public Task<IReadOnlyList<Operation>> ListOperationsAsync(int limit, CancellationToken cancellationToken) =>
        _store.ListOperationsAsync(Math.Clamp(limit, 1, 10_000), cancellationToken);

    /// <summary>Waits (bounded) for an operation to finish; returns its latest state.</summary>
    public Task<Operation> WaitAsync(Operation operation, TimeSpan max, CancellationToken cancellationToken) =>
        _tracker.WaitAsync(operation, max, cancellationToken);

    /// <summary>
    /// Queues one command for the committer and waits for its operation. A command that throws
    /// changes nothing; its exception reaches the caller.
    /// </summary>
    private async Task<Operation> ExecuteAsync(string description, string target, CallContext context, Action<Mutation> command, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var queued = new QueuedCommand(description, target, context, command);
        if (!_queue.Writer.TryWrite(queued))
        {
            throw new ObjectDisposedException(nameof(ControlPlane), "The server is stopping; the change was not made.");
        }

        // Once queued, a command runs to the end even if the caller goes away: it is either
        // committed (and acknowledged by its operation) or refused, never left half-way.
        return await queued.Done.Task;
    }

    /// <summary>
    /// The single writer. It takes every command waiting in the queue, runs them in order, each
    /// against the state the previous one produced, and commits the accepted ones in one
    /// transaction: one fsync for a group instead of one per command (group commit), which is what
    /// keeps many concurrent clients fast while each change is still durable before it is acknowledged.
    /// </summary>
    private async Task CommitLoopAsync()
    {
        const int maxGroup = 256;
        var reader = _queue.Reader;
        var group = new List<QueuedCommand>(maxGroup);
        while (await reader.WaitToReadAsync())
        {
            group.Clear();
            while (group.Count < maxGroup && reader.TryRead(out var next))
            {
                group.Add(next);
            }

            await CommitGroupAsync(group);
        }
    }

    /// <summary>
    /// Runs and commits one group. A commit the store refuses as stale (another writer changed an
    /// aggregate after our state was read) is not the callers' fault: the state is reloaded and the
    /// whole group is run again on it, so each command is judged — and a real conflict, such as a
    /// name taken meanwhile, reported in the domain's words — against the state it commits on.
    /// Every stale attempt means another writer committed in between, so the bound is only reached
    /// when the store keeps refusing what fresh state allows (a damaged database): then the callers
    /// get ServiceUnavailable (503) saying so, never a ConflictError for a request that was fine.
    /// </summary>
    private async Task CommitGroupAsync(List<QueuedCommand> group)
    {
        await _worldGate.WaitAsync();
        try
        {
            await CommitGroupLockedAsync(group);
        }
        finally
        {
            _worldGate.Release();
        }
    }

    private async Task CommitGroupLockedAsync(List<QueuedCommand> group)
    {
        // Only stale attempts after which the catch-up found nothing new count against the bound:
        // one that found another writer's commits was progress (with many nodes committing at once
        // a group may be stale several times in a row, and each time it is rightly re-run).
        var fruitless = 0;
        for (var attempt = 1; ; attempt++)
        {
            var before = _world;
            var (accepted, rejected, world) = RunGroup(group, before);
            if (accepted.Count == 0)
            {
                Reject(rejected);
                return;
            }

            CommitReceipt receipt;
            try
            {
                receipt = await _store.CommitAsync(accepted.Select(a => a.Change).ToList(), CancellationToken.None);
            }
            catch (StateConflictException conflict)
            {
                if (fruitless + 1 < MaxCommitAttempts)
                {
                    Log.CommitConflict(_logger, accepted.Count, attempt, conflict.Message);
                    if (await CatchUpAsync() is { } catchUpFailure)
                    {
                        Fail(accepted, catchUpFailure);
                        Reject(rejected);
                        return;
                    }

                    if (_world.Generation == before.Generation)
                    {
                        fruitless++;
                    }

                    continue;
                }

                Log.CommitGaveUp(_logger, accepted.Count, attempt, conflict);
                Fail(accepted, new MultiVipException(ErrorCode.ServiceUnavailable,
                    $"The change could not be committed: after {attempt} attempts on freshly loaded state the state store still refuses it ({conflict.Message}) " +
                    "Nothing was changed. The database disagrees with itself; the server log has each attempt. Retry the request, and if it keeps failing, restart the server to reload the state."));
                Reject(rejected);
                return;
            }
            catch (CommitInDoubtException doubt)
            {
                // The callers hear that it may have been made; the operations are settled once the
                // store can tell (CatchUpAsync), so none stays InProgress with no one tracking it.
                Log.CommitFailed(_logger, accepted.Count, doubt);
                _inDoubt.Add((doubt, [.. accepted.Select((a, i) => a with { Operation = a.Operation with { Generation = doubt.Receipt.First + i } })]));
                Fail(accepted, new MultiVipException(ErrorCode.ServiceUnavailable, doubt.Message, doubt));
                Reject(rejected);
                return;
            }
            catch (Exception ex)
            {
                Log.CommitFailed(_logger, accepted.Count, ex);
                Fail(accepted, ex);
                Reject(rejected);
                return;
            }

            if (receipt.First != before.Generation + 1)
            {
                // Another writer committed after our last catch-up: the store gave this group later
                // generations than the ones it was run with, and the state between is theirs. The
                // operations carry the generations they were stored with; the world is caught up
                // (their changes and ours, read back) before anything is acknowledged.
                accepted = [.. accepted.Select((a, i) => a with { Operation = a.Operation with { Generation = receipt.First + i } })];
                foreach (var a in accepted)
                {
                    _tracker.Register(a.Operation, a.Services);
                }

                // The change is committed whatever the read-back does: if it fails (the database
                // went away just now), the feed catches up later and the operations complete then.
                await CatchUpAsync();
            }
            else
            {
                // Register before the new state is visible, so an apply that already sees it can complete them.
                foreach (var a in accepted)
                {
                    _tracker.Register(a.Operation, a.Services);
                }

                Volatile.Write(ref _world, world);
                _publisher.Notify();
            }

            foreach (var a in accepted)
            {
                Log.Committed(_logger, a.Operation.OperationDescription, a.Operation.Target ?? "", a.Operation.OperationId, a.Operation.Generation, a.Operation.Caller ?? "");
                a.Command.Done.TrySetResult(a.Operation);
            }

            Reject(rejected);
            return;
        }
    }

    /// <summary>
    /// Commit attempts per group. Each stale attempt needs another writer's commit in between, so
    /// this many only run out when the store refuses what fresh state allows.
    /// </summary>
    internal const int MaxCommitAttempts = 10;

    /// <summary>Runs each command of the group against the state the previous one produced; changes nothing.</summary>
    private (List<Accepted> Accepted, List<(QueuedCommand Command, Exception Error)> Rejected, WorldState World) RunGroup(List<QueuedCommand> group, WorldState world)
    {
        var accepted = new List<Accepted>(group.Count);
        var rejected = new List<(QueuedCommand, Exception)>();
        foreach (var queued in group)
        {
            try
            {
                var mutation = new Mutation(world, _options.Pool, _options.Limits, _time.GetUtcNow());
                mutation.Run(queued.Apply);
                var generation = world.Generation + 1;
                var operation = new Operation
                {
                    OperationId = Guid.NewGuid(),
                    OperationDescription = queued.Description,
                    OperationStatus = OperationStatus.InProgress,
                    Target = queued.Target,
                    // The caller's User-Agent is the client's own text: escaped once, here, so the record, the
                    // log line and everything that prints it carry no control characters.
                    Caller = ClientText.EscapeOrNull(queued.Context.Caller),
                    CreatedAt = mutation.Now,
                    Generation = generation,
                };
                var (change, after) = mutation.Build(operation, generation);
                accepted.Add(new Accepted(queued, operation, change, [.. mutation.TouchedServices, queued.Target]));
                world = after;
            }
            catch (Exception ex)
            {
                // Answered only once the group's outcome is known: a re-run on fresh state may judge it again.
                rejected.Add((queued, ex));
            }
        }

        return (accepted, rejected, world);
    }

    /// <summary>
    /// Applies what other writers committed since the current state (the store's catch-up read by
    /// generation) and has the data plane follow. The caller holds <see cref="_worldGate"/>.
    /// Returns the error when the store cannot be read; the state is then left as it was.
    /// </summary>
    private async Task<Exception?> CatchUpAsync()
    {
        await SettleInDoubtAsync();
        var world = _world;
        try
        {
            var changes = await _store.LoadChangesSinceAsync(world.Generation, CancellationToken.None);
            _catchUpFailing = false;
            if (changes.Generation <= world.Generation)
            {
                return null;
            }

            Volatile.Write(ref _world, world.Apply(changes));
            _publisher.Notify();
            Log.CaughtUp(_logger, world.Generation, changes.Generation, changes.UpsertedServices.Count + changes.UpsertedReservedIps.Count, changes.DeletedServices.Count + changes.DeletedReservedIps.Count);
            return null;
        }
        catch (Exception ex)
        {
            // Once per outage, not once a second: the store logs the outage itself.
            if (!_catchUpFailing)
            {
                _catchUpFailing = true;
                Log.CatchUpFailed(_logger, world.Generation, ex.Message);
            }

            return ex;
        }
    }

    /// <summary>
    /// Asks the store about commits whose outcome it could not tell: a made one's operations are
    /// tracked from now on (the catch-up that follows reads the change, the data planes apply it and
    /// the operations complete as any other); a commit that was not made leaves nothing to settle.
    /// The caller holds <see cref="_worldGate"/>.
    /// </summary>
    private async Task SettleInDoubtAsync()
    {
        for (var i = _inDoubt.Count - 1; i >= 0; i--)
        {
            var (doubt, accepted) = _inDoubt[i];
            bool? made;
            try
            {
                made = await doubt.ResolveAsync(CancellationToken.None);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                made = null;
            }

            if (made is null)
            {
                continue;
            }

            _inDoubt.RemoveAt(i);
            if (made is true)
            {
                foreach (var a in accepted)
                {
                    _tracker.Register(a.Operation, a.Services);
                }

                // A catch-up while the outcome was unknown may have read the change already and
                // the data plane applied it: then no later apply would complete these.
                try
                {
                    await CompleteFromNodesAsync(CancellationToken.None);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // Still pending: the next apply or node record completes them.
                }
            }

            Log.InDoubtSettled(_logger, accepted.Count, doubt.Receipt.First, doubt.Receipt.Last, made is true ? "made" : "not made");
        }
    }

    // Commits whose outcome the store could not tell yet, with their operations (under _worldGate).
    private readonly List<(CommitInDoubtException Doubt, List<Accepted> Accepted)> _inDoubt = [];

    // Set while catch-up reads fail (under _worldGate); cleared by the next one that works.
    private bool _catchUpFailing;

    /// <summary>
    /// The change feed: applies other writers' commits when the store signals one (PostgreSQL
    /// LISTEN/NOTIFY) and every <see cref="ControlPlaneOptions.CatchUpInterval"/> anyway, so a
    /// notification lost (a dropped connection, a node that was starting) only delays a change.
    /// </summary>
    private async Task FeedLoopAsync()
    {
        var stopping = _stopping.Token;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                using (var wait = CancellationTokenSource.CreateLinkedTokenSource(stopping))
                {
                    await Task.WhenAny(_store.WaitForChangesAsync(wait.Token), Task.Delay(_options.CatchUpInterval, _time, wait.Token));
                    await wait.CancelAsync();
                }

                await _worldGate.WaitAsync(stopping);
                try
                {
                    await CatchUpAsync();
                }
                finally
                {
                    _worldGate.Release();
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private static void Fail(List<Accepted> accepted, Exception error)
    {
        foreach (var a in accepted)
        {
            a.Command.Done.TrySetException(error);
        }
    }

    private static void Reject(List<(QueuedCommand Command, Exception Error)> rejected)
    {
        foreach (var (command, error) in rejected)
        {
            command.Done.TrySetException(error);
        }
    }

    private sealed record Accepted(QueuedCommand Command, Operation Operation, StateChange Change, List<string> Services);

    private sealed record QueuedCommand(string Description, string Target, CallContext Context, Action<Mutation> Apply)
    {
        public TaskCompletionSource<Operation> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public async ValueTask DisposeAsync()
    {
        if (_drains is not null)
        {
            await _drains.DisposeAsync();
        }

        _queue.Writer.TryComplete();
        await _committer;
        await _stopping.CancelAsync();
        await _feed;
        await _publisher.DisposeAsync();
        _stopping.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1001, EventName = "ControlPlaneStarted", Level = LogLevel.Information, Message = "Control plane started: {Services} cloud services, {ReservedIps} reserved IPs, generation {Generation}, {Faults} listener faults")]
        public static partial void Started(ILogger logger, int services, int reservedIps, long generation, int faults);

        [LoggerMessage(EventId = 1003, EventName = "CommitFailed", Level = LogLevel.Error, Message = "Committing {Count} change(s) to the state store failed; none of them was made")]
        public static partial void CommitFailed(ILogger logger, int count, Exception exception);

        [LoggerMessage(EventId = 1004, EventName = "CommitConflict", Level = LogLevel.Information, Message = "Commit of {Count} change(s) was stale on attempt {Attempt} ({Reason}); reloading the state and running them again")]
        public static partial void CommitConflict(ILogger logger, int count, int attempt, string reason);

        [LoggerMessage(EventId = 1005, EventName = "CommitGaveUp", Level = LogLevel.Error, Message = "Commit of {Count} change(s) was still refused after {Attempts} attempts on fresh state; none of them was made")]
        public static partial void CommitGaveUp(ILogger logger, int count, int attempts, Exception exception);

        [LoggerMessage(EventId = 5000, EventName = "CaughtUp", Level = LogLevel.Debug, Message = "Caught up with the state store from generation {From} to {To}: {Upserted} aggregate(s) written and {Deleted} deleted by other writers")]
        public static partial void CaughtUp(ILogger logger, long from, long to, int upserted, int deleted);

        [LoggerMessage(EventId = 5921, EventName = "CommitInDoubtSettled", Level = LogLevel.Warning, Message = "A commit of {Count} change(s) (generations {First}-{Last}) whose reply was lost with the database connection was {Outcome}; its operations are settled accordingly")]
        public static partial void InDoubtSettled(ILogger logger, int count, long first, long last, string outcome);

        [LoggerMessage(EventId = 5001, EventName = "CatchUpFailed", Level = LogLevel.Warning, Message = "Reading what other writers committed after generation {Generation} failed ({Reason}); the state stays as it is and is read again every second until it works")]
        public static partial void CatchUpFailed(ILogger logger, long generation, string reason);

        [LoggerMessage(EventId = 1007, EventName = "AddressesOutsidePool", Level = LogLevel.Warning, Message = "{Count} address(es) in use are outside the VIP pool {Pool}: {Addresses}. They keep serving, but new VIPs come only from the pool; restart with a --vip-pool that covers them too if that was not intended")]
        public static partial void AddressesOutsidePool(ILogger logger, int count, string pool, string addresses);

        [LoggerMessage(EventId = 1002, EventName = "OperationCommitted", Level = LogLevel.Information, Message = "{Description} on {Target} committed as operation {OperationId} (generation {Generation}) by {Caller}")]
        public static partial void Committed(ILogger logger, string description, string target, Guid operationId, long generation, string caller);
    }
}
