using System.Net;
using MultiVip.Control.Nodes;

namespace MultiVip.Network.Tests.Failover;

/// <summary>
/// The VRRP unicast peers the node registry gives (--announce vrrp without --vrrp-peer): the other
/// live nodes' announce addresses; Down nodes (stopped, or silent for --node-down-after) and this
/// node itself are not peers, and a change is signalled once, not on every registry read.
/// </summary>
public sealed class RegistryPeersTests
{
    private static readonly DateTimeOffset Now = new(2030, 1, 15, 10, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan DownAfter = TimeSpan.FromSeconds(10);

    [Fact]
    public void Live_other_nodes_are_peers_and_down_ones_and_this_node_are_not()
    {
        NodeRecord[] records =
        [
            Record("lb-b", "198.18.0.2", Now - TimeSpan.FromSeconds(1)),
            Record("lb-c", "198.18.0.3", Now - TimeSpan.FromSeconds(30)), // silent for longer than --node-down-after
            Record("lb-d", "198.18.0.4", Now) with { StoppedAt = Now }, // stopped cleanly
            Record("LB-A", "198.18.0.1", Now), // this node, under another case
            Record("lb-e", null, Now), // announces nothing (another --announce, or an older version)
            Record("lb-f", "not-an-address", Now),
            Record("lb-g", "198.18.0.2", Now), // the same address twice counts once
            Record("lb-h", "198.18.0.10", Now + TimeSpan.FromSeconds(5)), // its clock runs ahead: still live
        ];

        var peers = NodePeers.Of(records, "lb-a", Now, DownAfter);

        Assert.Equal([IPAddress.Parse("198.18.0.10"), IPAddress.Parse("198.18.0.2")], peers);
    }

    [Fact]
    public void A_node_that_goes_down_drops_out_and_the_change_is_signalled_once()
    {
        var time = TimeProvider.System;
        var cluster = new NodeCluster("lb-a", DownAfter, time);
        var peers = new NodePeers("lb-a", time);
        var changes = 0;
        peers.Changed += () => changes++;
        Assert.Empty(peers.Peers()); // before the control plane attaches it: no peers yet (multicast)

        peers.Attach(cluster);
        Assert.Equal(0, changes);
        var now = time.GetUtcNow();
        cluster.OthersRead([Record("lb-a", "198.18.0.1", now), Record("lb-b", "198.18.0.2", now)]);
        Assert.Equal([IPAddress.Parse("198.18.0.2")], peers.Peers());
        Assert.Equal(1, changes);

        // The next reads find the same set: no reload.
        cluster.OthersRead([Record("lb-a", "198.18.0.1", now), Record("lb-b", "198.18.0.2", now)]);
        Assert.Equal(1, changes);

        // lb-b stops: it is no peer any more.
        cluster.OthersRead([Record("lb-b", "198.18.0.2", now) with { StoppedAt = now }]);
        Assert.Empty(peers.Peers());
        Assert.Equal(2, changes);
    }

    private static NodeRecord Record(string name, string? announce, DateTimeOffset heartbeat) => new()
    {
        Name = name,
        ApiAddress = "http://127.0.0.1:1",
        StartedAt = heartbeat - TimeSpan.FromMinutes(1),
        LastHeartbeat = heartbeat,
        Version = "test",
        AnnounceAddress = announce,
    };
}
