using System.Net;

namespace MultiVip.Control.Nodes;

/// <summary>
/// The VRRP unicast peers the node registry gives (--announce vrrp without --vrrp-peer): the
/// announce addresses of the other live nodes. A node that stopped or missed heartbeats for
/// --node-down-after drops out; this node is never its own peer. Recomputed after every registry
/// read (once a second), raising <see cref="Changed"/> only when the set differs, so keepalived
/// reloads when a node joins or leaves, not every second.
/// </summary>
public sealed class NodePeers
{
    private readonly string _localName;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private NodeCluster? _cluster;
    private IReadOnlyList<IPAddress> _last = [];

    public NodePeers(string localName, TimeProvider time)
    {
        _localName = localName;
        _time = time;
    }

    /// <summary>Raised when the peer set changed (from the heartbeat's thread).</summary>
    public event Action? Changed;

    /// <summary>
    /// Starts answering from <paramref name="cluster"/>'s registry reads. Until then (the announcer
    /// starts before the control plane) there are no peers: keepalived adverts by multicast, and
    /// switches to unicast at the first read that finds another node.
    /// </summary>
    public void Attach(NodeCluster cluster)
    {
        _cluster = cluster;
        cluster.OthersUpdated += Refresh;
        Refresh();
    }

    public IReadOnlyList<IPAddress> Peers() =>
        _cluster is { } cluster ? Of(cluster.Others, _localName, _time.GetUtcNow(), cluster.DownAfter) : [];

    /// <summary>The live nodes' announce addresses other than <paramref name="localName"/>'s, distinct, in a stable order.</summary>
    public static IReadOnlyList<IPAddress> Of(IEnumerable<NodeRecord> records, string localName, DateTimeOffset now, TimeSpan downAfter) =>
    [
        .. records
            .Where(r => !string.Equals(r.Name, localName, StringComparison.OrdinalIgnoreCase) && NodeStates.IsLive(r, now, downAfter))
            .Select(r => IPAddress.TryParse(r.AnnounceAddress, out var address) ? address : null)
            .OfType<IPAddress>()
            .Distinct()
            .OrderBy(a => a.AddressFamily)
            .ThenBy(a => a.ToString(), StringComparer.Ordinal),
    ];

    private void Refresh()
    {
        var now = Peers();
        lock (_gate)
        {
            if (now.SequenceEqual(_last))
            {
                return;
            }

            _last = now;
        }

        Changed?.Invoke();
    }
}
