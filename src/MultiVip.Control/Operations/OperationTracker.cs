using System.Collections.Concurrent;
using MultiVip.Control.State;
using MultiVip.DataPlane.Contract;
using MultiVip.Model.Errors;
using MultiVip.Model.Operations;

namespace MultiVip.Control.Operations;

/// <summary>
/// Operations between acknowledgement and completion. An operation is done when the data plane has
/// applied the generation that contains it: Succeeded, or Failed when the data plane reported a fault
/// for a listener of a service the operation touched.
/// </summary>
internal sealed class OperationTracker(IStateStore store, TimeProvider time)
{
    private const int RecentCapacity = 4096;

    private readonly ConcurrentDictionary<Guid, Pending> _pending = new();
    private readonly ConcurrentDictionary<Guid, Operation> _recent = new();
    private readonly ConcurrentQueue<Guid> _recentOrder = new();

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

    /// <summary>Completes every operation of generation ≤ <paramref name="applied"/>.</summary>
    public async Task CompleteAsync(long applied, IReadOnlyList<ListenerFault> faults, CancellationToken cancellationToken)
    {
        var finished = new List<(Pending Pending, Operation Operation)>();
        foreach (var pending in _pending.Values)
        {
            if (pending.Operation.Generation > applied)
            {
                continue;
            }

            var fault = faults.FirstOrDefault(f => pending.Services.Contains(f.ServiceName));
            var operation = pending.Operation with
            {
                OperationStatus = fault is null ? OperationStatus.Succeeded : OperationStatus.Failed,
                ErrorCode = fault is null ? null : nameof(ErrorCode.DataPlaneError),
                ErrorMessage = fault is null ? null : $"The change is stored but the data plane could not apply it: listener {fault.Key}: {fault.Message}",
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
