using Microsoft.Extensions.Logging;
using MultiVip.DataPlane.Contract;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Reconciliation;

/// <summary>
/// The part of applying a desired state that TCP and UDP share: diff the running listeners of one
/// protocol against the desired ones, then remove, reconfigure and start — removals first, so a
/// listener that moved (an LB set changing VIPs) finds its port free. What each step does to a
/// listener is the caller's.
/// </summary>
internal static class ListenerReconciler
{
    /// <summary>Probe state of the backends of <paramref name="published"/>, optionally of one service only.</summary>
    public static IReadOnlyList<BackendHealth> Health<TListener>(TListener[] published, string? serviceName)
        where TListener : IRoutedListener
    {
        var result = new List<BackendHealth>();
        foreach (var listener in published)
        {
            if (serviceName is null || Names.Equal(listener.Spec.ServiceName, serviceName))
            {
                result.AddRange(listener.GetHealth());
            }
        }

        return result;
    }

    public static async Task<List<ListenerFault>> ApplyAsync<TListener>(
        Dictionary<ListenerKey, TListener> listeners,
        IReadOnlyList<ListenerSpec> desired,
        TransportProtocol protocol,
        Func<TListener, ListenerSpec> specOf,
        Func<TListener, ValueTask> remove,
        Action<TListener, ListenerSpec> update,
        Func<ListenerSpec, (TListener? Listener, string? Error)> start,
        ILogger logger)
        where TListener : class
    {
        var running = new Dictionary<ListenerKey, ListenerSpec>(listeners.Count);
        foreach (var (key, listener) in listeners)
        {
            running[key] = specOf(listener);
        }

        var diff = ListenerDiff.Compute(running, desired, protocol);
        foreach (var key in diff.Duplicates)
        {
            Log.DuplicateListener(logger, key);
        }

        foreach (var key in diff.Removed)
        {
            listeners.Remove(key, out var listener);
            await remove(listener!).ConfigureAwait(false);
        }

        foreach (var spec in diff.Changed)
        {
            update(listeners[spec.Key], spec);
        }

        var faults = new List<ListenerFault>();
        foreach (var spec in diff.Added)
        {
            var (listener, error) = start(spec);
            if (listener is null)
            {
                Log.ListenerBindFailed(logger, spec.Key, error!);
                faults.Add(new ListenerFault(spec.Key, spec.ServiceName, error!));
                continue;
            }

            listeners[spec.Key] = listener;
        }

        return faults;
    }
}

/// <summary>What the shared reconcile and health code needs of a TCP or UDP listener.</summary>
internal interface IRoutedListener
{
    ListenerSpec Spec { get; }

    IEnumerable<BackendHealth> GetHealth();
}
