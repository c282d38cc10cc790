using System.Net;
using MultiVip.Control.Nodes;
using MultiVip.Model.Errors;
using MultiVip.Network.Announcing;

namespace MultiVip.Server.Hosting;

/// <summary>Turns serve's --announce, --vip-interface, --vrrp-* and --bgp-* into the announcer's settings, refusing what does not fit.</summary>
internal static class FailoverSetup
{
    /// <param name="registryPeers">The shared node registry's peers (PostgreSQL store only), used by --announce vrrp when no --vrrp-peer is given.</param>
    public static AnnouncerSettings SettingsFor(ServerOptions options, string dataDir, NodePeers? registryPeers = null)
    {
        var settings = new AnnouncerSettings { Mode = options.Announce, VipInterface = options.VipInterface, DataDir = dataDir };
        var failover = options.Failover;
        switch (settings.EffectiveMode)
        {
            case "vrrp":
                if (string.IsNullOrWhiteSpace(failover.VrrpInterface ?? options.VipInterface))
                {
                    throw MultiVipException.BadRequest("--announce vrrp needs --vrrp-interface IFACE: the interface on the segment the nodes share, where keepalived holds the VIP addresses.");
                }

                return settings with
                {
                    Vrrp = new VrrpOptions
                    {
                        Interface = (failover.VrrpInterface ?? options.VipInterface)!.Trim(),
                        DataDir = dataDir,
                        RouterId = failover.VrrpRouterId,
                        Priority = failover.VrrpPriority,
                        Preempt = failover.VrrpPreempt,
                        // Static --vrrp-peer wins; without it the other live nodes of the registry are the peers.
                        Peers = failover.VrrpPeers.Count == 0 && registryPeers is not null
                            ? new RegistryPeerSource(registryPeers)
                            : new StaticPeers(AddressAnnouncers.ParsePeers(failover.VrrpPeers, "--vrrp-peer")),
                        NodeName = options.NodeName,
                    },
                };
            case "bgp":
                if (failover.BgpAsn is not { } asn)
                {
                    throw MultiVipException.BadRequest("--announce bgp needs --bgp-asn N (this node's AS number).");
                }

                return settings with
                {
                    Bgp = new BgpOptions
                    {
                        Asn = asn,
                        Peers = [.. failover.BgpPeers.Select(p => BgpPeer.Parse(p, asn))],
                        DataDir = dataDir,
                        RouterId = failover.BgpRouterId,
                        Bfd = failover.BgpBfd,
                        HoldTime = failover.BgpHoldTime,
                        NodeName = options.NodeName,
                    },
                };
            default:
                return settings;
        }
    }

    /// <summary>Whether listeners must bind with IP_FREEBIND: the announcer adds their addresses (maybe later, maybe never on this node).</summary>
    public static bool ManagesAddresses(ServerOptions options) =>
        new AnnouncerSettings { Mode = options.Announce, VipInterface = options.VipInterface }.EffectiveMode is "local" or "vrrp" or "bgp";
}

/// <summary>The registry's peers as the VRRP announcer asks for them.</summary>
internal sealed class RegistryPeerSource(NodePeers peers) : IPeerSource
{
    public IReadOnlyList<IPAddress> Peers() => peers.Peers();

    // The first peer may join later: unicast from the start, so that join reloads without a transition.
    public bool AlwaysUnicast => true;

    public Task<string> Ready => peers.Ready;

    public event Action? Changed
    {
        add => peers.Changed += value;
        remove => peers.Changed -= value;
    }
}
