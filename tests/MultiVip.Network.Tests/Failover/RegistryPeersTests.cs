using System.Net;
using MultiVip.Control.Nodes;

namespace MultiVip.Network.Tests.Failover;

/// <summary>
/// The VRRP unicast peers the node registry gives (--announce vrrp on a shared store without
/// --vrrp-peer): every other node's announce address, Down ones included (VRRP ignores a silent
/// peer, and a returning node must hear the master at once); this node itself is not a peer, a
/// change is signalled once, not on every registry read, and keepalived's start waits until every
/// other live node has read this node's record.
/// </summary>
public sealed class RegistryPeersTests
{
    private static readonly DateTimeOffset Now = new(2030, 1, 15, 10, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan DownAfter = TimeSpan.FromSeconds(10);

    [Fact]
    public void Other_nodes_are_peers_down_ones_too_and_this_node_is_not()
    {
        NodeRecord[] records =
        [
            Record("lb-b", "198.18.0.2", Now - TimeSpan.FromSeconds(1)),
            Record("lb-c", "198.18.0.3", Now - TimeSpan.FromHours(30)), // Down for long: still a peer
            Record("lb-d", "198.18.0.4", Now) with { StoppedAt = Now }, // stopped cleanly: comes back as a peer
            Record("LB-A", "198.18.0.1", Now), // this node, under another case
            Record("lb-e", null, Now), // announces nothing (another --announce, or an older version)
            Record("lb-f", "not-an-address", Now),
            Record("lb-g", "198.18.0.2", Now), // the same address twice counts once
        ];

        var peers = NodePeers.Of(records, "lb-a");

        Assert.Equal(["198.18.0.2", "198.18.0.3", "198.18.0.4"], peers.Select(p => p.ToString()));
    }

    [Fact]
    public void A_joining_node_is_signalled_once_and_a_node_that_goes_down_stays()
    {
        var time = TimeProvider.System;
        var cluster = new NodeCluster("lb-a", DownAfter, time);
        var peers = new NodePeers("lb-a", time);
        var changes = 0;
        peers.Changed += () => changes++;
        Assert.Empty(peers.Peers()); // before the control plane attaches it: no peers yet

        peers.Attach(cluster);
        Assert.Equal(0, changes);
        var now = time.GetUtcNow();
        cluster.OthersRead([Record("lb-a", "198.18.0.1", now), Record("lb-b", "198.18.0.2", now)]);
        Assert.Equal([IPAddress.Parse("198.18.0.2")], peers.Peers());
        Assert.Equal(1, changes);

        // The next reads find the same set: no reload.
        cluster.OthersRead([Record("lb-a", "198.18.0.1", now), Record("lb-b", "198.18.0.2", now)]);
        Assert.Equal(1, changes);

        // lb-b stops: it stays a peer, and nothing reloads.
        cluster.OthersRead([Record("lb-b", "198.18.0.2", now) with { StoppedAt = now }]);
        Assert.Equal([IPAddress.Parse("198.18.0.2")], peers.Peers());
        Assert.Equal(1, changes);

        // lb-c joins: one change.
        cluster.OthersRead([Record("lb-b", "198.18.0.2", now) with { StoppedAt = now }, Record("lb-c", "198.18.0.3", now)]);
        Assert.Equal(["198.18.0.2", "198.18.0.3"], peers.Peers().Select(p => p.ToString()));
        Assert.Equal(2, changes);
    }

    [Fact]
    public async Task Keepalived_starts_once_every_other_live_node_wrote_after_this_node_announced()
    {
        var time = TimeProvider.System;
        var cluster = new NodeCluster("lb-c", DownAfter, time);
        var peers = new NodePeers("lb-c", time) { ReadyWithin = TimeSpan.FromMinutes(10) };
        peers.Attach(cluster);
        var before = time.GetUtcNow() - TimeSpan.FromSeconds(1);
        cluster.OthersRead([Record("lb-a", "198.18.0.1", before), Record("lb-b", "198.18.0.2", before), Record("lb-z", "198.18.0.9", before - TimeSpan.FromHours(1))]);
        peers.Announced();
        Assert.False(peers.Ready.IsCompleted); // lb-a and lb-b have not read this node's record yet

        var after = time.GetUtcNow() + TimeSpan.FromMilliseconds(1);
        cluster.OthersRead([Record("lb-a", "198.18.0.1", after), Record("lb-b", "198.18.0.2", before), Record("lb-z", "198.18.0.9", before - TimeSpan.FromHours(1))]);
        Assert.False(peers.Ready.IsCompleted); // lb-b still has not

        // lb-z is Down: nobody waits for it.
        cluster.OthersRead([Record("lb-a", "198.18.0.1", after), Record("lb-b", "198.18.0.2", after), Record("lb-z", "198.18.0.9", before - TimeSpan.FromHours(1))]);
        Assert.Equal("every other live node has this node's address", await peers.Ready.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task A_first_node_starts_at_once_and_a_silent_registry_is_waited_for_only_so_long()
    {
        var time = TimeProvider.System;
        var alone = new NodePeers("lb-a", time);
        alone.Attach(new NodeCluster("lb-a", DownAfter, time));
        alone.Announced();
        Assert.True(alone.Ready.IsCompletedSuccessfully);

        var cluster = new NodeCluster("lb-b", DownAfter, time);
        var waiting = new NodePeers("lb-b", time) { ReadyWithin = TimeSpan.FromMilliseconds(200) };
        waiting.Attach(cluster);
        cluster.OthersRead([Record("lb-a", "198.18.0.1", time.GetUtcNow())]);
        waiting.Announced();
        Assert.StartsWith("not every other live node confirmed", await waiting.Ready.WaitAsync(TimeSpan.FromSeconds(30)), StringComparison.Ordinal);
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
