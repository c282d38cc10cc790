using System.Net;
using MultiVip.Model.Services;

namespace MultiVip.Model.Networking;

/// <summary>
/// Azure's endpoint ACL semantics, compiled once per endpoint so the per-connection check is a
/// short loop over numbers: no rules = allow all; rules by ascending order, first match wins;
/// when nothing matches, deny if any rule permits (an allow-list), otherwise allow (a deny-list).
/// Rules are subnets of either family; a client matches only rules of its own family (an
/// IPv4-mapped IPv6 client is IPv4).
/// </summary>
public sealed class AclEvaluator
{
    public static readonly AclEvaluator AllowAll = new([]);

    private readonly (IpSubnet Subnet, bool Permit)[] _rules;
    private readonly bool _defaultPermit;

    public AclEvaluator(IEnumerable<AclRule> rules)
    {
        _rules = rules
            .OrderBy(r => r.Order)
            .Select(r => (IpSubnet.Parse(r.RemoteSubnet), r.Action == AclAction.Permit))
            .ToArray();
        _defaultPermit = !_rules.Any(r => r.Permit);
    }

    public bool IsEmpty => _rules.Length == 0;

    public bool IsAllowed(IPAddress remote) => _rules.Length == 0 || IsAllowed(IpNumber.From(remote));

    public bool IsAllowed(IpNumber address)
    {
        foreach (var (subnet, permit) in _rules)
        {
            if (subnet.Contains(address))
            {
                return permit;
            }
        }

        return _defaultPermit;
    }
}
