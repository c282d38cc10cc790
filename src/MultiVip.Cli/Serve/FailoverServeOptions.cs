using System.CommandLine;
using MultiVip.Server.Hosting;

namespace MultiVip.Cli.Serve;

/// <summary>serve's --announce and the --vrrp-* / --bgp-* options of several-node failover (docs/network.md#several-nodes).</summary>
internal sealed class FailoverServeOptions
{
    private static readonly string[] Modes = ["none", "local", "vrrp", "bgp"];

    private readonly Option<string?> _announce = new("--announce")
    {
        Description = "How VIP addresses reach the network: none (they exist already), local (added to --vip-interface, announced by ARP/NDP), vrrp (keepalived moves them between nodes on one segment), bgp (BIRD announces them to a router). Default: local with --vip-interface, else none.",
    };

    private readonly Option<string?> _vrrpInterface = new("--vrrp-interface") { Description = "With --announce vrrp: the interface on the segment the nodes share; keepalived holds the VIP addresses there and sends its adverts from its address." };
    private readonly Option<int> _vrrpRouterId = new("--vrrp-router-id") { Description = "VRRP virtual router id, 1-255: the same on every node of the group, unique per group on the segment. Default 51.", DefaultValueFactory = _ => 51 };
    private readonly Option<int> _vrrpPriority = new("--vrrp-priority") { Description = "VRRP priority, 1-254: the highest wins an election. Default 100.", DefaultValueFactory = _ => 100 };
    private readonly Option<string[]> _vrrpPeers = new("--vrrp-peer") { Description = "Another node's address on the VRRP segment (unicast adverts); repeat for each. None: multicast. With the cluster store these come from the node registry.", AllowMultipleArgumentsPerToken = false };
    private readonly Option<bool> _vrrpPreempt = new("--vrrp-preempt") { Description = "Let a node with a higher priority take the addresses back when it returns (default: nopreempt, no second failover)." };
    private readonly Option<long?> _bgpAsn = new("--bgp-asn") { Description = "With --announce bgp: this node's AS number." };
    private readonly Option<string[]> _bgpPeers = new("--bgp-peer") { Description = "A BGP neighbour as ADDR or ADDR:ASN ([v6]:ASN; without an ASN it is in --bgp-asn: iBGP); repeat for each.", AllowMultipleArgumentsPerToken = false };
    private readonly Option<string?> _bgpRouterId = new("--bgp-router-id") { Description = "BGP router id (an IPv4 address, unique per node). Default: BIRD picks one of the node's addresses." };
    private readonly Option<bool> _bgpBfd = new("--bgp-bfd") { Description = "Run BFD with the neighbours (100 ms x 3): a dead node's routes are withdrawn within a second instead of the hold time." };
    private readonly Option<int> _bgpHoldTime = new("--bgp-hold-time") { Description = "BGP hold time in seconds (0, or at least 3; keepalives every third of it). Default 90.", DefaultValueFactory = _ => 90 };

    public FailoverServeOptions()
    {
        _announce.CompletionSources.Add(Modes);
        _announce.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is { } value && !Modes.Contains(value.Trim().ToLowerInvariant()))
            {
                r.AddError($"--announce must be one of {string.Join(", ", Modes)}, not '{value}'.");
            }
        });
        AddRange(_vrrpRouterId, "--vrrp-router-id", 1, 255);
        AddRange(_vrrpPriority, "--vrrp-priority", 1, 254);
        AddRange(_bgpHoldTime, "--bgp-hold-time", 0, 65535);
    }

    public IEnumerable<Option> All => [_announce, _vrrpInterface, _vrrpRouterId, _vrrpPriority, _vrrpPeers, _vrrpPreempt, _bgpAsn, _bgpPeers, _bgpRouterId, _bgpBfd, _bgpHoldTime];

    public string? Announce(ParseResult parse) => parse.GetValue(_announce);

    public FailoverOptions Read(ParseResult parse) => new()
    {
        VrrpInterface = parse.GetValue(_vrrpInterface),
        VrrpRouterId = parse.GetValue(_vrrpRouterId),
        VrrpPriority = parse.GetValue(_vrrpPriority),
        VrrpPeers = parse.GetValue(_vrrpPeers) ?? [],
        VrrpPreempt = parse.GetValue(_vrrpPreempt),
        BgpAsn = parse.GetValue(_bgpAsn),
        BgpPeers = parse.GetValue(_bgpPeers) ?? [],
        BgpRouterId = parse.GetValue(_bgpRouterId),
        BgpBfd = parse.GetValue(_bgpBfd),
        BgpHoldTime = parse.GetValue(_bgpHoldTime),
    };

    private static void AddRange(Option<int> option, string name, int minimum, int maximum) =>
        option.Validators.Add(r =>
        {
            if (r.Tokens.Count > 0 && !int.TryParse(r.Tokens[^1].Value, System.Globalization.CultureInfo.InvariantCulture, out _))
            {
                return;
            }

            if (r.GetValueOrDefault<int>() is var value && (value < minimum || value > maximum))
            {
                r.AddError($"{name} must be {minimum}-{maximum}, not {value}.");
            }
        });
}
