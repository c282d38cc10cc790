using Microsoft.Extensions.Logging;
using MultiVip.Control.Nodes;
using MultiVip.Control.Operations;
using MultiVip.Control.State;
using MultiVip.DataPlane.Contract;

namespace MultiVip.Control.Publishing;

/// <summary>
/// Hands the newest desired state to the data plane, one apply at a time. Changes that arrive while
/// an apply runs are coalesced into the next snapshot, so a burst of operations costs one apply, and
/// operations complete as soon as a generation that contains them is live.
/// </summary>
internal sealed partial class DataPlanePublisher : IAsyncDisposable
{
    private readonly Func<WorldState> _current;
    private readonly IDataPlane _dataPlane;
    private readonly OperationTracker _tracker;
    private readonly TimeProvider _time;
    private readonly TimeSpan _retryInterval;
    private readonly ILogger _logger;
    private readonly NodeCluster _nodes;
    private readonly DesiredStateBuilder _builder = new();
    private readonly SemaphoreSlim _signal = new(0, 1);
    private readonly CancellationTokenSource _stopping = new();
    private Task _loop = Task.CompletedTask;

    public DataPlanePublisher(Func<WorldState> current, IDataPlane dataPlane, OperationTracker tracker, TimeProvider time, TimeSpan retryInterval, ILogger logger, NodeCluster? nodes = null)
    {
        // Without a cluster (tests of the publisher alone) this node is the only one.
        _nodes = nodes ?? new NodeCluster("local", NodeStates.DefaultDownAfter, time);
        _current = current;
        _dataPlane = dataPlane;
        _tracker = tracker;
        _time = time;
        _retryInterval = retryInterval;
        _logger = logger;
    }

    public IReadOnlyList<ListenerFault> Faults { get; private set; } = [];

    /// <summary>Applies the current state once, synchronously: used at start so listeners are up before the API opens.</summary>
    public async Task<ApplyResult> ApplyNowAsync(CancellationToken cancellationToken)
    {
        var result = await ApplyAsync(cancellationToken);
        _loop = Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
        return result;
    }

    /// <summary>Something changed: apply the newest state soon.</summary>
    public void Notify()
    {
        try
        {
            _signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // A wake-up is already pending; it will pick up this change too.
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var woken = Faults.Count == 0
                    ? await WaitSignalAsync(Timeout.InfiniteTimeSpan, cancellationToken)
                    : await WaitSignalAsync(_retryInterval, cancellationToken);
                if (!woken && Faults.Count == 0)
                {
                    continue;
                }

                await ApplyAsync(cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Log.ApplyFailed(_logger, ex);
                await Task.Delay(_retryInterval, _time, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                Notify();
            }
        }
    }

    private async Task<bool> WaitSignalAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        // SemaphoreSlim's own timeout: a timed-out wait must not leave a waiter behind that would
        // swallow the next wake-up.
        return await _signal.WaitAsync(timeout, cancellationToken);
    }

    private async Task<ApplyResult> ApplyAsync(CancellationToken cancellationToken)
    {
        var world = _current();
        var desired = _builder.Build(world);
        var started = _time.GetTimestamp();
        var result = await _dataPlane.ApplyAsync(desired, cancellationToken);
        Faults = result.Faults;
        foreach (var fault in result.Faults)
        {
            Log.ListenerFault(_logger, fault.Key.ToString(), fault.ServiceName, fault.Message);
        }

        if (_logger.IsEnabled(LogLevel.Debug))
        {
            var elapsedMs = _time.GetElapsedTime(started).TotalMilliseconds;
            Log.Applied(_logger, world.Generation, desired.Listeners.Count, elapsedMs);
        }
        // This node's progress first, then the operations it settles against every live node's.
        _nodes.LocalAppliedGeneration(world.Generation, result.Faults);
        await _tracker.CompleteAsync(_nodes.Live(), cancellationToken);
        return result;
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stopping.Dispose();
        _signal.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1101, EventName = "DesiredStateApplied", Level = LogLevel.Debug, Message = "Data plane applied generation {Generation} ({Listeners} listeners) in {ElapsedMs:F1} ms")]
        public static partial void Applied(ILogger logger, long generation, int listeners, double elapsedMs);

        [LoggerMessage(EventId = 1102, EventName = "ListenerFault", Level = LogLevel.Warning, Message = "Listener {Listener} of cloud service {Service} could not be applied: {Reason}")]
        public static partial void ListenerFault(ILogger logger, string listener, string service, string reason);

        [LoggerMessage(EventId = 1103, EventName = "ApplyFailed", Level = LogLevel.Error, Message = "Applying the desired state to the data plane failed; retrying")]
        public static partial void ApplyFailed(ILogger logger, Exception exception);
    }
}
