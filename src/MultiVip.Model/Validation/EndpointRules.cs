using MultiVip.Model.Errors;
using MultiVip.Model.Networking;
using MultiVip.Model.Services;

namespace MultiVip.Model.Validation;

/// <summary>Rules that one endpoint must satisfy on its own, whatever else the deployment holds.</summary>
public static class EndpointRules
{
    public const int MinIdleTimeout = 4;
    public const int MaxIdleTimeout = 30;
    public const int MaxAclDescription = 256;

    public static void Validate(InputEndpoint endpoint, ServiceLimits limits)
    {
        NameRules.ResourceName("endpoint", endpoint.Name);
        Port(endpoint.LocalPort);
        Port(endpoint.PublicPort);
        NameRules.ResourceName("virtual IP", endpoint.VirtualIpName);
        if (endpoint.LoadBalancedSetName is { } set)
        {
            NameRules.ResourceName("load-balanced set", set);
        }

        if (endpoint.Probe is { } probe)
        {
            if (endpoint.LoadBalancedSetName is null)
            {
                throw MultiVipException.BadRequest(Messages.ProbeWithoutLoadBalancedSet);
            }

            Probe(probe);
        }

        if (endpoint.IdleTimeoutInMinutes is < MinIdleTimeout or > MaxIdleTimeout)
        {
            throw MultiVipException.BadRequest(Messages.IdleTimeout(endpoint.IdleTimeoutInMinutes));
        }

        Acl(endpoint.Acl, limits);
    }

    public static void Port(int port)
    {
        if (port is < 1 or > 65535)
        {
            throw MultiVipException.BadRequest(Messages.PortRange);
        }
    }

    public static void Probe(LoadBalancerProbe probe)
    {
        Port(probe.Port);
        switch (probe.Protocol)
        {
            case ProbeProtocol.Tcp when probe.Path is not null:
                throw MultiVipException.BadRequest(Messages.ProbePathNotValidWithTcp);
            case ProbeProtocol.Http when string.IsNullOrWhiteSpace(probe.Path):
                throw MultiVipException.BadRequest(Messages.ProbePathRequiredForHttp);
            case ProbeProtocol.Http when !probe.Path!.StartsWith('/') || probe.Path.Length > 1024 || probe.Path.Any(c => char.IsControl(c) || c == ' '):
                throw MultiVipException.BadRequest(
                    $"The probe path '{probe.Path}' is not a valid HTTP path. Start it with '/' and leave out spaces, for example /health.");
        }

        if (probe.IntervalInSeconds is < LoadBalancerProbe.MinimumIntervalInSeconds or > 3600)
        {
            throw MultiVipException.BadRequest(Messages.ProbeInterval(probe.IntervalInSeconds));
        }

        if (probe.TimeoutInSeconds is < LoadBalancerProbe.MinimumTimeoutInSeconds or > 3600)
        {
            throw MultiVipException.BadRequest(Messages.ProbeTimeout(probe.TimeoutInSeconds));
        }
    }

    public static void Acl(IReadOnlyList<AclRule> rules, ServiceLimits limits)
    {
        if (rules.Count > limits.MaxAclRulesPerEndpoint)
        {
            throw MultiVipException.BadRequest(Messages.AclRuleCount(limits.MaxAclRulesPerEndpoint, rules.Count));
        }

        var orders = new HashSet<int>();
        foreach (var rule in rules)
        {
            if (rule.Order is < 0 or > 65535)
            {
                throw MultiVipException.BadRequest(Messages.AclOrder(rule.Order));
            }

            if (!orders.Add(rule.Order))
            {
                throw MultiVipException.BadRequest(Messages.AclOrderDuplicate(rule.Order));
            }

            if (!IpSubnet.TryParse(rule.RemoteSubnet, out _))
            {
                throw MultiVipException.BadRequest(Messages.InvalidCidr(rule.RemoteSubnet));
            }

            if (rule.Description is { Length: > MaxAclDescription })
            {
                throw MultiVipException.BadRequest(Messages.AclDescription(MaxAclDescription));
            }

            NameRules.Text("ACL rule description", rule.Description, MaxAclDescription);
        }
    }

    /// <summary>
    /// Parses the CLI's compact rule form "ORDER:permit|deny:CIDR[:description]",
    /// e.g. "100:permit:10.0.0.0/8:office".
    /// </summary>
    public static AclRule ParseRule(string text)
    {
        var parts = text.Split(':', 3);
        if (parts.Length < 3 || !int.TryParse(parts[0], out var order))
        {
            throw MultiVipException.BadRequest(
                $"'{text}' is not an ACL rule. Write ORDER:permit|deny:CIDR[:description], for example 100:permit:10.0.0.0/8:office.");
        }

        // An IPv6 subnet has colons of its own: the CIDR ends at the first ':' after its '/prefix'
        // (so IPv6 subnets are written with their prefix, 2001:db8::/32); without a '/', at the first ':'.
        var rest = parts[2];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var end = rest.IndexOf(':', slash < 0 ? 0 : slash);
        var rule = new AclRule
        {
            Order = order,
            Action = EnumParsing.ParseAclAction(parts[1]),
            RemoteSubnet = (end < 0 ? rest : rest[..end]).Trim(),
            Description = end < 0 ? null : rest[(end + 1)..],
        };
        if (!IpSubnet.TryParse(rule.RemoteSubnet, out _))
        {
            throw MultiVipException.BadRequest(Messages.InvalidCidr(rule.RemoteSubnet));
        }

        return rule;
    }
}
