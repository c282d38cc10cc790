using System.Collections.Concurrent;
using MultiVip.Control.Nodes;
using MultiVip.Control.State;
using MultiVip.DataPlane.Contract;
using MultiVip.Model.Errors;
using MultiVip.Model.Operations;

namespace MultiVip.Control.Operations;

/// <summary>
/// Operations between acknowledgement and completion. An operation is done when the data plane of
/// every live node has applied the generation that contains it: Succeeded, or Failed when a node's
/// data plane reported a fault for a listener of a service the operation touched.
/// </summary>
internal sealed class OperationTracker(IStateStore store, TimeProvider time)
{
    private const int RecentCapacity = 4096;

    private readonly ConcurrentDictionary<Guid, Pending> _pending = new();
    private readonly ConcurrentDictionary<Guid, Operation> _recent = new();
    private readonly ConcurrentQueue<Guid> _recentOrder = new();
    private readonly SemaphoreSlim _completing = new(1, 1);

    /// <summary>Called once per finished operation (metrics: commit → applied latency). Must not throw or block.</summary>
    public Action<Operation>? Completed { get; set; }

    public void Register(Operation operation, IEnumerable<string> services) =>
        _pending[operation.OperationId] = new Pending(operation, services.ToHashSet(Model.Services.Names.Comparer));

    /// <summary>The operation as this process knows it (pending or recently finished), else the store's record.</summary>
    public async Task<Operation?> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        if (_pending.TryGetValue(id, out var pending))
        {
            return pending.Operation;
        }

        if (_recent.TryGetValue(id, out var done))
        {
            return done;
        }

        return await store.GetOperationAsync(id, cancellationToken);
    }

    /// <summary>Waits up to <paramref name="max"/> for the operation to finish; returns its latest state either way.</summary>
    public async Task<Operation> WaitAsync(Operation operation, TimeSpan max, CancellationToken cancellationToken)
    {
        if (!_pending.TryGetValue(operation.OperationId, out var pending))
        {
            return _recent.GetValueOrDefault(operation.OperationId) ?? operation;
        }

        try
        {
            return await pending.Done.Task.WaitAsync(max, time, cancellationToken);
        }
        catch (TimeoutException)
        {
            return pending.Operation;
        }
    }

    /// <summary>Whether any operation still waits for a data plane (the heartbeat polls other nodes only then).</summary>
    public bool HasPending => !_pending.IsEmpty;

    /// <summary>Completes every operation of generation ≤ <paramref name="applied"/>, as one node that applied it with these faults.</summary>
    public Task CompleteAsync(long applied, IReadOnlyList<ListenerFault> faults, CancellationToken cancellationToken) =>
        CompleteAsync([new NodeProgress("", applied, [.. faults.Select(f => new NodeFault(f.ServiceName, f.Key.ToString(), f.Message))], IsLocal: true)], cancellationToken);

    /// <summary>
    /// Completes what the live nodes' progress settles. An operation is Succeeded once every live
    /// node applied its generation, and Failed as soon as one that applied it reports a fault for
    /// a listener of a service it touched (it cannot succeed any more, so no one waits for the
    /// rest). A node that is down is not in <paramref name="live"/>, so it holds nothing up.
    /// Called by the local publisher after each apply and by the heartbeat when other nodes'
    /// records change; serialized, so an operation completes once.
    /// </summary>
    public async Task CompleteAsync(IReadOnlyList<NodeProgress> live, CancellationToken cancellationToken)
    {
        if (_pending.IsEmpty)
        {
            return;
        }

        await _completing.WaitAsync(cancellationToken);
        try
        {
            await CompleteLockedAsync(live, cancellationToken);
        }
        finally
        {
            _completing.Release();
        }
    }

    private async Task CompleteLockedAsync(IReadOnlyList<NodeProgress> live, CancellationToken cancellationToken)
    {
        var finished = new List<(Pending Pending, Operation Operation)>();
        var several = live.Count > 1;
        foreach (var pending in _pending.Values)
        {
            var generation = pending.Operation.Generation;
            (NodeProgress Node, NodeFault Fault)? failure = null;
            var everyone = true;
            foreach (var node in live)
            {
                if (node.Applied < generation)
                {
                    everyone = false;
                    continue;
                }

                if (node.Faults.FirstOrDefault(f => pending.Services.Contains(f.ServiceName)) is { } fault)
                {
                    failure = (node, fault);
                    break;
                }
            }

            if (failure is null && !everyone)
            {
                continue;
            }

            var operation = pending.Operation with
            {
                OperationStatus = failure is null ? OperationStatus.Succeeded : OperationStatus.Failed,
                ErrorCode = failure is null ? null : nameof(ErrorCode.DataPlaneError),
                ErrorMessage = failure is not { } f ? null : FaultMessage(f.Node, f.Fault, several),
                CompletedAt = time.GetUtcNow(),
            };
            finished.Add((pending, operation));
        }

        if (finished.Count == 0)
        {
            return;
        }

        await store.UpdateOperationsAsync(finished.Select(f => f.Operation).ToList(), cancellationToken);
        foreach (var (pending, operation) in finished)
        {
            Remember(operation);
            _pending.TryRemove(operation.OperationId, out _);
            pending.Done.TrySetResult(operation);
            Completed?.Invoke(operation);
        }
    }

    /// <summary>One node's words as before nodes existed; with several, which node could not apply it.</summary>
    private static string FaultMessage(NodeProgress node, NodeFault fault, bool several) => several
        ? $"The change is stored but the data plane could not apply it: node {node.Name}: listener {fault.Listener}: {fault.Message}"
        : $"The change is stored but the data plane could not apply it: listener {fault.Listener}: {fault.Message}";

    private void Remember(Operation operation)
    {
        _recent[operation.OperationId] = operation;
        _recentOrder.Enqueue(operation.OperationId);
        while (_recentOrder.Count > RecentCapacity && _recentOrder.TryDequeue(out var old))
        {
            _recent.TryRemove(old, out _);
        }
    }

    private sealed class Pending(Operation operation, HashSet<string> services)
    {
        public Operation Operation { get; } = operation;

        public HashSet<string> Services { get; } = services;

        public TaskCompletionSource<Operation> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
