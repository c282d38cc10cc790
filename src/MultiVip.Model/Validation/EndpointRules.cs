using MultiVip.Model.Errors;
using MultiVip.Model.Networking;
using MultiVip.Model.Services;

namespace MultiVip.Model.Validation;

/// <summary>
/// Rules of an endpoint: on its own, and against the other endpoints of its VM. The server runs
/// them (through <see cref="DeploymentRules"/>) on every change; PowerShell runs the few that
/// Azure's cmdlets ran before sending anything (<see cref="Port(int, Violations)"/>,
/// <see cref="ProbePath"/>, <see cref="UniqueOnVm"/>), so both say the same.
/// </summary>
public static class EndpointRules
{
    public const int MinIdleTimeout = 4;
    public const int MaxIdleTimeout = 30;
    public const int MaxAclDescription = 256;

    public static void Validate(InputEndpoint endpoint, ServiceLimits limits) => Violations.Throw(v => Check(endpoint, limits, v));

    /// <summary>Records every rule <paramref name="endpoint"/> breaks.</summary>
    public static void Check(InputEndpoint endpoint, ServiceLimits limits, Violations violations)
    {
        NameRules.ResourceName("endpoint", endpoint.Name, violations);
        Port(endpoint.LocalPort, violations);
        Port(endpoint.PublicPort, violations);
        DirectServerReturnPorts(endpoint.Name, endpoint.DirectServerReturn, endpoint.LocalPort, endpoint.PublicPort, violations);
        NameRules.ResourceName("virtual IP", endpoint.VirtualIpName, violations);
        if (endpoint.LoadBalancedSetName is { } set)
        {
            NameRules.ResourceName("load-balanced set", set, violations);
        }

        if (endpoint.Probe is { } probe)
        {
            if (endpoint.LoadBalancedSetName is null)
            {
                violations.BadRequest(Messages.ProbeWithoutLoadBalancedSet);
            }

            Probe(probe, violations);
        }

        if (endpoint.IdleTimeoutInMinutes is < MinIdleTimeout or > MaxIdleTimeout)
        {
            violations.BadRequest(Messages.IdleTimeout(endpoint.IdleTimeoutInMinutes));
        }

        Acl(endpoint.Acl, limits, violations);
    }

    public static void Port(int port) => Violations.Throw(v => Port(port, v));

    public static void Port(int port, Violations violations)
    {
        if (port is < 1 or > 65535)
        {
            violations.BadRequest(Messages.PortRange);
        }
    }

    /// <summary>
    /// Azure's rule for floating IP: with direct server return the VM receives the packets still
    /// addressed to VIP:public port, nothing translates the port, so the local port must be the
    /// public port. One rule for the API, the CLI and PowerShell (which checks it before sending, as
    /// it does the port rules). Rules run on changes, never on loading: a stored state from before
    /// this rule still loads, and the kernel plane reports such an endpoint as the listener fault it is.
    /// </summary>
    public static void DirectServerReturnPorts(string endpoint, bool directServerReturn, int localPort, int publicPort, Violations violations)
    {
        if (directServerReturn && localPort != publicPort)
        {
            violations.BadRequest(Messages.DirectServerReturnPorts(endpoint, localPort, publicPort));
        }
    }

    public static void Probe(LoadBalancerProbe probe) => Violations.Throw(v => Probe(probe, v));

    public static void Probe(LoadBalancerProbe probe, Violations violations)
    {
        Port(probe.Port, violations);
        ProbePath(probe.Protocol, probe.Path, violations);
        if (probe.Protocol == ProbeProtocol.Http && !string.IsNullOrWhiteSpace(probe.Path)
            && (!probe.Path.StartsWith('/') || probe.Path.Length > 1024 || probe.Path.Any(c => char.IsControl(c) || c == ' ')))
        {
            violations.BadRequest(
                $"The probe path '{probe.Path}' is not a valid HTTP path. Start it with '/' and leave out spaces, for example /health.");
        }

        if (probe.IntervalInSeconds is < LoadBalancerProbe.MinimumIntervalInSeconds or > 3600)
        {
            violations.BadRequest(Messages.ProbeInterval(probe.IntervalInSeconds));
        }

        if (probe.TimeoutInSeconds is < LoadBalancerProbe.MinimumTimeoutInSeconds or > 3600)
        {
            violations.BadRequest(Messages.ProbeTimeout(probe.TimeoutInSeconds));
        }
    }

