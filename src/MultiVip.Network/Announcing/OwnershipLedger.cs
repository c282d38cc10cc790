using System.Net;
using MultiVip.DataPlane.Contract;

namespace MultiVip.Network.Announcing;

/// <summary>
/// This node's role per VIP address (VRRP MASTER/BACKUP/FAULT/STOPPED, BGP announced/withdrawn),
/// since when, how often it changed, and the last changes: what the API, `deployment show` and
/// /metrics show. In memory: a restart starts a new history (the engines' own logs keep the rest).
/// </summary>
internal sealed class OwnershipLedger
{
    private readonly string _node;
    private readonly string _announcer;
    private readonly TimeProvider _time;
    private readonly int _capacity;
    private readonly Lock _gate = new();
    private readonly Dictionary<IPAddress, Entry> _entries = [];
    private readonly Queue<OwnershipChange> _history = new();

    public OwnershipLedger(string node, string announcer, TimeProvider time, int capacity = 512)
    {
        _node = node;
        _announcer = announcer;
        _time = time;
        _capacity = capacity;
    }

    public sealed record Entry(string State, DateTimeOffset Since, long Changes);

    /// <summary>Sets the role of <paramref name="address"/>; a different role than before is a change (counted, remembered).</summary>
    public bool Set(IPAddress address, string state, string reason)
    {
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            var found = _entries.TryGetValue(address, out var before);
            if (found && before!.State == state)
            {
                return false;
            }

            _entries[address] = new Entry(state, now, (before?.Changes ?? 0) + 1);
            _history.Enqueue(new OwnershipChange(now, address, _node, _announcer, before?.State ?? "none", state, reason));
            while (_history.Count > _capacity)
            {
                _history.Dequeue();
            }

            return true;
        }
    }

    /// <summary>The address left the desired state: no role any more (its history stays).</summary>
    public void Forget(IPAddress address)
    {
        lock (_gate)
        {
            _entries.Remove(address);
        }
    }

    public Entry? Get(IPAddress address)
    {
        lock (_gate)
        {
            return _entries.GetValueOrDefault(address);
        }
    }

    public IReadOnlyList<OwnershipChange> History()
    {
        lock (_gate)
        {
            return [.. _history];
        }
    }
}
