using System.Net;
using MultiVip.Model.Services;

namespace MultiVip.Model.Networking;

/// <summary>
/// Azure's endpoint ACL semantics, compiled once per endpoint so the per-connection check is a
/// short loop over integers: no rules = allow all; rules by ascending order, first match wins;
/// when nothing matches, deny if any rule permits (an allow-list), otherwise allow (a deny-list).
/// </summary>
public sealed class AclEvaluator
{
    public static readonly AclEvaluator AllowAll = new([]);

    private readonly (Ipv4Subnet Subnet, bool Permit)[] _rules;
    private readonly bool _defaultPermit;

    public AclEvaluator(IEnumerable<AclRule> rules)
    {
        _rules = rules
            .OrderBy(r => r.Order)
            .Select(r => (Ipv4Subnet.Parse(r.RemoteSubnet), r.Action == AclAction.Permit))
            .ToArray();
        _defaultPermit = !_rules.Any(r => r.Permit);
    }

    public bool IsEmpty => _rules.Length == 0;

    public bool IsAllowed(IPAddress remote)
    {
        if (_rules.Length == 0)
        {
            return true;
        }

        if (!Ipv4.TryToUInt32(remote, out var address))
        {
            // Rules are IPv4 subnets; an IPv6 client matches none of them.
            return _defaultPermit;
        }

        return IsAllowed(address);
    }

    public bool IsAllowed(uint address)
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
