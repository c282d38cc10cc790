using Microsoft.Extensions.Logging;
using MultiVip.DataPlane.Contract;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Reconciliation;

/// <summary>
/// The part of applying a desired state that TCP and UDP share: the running listeners of one
/// protocol, diffed against the desired ones, then removed, reconfigured and started — removals
/// first, so a listener that moved (an LB set changing VIPs) finds its port free. What each step
/// does to a listener is the transport's (<see cref="IListenerLifecycle{TListener}"/>).
/// </summary>
/// <remarks>
/// Not thread-safe: the owning data plane calls <see cref="ApplyAsync"/> and <see cref="RemoveAll"/>
/// under its apply gate. <see cref="Published"/> is the one member read concurrently (health,
/// traffic, metrics), through a snapshot array replaced with one reference write.
/// </remarks>
internal sealed partial class ListenerReconciler<TListener>
    where TListener : class, IRoutedListener
{
    private readonly TransportProtocol _protocol;
    private readonly IListenerLifecycle<TListener> _lifecycle;
    private readonly ILogger _logger;
    private readonly Dictionary<ListenerKey, TListener> _running = [];
    private TListener[] _published = [];
    private long _appliedGeneration = -1;

    public ListenerReconciler(TransportProtocol protocol, IListenerLifecycle<TListener> lifecycle, ILoggerFactory loggerFactory)
    {
        _protocol = protocol;
        _lifecycle = lifecycle;
        // One category for both transports' reconcilers: the key in each line says which one it is.
        _logger = loggerFactory.CreateLogger(ListenerReconciler.Category);
    }

    /// <summary>The listeners running after the last apply; lock-free for readers.</summary>
    public TListener[] Published => Volatile.Read(ref _published);

    /// <summary>The listening socket of every running listener, for a successor process to take over.</summary>
    public IReadOnlyList<ListeningSocket> ListeningSockets(ListeningSocketKind kind)
    {
        var published = Published;
        var result = new ListeningSocket[published.Length];
        for (var i = 0; i < result.Length; i++)
        {
            var key = published[i].Spec.Key;
            result[i] = new ListeningSocket(kind, new System.Net.IPEndPoint(key.Address, key.Port), published[i].ListeningSocket);
        }

        return result;
    }

    /// <summary>
    /// Applies <paramref name="desired"/> unless a newer generation is already applied (a stale
    /// snapshot must never undo a newer one); the faults are the listeners that could not start.
    /// </summary>
    public async Task<ApplyResult> ApplyAsync(DesiredState desired)
    {
        if (desired.Generation < _appliedGeneration)
        {
            Log.StaleGenerationIgnored(_logger, desired.Generation, _appliedGeneration);
            return ApplyResult.Ok(_appliedGeneration);
        }

        var faults = await ApplyAsync(desired.Listeners).ConfigureAwait(false);
        _appliedGeneration = desired.Generation;
        return new ApplyResult(desired.Generation, faults);
    }

    /// <returns>The listeners that could not be started (bind errors), to report and retry with the next snapshot.</returns>
    public async Task<List<ListenerFault>> ApplyAsync(IReadOnlyList<ListenerSpec> desired)
    {
        var running = new Dictionary<ListenerKey, ListenerSpec>(_running.Count);
        foreach (var (key, listener) in _running)
        {
            running[key] = listener.Spec;
        }

        var diff = ListenerDiff.Compute(running, desired, _protocol);
        foreach (var key in diff.Duplicates)
        {
            Log.DuplicateListener(_logger, key);
        }

        foreach (var key in diff.Removed)
        {
            _running.Remove(key, out var listener);
            await _lifecycle.RemoveAsync(listener!).ConfigureAwait(false);
        }

        foreach (var spec in diff.Changed)
        {
            _lifecycle.Reconfigure(_running[spec.Key], spec);
        }

        var faults = new List<ListenerFault>();
        foreach (var spec in diff.Added)
        {
            var listener = _lifecycle.TryStart(spec, out var error);
            if (listener is null)
            {
                Log.ListenerBindFailed(_logger, spec.Key, error!);
                faults.Add(new ListenerFault(spec.Key, spec.ServiceName, error!));
                continue;
            }

            _running[spec.Key] = listener;
        }

        Volatile.Write(ref _published, [.. _running.Values]);
        return faults;
    }

    /// <summary>Forgets every listener (SIGTERM, dispose) and hands them back for the caller to stop.</summary>
    public TListener[] RemoveAll()
    {
        TListener[] all = [.. _running.Values];
        _running.Clear();
        Volatile.Write(ref _published, []);
        return all;
    }

    /// <summary>A running listener by key, for counters in tests and diagnostics.</summary>
    public TListener? Find(ListenerKey key)
    {
        foreach (var listener in Published)
        {
            if (listener.Spec.Key == key)
            {
                return listener;
            }
        }

        return null;
    }

    /// <summary>Probe state of the running listeners' backends, optionally of one service only.</summary>
    public IReadOnlyList<BackendHealth> Health(string? serviceName)
    {
        var result = new List<BackendHealth>();
        foreach (var listener in Published)
        {
            if (serviceName is null || Names.Equal(listener.Spec.ServiceName, serviceName))
            {
                result.AddRange(listener.GetHealth());
            }
        }

        return result;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3, EventName = "ListenerBindFailed", Level = LogLevel.Error,
            Message = "Cannot listen on {Key}: {Reason}")]
        public static partial void ListenerBindFailed(ILogger logger, ListenerKey key, string reason);

        [LoggerMessage(EventId = 8, EventName = "DuplicateListener", Level = LogLevel.Error,
            Message = "Desired state lists {Key} more than once; the first spec wins")]
        public static partial void DuplicateListener(ILogger logger, ListenerKey key);

        [LoggerMessage(EventId = 6, EventName = "StaleGenerationIgnored", Level = LogLevel.Warning,
            Message = "Ignored desired state generation {Generation}: generation {Applied} is already applied")]
        public static partial void StaleGenerationIgnored(ILogger logger, long generation, long applied);
    }
}

/// <summary>The log category of <see cref="ListenerReconciler{TListener}"/>, without its type argument.</summary>
internal static class ListenerReconciler
{
    public const string Category = "MultiVip.DataPlane.Reconciliation.ListenerReconciler";
}

/// <summary>
/// What reconciling asks of one transport's listeners, in the order the reconciler calls it:
/// remove what left the desired state, reconfigure what changed, start what is new.
/// </summary>
internal interface IListenerLifecycle<TListener>
    where TListener : class, IRoutedListener
{
    /// <summary>Stops a listener that left the desired state (TCP drains it; UDP closes it at once).</summary>
    ValueTask RemoveAsync(TListener listener);

    /// <summary>Applies a new spec to a running listener with the same key, in place.</summary>
    void Reconfigure(TListener listener, ListenerSpec spec);

    /// <summary>Binds and starts a listener; null, with a message that says how to fix it, when it cannot bind.</summary>
    TListener? TryStart(ListenerSpec spec, out string? error);
}

/// <summary>What the shared reconcile and health code needs of a TCP or UDP listener.</summary>
internal interface IRoutedListener
{
    ListenerSpec Spec { get; }

    /// <summary>The socket this listener accepts or receives on; handed to a successor on takeover.</summary>
    System.Net.Sockets.Socket ListeningSocket { get; }

    IEnumerable<BackendHealth> GetHealth();
}
