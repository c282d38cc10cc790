using MultiVip.DataPlane.Contract;

namespace MultiVip.Control.Nodes;

/// <summary>
/// This node's view of every node's progress: its own applied generation and faults, straight from
/// its publisher, and the other nodes' as last read from the registry. Operations complete against
/// <see cref="Live"/>. With no other live node it is just the local data plane, which is why a
/// single node completes an operation the moment its own apply finishes, exactly as before nodes
/// existed.
/// </summary>
public sealed class NodeCluster
{
    private readonly TimeProvider _time;
    private volatile LocalProgress _local = new(0, []);
    private volatile IReadOnlyList<NodeRecord> _others = [];

    public NodeCluster(string localName, TimeSpan downAfter, TimeProvider time)
    {
        LocalName = localName;
        DownAfter = downAfter;
        _time = time;
    }

    public string LocalName { get; }

    public TimeSpan DownAfter { get; }

    /// <summary>The generation this node's data plane applied last.</summary>
    public long LocalApplied => _local.Generation;

    /// <summary>What this node's last apply could not start.</summary>
    public IReadOnlyList<NodeFault> LocalFaults => _local.Faults;

    /// <summary>The other nodes' records as last read from the registry (this node's own record excluded).</summary>
    public IReadOnlyList<NodeRecord> Others => _others;

    /// <summary>Raised after each local apply (the heartbeat writes the new generation at once when other nodes wait for it).</summary>
    public event Action? LocalChanged;

    public void LocalAppliedGeneration(long generation, IReadOnlyList<ListenerFault> faults)
    {
        _local = new LocalProgress(generation, [.. faults.Select(f => new NodeFault(f.ServiceName, f.Key.ToString(), f.Message))]);
        LocalChanged?.Invoke();
    }

    /// <summary>Takes the registry's records; this node's own is dropped, since its memory is newer than any record of it.</summary>
    public void OthersRead(IEnumerable<NodeRecord> records)
    {
        _others = [.. records.Where(r => !string.Equals(r.Name, LocalName, StringComparison.OrdinalIgnoreCase))];
        OthersUpdated?.Invoke();
    }

    /// <summary>Raised after every registry read (whether or not anything changed): the registry-backed VRRP peers recompute.</summary>
    public event Action? OthersUpdated;

    /// <summary>Whether some other node is alive now (then operations wait for it too).</summary>
    public bool AnyOtherLive()
    {
        var now = _time.GetUtcNow();
        return _others.Any(o => NodeStates.IsLive(o, now, DownAfter));
    }

    /// <summary>The nodes whose progress operations wait for: this one first, then every other live one.</summary>
    public IReadOnlyList<NodeProgress> Live()
    {
        var local = _local;
        var now = _time.GetUtcNow();
        var others = _others;
        var live = new List<NodeProgress>(1 + others.Count) { new(LocalName, local.Generation, local.Faults, IsLocal: true) };
        foreach (var other in others)
        {
            if (NodeStates.IsLive(other, now, DownAfter))
            {
                live.Add(new NodeProgress(other.Name, other.AppliedGeneration, other.Faults, IsLocal: false));
            }
        }

        return live;
    }

    private sealed record LocalProgress(long Generation, IReadOnlyList<NodeFault> Faults);
}

/// <summary>One live node's progress as operations see it.</summary>
public sealed record NodeProgress(string Name, long Applied, IReadOnlyList<NodeFault> Faults, bool IsLocal);
