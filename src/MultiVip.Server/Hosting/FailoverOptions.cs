namespace MultiVip.Server.Hosting;

/// <summary>
/// How this node shares VIP addresses with other MultiVip nodes (docs/network.md#several-nodes):
/// `--announce vrrp` (keepalived on one L2 segment) or `--announce bgp` (BIRD towards a router with ECMP).
/// </summary>
public sealed record FailoverOptions
{
    /// <summary>The interface keepalived holds the addresses on and sends VRRP adverts from.</summary>
    public string? VrrpInterface { get; init; }

    /// <summary>VRRP's virtual router id, 1-255: the same on every node of the group.</summary>
    public int VrrpRouterId { get; init; } = 51;

    /// <summary>1-254; the highest wins an election.</summary>
    public int VrrpPriority { get; init; } = 100;

    /// <summary>
    /// The other nodes' addresses on the VRRP segment (unicast adverts); none: multicast. With the
    /// cluster store these come from the node registry.
    /// </summary>
    public IReadOnlyList<string> VrrpPeers { get; init; } = [];

    /// <summary>Off (default): nopreempt, a returning node does not take the addresses back.</summary>
    public bool VrrpPreempt { get; init; }

    /// <summary>This node's AS number.</summary>
    public long? BgpAsn { get; init; }

    /// <summary>BGP neighbours as ADDR or ADDR:ASN ([v6]:ASN); without an ASN the neighbour is in our AS (iBGP).</summary>
    public IReadOnlyList<string> BgpPeers { get; init; } = [];

    /// <summary>BGP router id (an IPv4 address); default: BIRD picks one of the node's addresses.</summary>
    public string? BgpRouterId { get; init; }

    /// <summary>Run BFD with the neighbours: a dead node's routes go within a second instead of the hold time.</summary>
    public bool BgpBfd { get; init; }

    /// <summary>BGP hold time in seconds (keepalives every third of it).</summary>
    public int BgpHoldTime { get; init; } = 90;
}