    /// <summary>Azure's two probe-path rules, which its Add-AzureEndpoint also checked: a tcp probe has no path, an http probe needs one.</summary>
    public static void ProbePath(ProbeProtocol protocol, string? path, Violations violations)
    {
        if (protocol == ProbeProtocol.Tcp && path is not null)
        {
            violations.BadRequest(Messages.ProbePathNotValidWithTcp);
        }
        else if (protocol == ProbeProtocol.Http && string.IsNullOrWhiteSpace(path))
        {
            violations.BadRequest(Messages.ProbePathRequiredForHttp);
        }
    }

    /// <summary>
    /// The endpoints of one VM have distinct names (case-insensitively) and distinct local ports per
    /// protocol; a clash is reported on the later endpoint, the one a change adds. Azure's
    /// Add-AzureEndpoint checked this on the VM object before sending anything.
    /// </summary>
    public static void UniqueOnVm(IReadOnlyList<InputEndpoint> endpoints, Violations violations)
    {
        var names = new HashSet<string>(Names.Comparer);
        // With direct server return (floating IP) the VM receives VIP:port itself, so endpoints on
        // different VIPs may share a local port (AlwaysOn: several listeners, each its VIP, all on 1433).
        var localPorts = new HashSet<(TransportProtocol, int, string?)>();
        foreach (var endpoint in endpoints)
        {
            if (!names.Add(endpoint.Name))
            {
                violations.Conflict(Messages.EndpointNameExists(endpoint.Name));
            }

            if (!localPorts.Add((endpoint.Protocol, endpoint.LocalPort, endpoint.DirectServerReturn ? endpoint.VirtualIpName.ToUpperInvariant() : null)))
            {
                violations.Conflict(Messages.LocalPortInUse(endpoint.LocalPort, endpoint.Name));
            }
        }
    }

    public static void Acl(IReadOnlyList<AclRule> rules, ServiceLimits limits) => Violations.Throw(v => Acl(rules, limits, v));

    public static void Acl(IReadOnlyList<AclRule> rules, ServiceLimits limits, Violations violations)
    {
        if (rules.Count > limits.MaxAclRulesPerEndpoint)
        {
            violations.BadRequest(Messages.AclRuleCount(limits.MaxAclRulesPerEndpoint, rules.Count));
        }

        var orders = new HashSet<int>();
        foreach (var rule in rules)
        {
            if (rule.Order is < 0 or > 65535)
            {
                violations.BadRequest(Messages.AclOrder(rule.Order));
            }
            else if (!orders.Add(rule.Order))
            {
                violations.BadRequest(Messages.AclOrderDuplicate(rule.Order));
            }

            RemoteSubnet(rule.RemoteSubnet, violations);
            if (rule.Description is { Length: > MaxAclDescription })
            {
                violations.BadRequest(Messages.AclDescription(MaxAclDescription));
            }
            else
            {
                NameRules.Text("ACL rule description", rule.Description, violations, MaxAclDescription);
            }
        }
    }

    /// <summary>An ACL rule's remote subnet: an IPv4 or IPv6 CIDR such as 10.0.0.0/8 or 2001:db8::/32.</summary>
    public static void RemoteSubnet(string subnet) => Violations.Throw(v => RemoteSubnet(subnet, v));

    public static void RemoteSubnet(string subnet, Violations violations)
    {
        if (!IpSubnet.TryParse(subnet, out _))
        {
            violations.BadRequest(Messages.InvalidCidr(subnet));
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
        RemoteSubnet(rule.RemoteSubnet);
        return rule;
    }
}
