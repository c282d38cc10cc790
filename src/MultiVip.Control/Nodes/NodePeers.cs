using System.Net;

namespace MultiVip.Control.Nodes;

/// <summary>
/// The VRRP unicast peers the node registry gives (--announce vrrp on a shared store without
/// --vrrp-peer): the announce address of every other node in the registry, Down ones included.
/// A Down node stays a peer because VRRP ignores a silent peer, while dropping it would mean
/// that when it comes back the master does not advert to it until the next registry read, so the
/// returning node hears nobody, elects itself, and (with a higher priority) takes the VIPs.
/// Recomputed after every registry read (once a second), raising <see cref="Changed"/> only when
/// the set differs, so keepalived reloads when a node joins (or a record's address changes), not
/// every second.
/// <para>
/// <see cref="Ready"/> gates keepalived's start on a joining node: it completes once every other
/// live node has written a heartbeat after this node's first record (<see cref="Announced"/>), that
/// is, has read this node's address and added it to its own peers; only then can this node's
/// keepalived hear the master's adverts before its own master-down timer (3 adverts) runs out.
/// Started earlier, it would elect itself master next to the real one for a moment (and take the
/// VIPs for good with a higher priority). Bounded by <see cref="ReadyWithin"/>: a node whose clock
/// runs behind never holds a start up for longer.
/// </para>
/// </summary>
public sealed class NodePeers
{
    /// <summary>How long a joining node waits at most for the others to learn its address.</summary>
    public static readonly TimeSpan DefaultReadyWithin = TimeSpan.FromSeconds(10);

    private readonly string _localName;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource<string> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private NodeCluster? _cluster;
    private IReadOnlyList<IPAddress> _last = [];
    private DateTimeOffset? _announcedAt;
    private ITimer? _deadline;

    public NodePeers(string localName, TimeProvider time)
    {
        _localName = localName;
        _time = time;
    }

    public TimeSpan ReadyWithin { get; init; } = DefaultReadyWithin;

    /// <summary>Raised when the peer set changed (from the heartbeat's thread).</summary>
    public event Action? Changed;

    /// <summary>Completes (with the reason, for the log) when this node's keepalived may start; see the class remarks.</summary>
    public Task<string> Ready => _ready.Task;

    /// <summary>Starts answering from <paramref name="cluster"/>'s registry reads (the announcer starts before the control plane).</summary>
    public void Attach(NodeCluster cluster)
    {
        _cluster = cluster;
        cluster.OthersUpdated += Refresh;
        Refresh();
    }

    /// <summary>This node's record (with its announce address) is in the registry now: the others learn it at their next read.</summary>
    public void Announced()
    {
        lock (_gate)
        {
            _announcedAt = _time.GetUtcNow();
        }

        _deadline = _time.CreateTimer(_ => _ready.TrySetResult($"not every other live node confirmed within {ReadyWithin.TotalSeconds:0} s (clock skew?)"), null, ReadyWithin, Timeout.InfiniteTimeSpan);
        Refresh();
    }

    public IReadOnlyList<IPAddress> Peers() => _cluster is { } cluster ? Of(cluster.Others, _localName) : [];

    /// <summary>Every other node's announce address (Down ones too), distinct, in a stable order.</summary>
    public static IReadOnlyList<IPAddress> Of(IEnumerable<NodeRecord> records, string localName) =>
    [
        .. records
            .Where(r => !string.Equals(r.Name, localName, StringComparison.OrdinalIgnoreCase))
            .Select(r => IPAddress.TryParse(r.AnnounceAddress, out var address) ? address : null)
            .OfType<IPAddress>()
            .Distinct()
            .OrderBy(a => a.AddressFamily)
            .ThenBy(a => a.ToString(), StringComparer.Ordinal),
    ];

    /// <summary>
    /// Whether every other live node that announces wrote a heartbeat after <paramref name="announcedAt"/>:
    /// each node writes then reads in one beat, so such a node has read this node's record.
    /// </summary>
    public static bool EveryLiveNodeSaw(IEnumerable<NodeRecord> others, DateTimeOffset announcedAt, DateTimeOffset now, TimeSpan downAfter) =>
        others.Where(o => o.AnnounceAddress is not null && NodeStates.IsLive(o, now, downAfter)).All(o => o.LastHeartbeat > announcedAt);

    private void Refresh()
    {
        var now = Peers();
        bool changed;
        DateTimeOffset? announcedAt;
        lock (_gate)
        {
            changed = !now.SequenceEqual(_last);
            _last = now;
            announcedAt = _announcedAt;
        }

        if (changed)
        {
            Changed?.Invoke();
        }

        if (announcedAt is { } at && _cluster is { } cluster && EveryLiveNodeSaw(cluster.Others, at, _time.GetUtcNow(), cluster.DownAfter))
        {
            _ready.TrySetResult("every other live node has this node's address");
            _deadline?.Dispose();
        }
    }
}
