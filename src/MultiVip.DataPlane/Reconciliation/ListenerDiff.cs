using MultiVip.DataPlane.Contract;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Reconciliation;

/// <summary>
/// What one desired state means for the running listeners, by <see cref="ListenerKey"/>: which to
/// add, which to reconfigure in place, which to remove. Unchanged ones appear nowhere. Each transport's
/// data plane diffs only its own protocol; the other protocol's keys are listed in <see cref="OtherProtocol"/>.
/// </summary>
internal sealed record ListenerDiff(
    IReadOnlyList<ListenerSpec> Added,
    IReadOnlyList<ListenerSpec> Changed,
    IReadOnlyList<ListenerKey> Removed,
    IReadOnlyList<ListenerKey> Duplicates,
    IReadOnlyList<ListenerKey> OtherProtocol)
{
    public static ListenerDiff Compute(
        IReadOnlyDictionary<ListenerKey, ListenerSpec> running,
        IReadOnlyList<ListenerSpec> desired,
        TransportProtocol protocol = TransportProtocol.Tcp)
    {
        var wanted = new Dictionary<ListenerKey, ListenerSpec>(desired.Count);
        var added = new List<ListenerSpec>();
        var changed = new List<ListenerSpec>();
        var duplicates = new List<ListenerKey>();
        var otherProtocol = new List<ListenerKey>();
        foreach (var spec in desired)
        {
            if (spec.Key.Protocol != protocol)
            {
                otherProtocol.Add(spec.Key);
                continue;
            }

            if (!wanted.TryAdd(spec.Key, spec))
            {
                duplicates.Add(spec.Key);
                continue;
            }

            if (!running.TryGetValue(spec.Key, out var current))
            {
                added.Add(spec);
            }
            else if (!current.IsEquivalentTo(spec))
            {
                changed.Add(spec);
            }
        }

        var removed = new List<ListenerKey>();
        foreach (var key in running.Keys)
        {
            if (!wanted.ContainsKey(key))
            {
                removed.Add(key);
            }
        }

        return new ListenerDiff(added, changed, removed, duplicates, otherProtocol);
    }
}
