using MultiVip.Model.Errors;
using MultiVip.Model.Services;

namespace MultiVip.Contracts;

/// <summary>
/// The one mapping between the endpoint's wire shape and the domain: requests into domain values
/// (Azure's defaults, enums parsed with the domain's messages) and back.
/// </summary>
public static class EndpointMapping
{
    /// <summary>The request that recreates <paramref name="e"/> exactly: the base of read-modify-write edits.</summary>
    public static EndpointRequest ToRequest(this InputEndpoint e) => new()
    {
        Name = e.Name,
        Protocol = e.Protocol.ToWire(),
        LocalPort = e.LocalPort,
        PublicPort = e.PublicPort,
        VirtualIpName = e.VirtualIpName,
        LoadBalancedSetName = e.LoadBalancedSetName,
        Probe = e.Probe is null ? null : new ProbeRequest
        {
            Protocol = e.Probe.Protocol.ToWire(),
            Port = e.Probe.Port,
            Path = e.Probe.Path,
            IntervalInSeconds = e.Probe.IntervalInSeconds,
            TimeoutInSeconds = e.Probe.TimeoutInSeconds,
        },
        Acl = e.Acl.Select(r => new AclRuleRequest
        {
            Order = r.Order,
            Action = r.Action.ToWire(),
            RemoteSubnet = r.RemoteSubnet,
            Description = r.Description,
        }).ToList(),
        IdleTimeoutInMinutes = e.IdleTimeoutInMinutes,
        Distribution = e.Distribution.ToWire(),
        DirectServerReturn = e.DirectServerReturn,
        ProxyProtocol = e.ProxyProtocol.ToString().ToLowerInvariant(),
    };

    public static InputEndpoint Create(EndpointRequest request, Deployment deployment)
    {
        if (string.IsNullOrWhiteSpace(request.Name))
        {
            throw MultiVipException.BadRequest(Messages.Required("The endpoint name (-Name / --name)"));
        }

        if (string.IsNullOrWhiteSpace(request.Protocol))
        {
            throw MultiVipException.BadRequest(Messages.Required("The endpoint protocol (-Protocol / --protocol tcp|udp)"));
        }

        if (request.LocalPort is not { } localPort)
        {
            throw MultiVipException.BadRequest(Messages.Required("The local port (-LocalPort / --local-port)"));
        }

        if (request.DefaultProbe == true && request.Probe is not null)
        {
            throw MultiVipException.BadRequest(
                "Use either the default probe (-DefaultProbe / --default-probe) or a custom probe (-ProbeProtocol ...), not both.");
        }

        var probe = request.DefaultProbe == true
            ? new LoadBalancerProbe { Protocol = ProbeProtocol.Tcp, Port = localPort }
            : Probe(request.Probe, localPort);

        return new InputEndpoint
        {
            Name = request.Name.Trim(),
            Protocol = EnumParsing.ParseProtocol(request.Protocol),
            LocalPort = localPort,
            PublicPort = request.PublicPort ?? localPort,
            VirtualIpName = ResolveVip(request.VirtualIpName, deployment),
            LoadBalancedSetName = string.IsNullOrWhiteSpace(request.LoadBalancedSetName) ? null : request.LoadBalancedSetName.Trim(),
            Probe = probe,
            Acl = Acl(request.Acl),
            IdleTimeoutInMinutes = request.IdleTimeoutInMinutes ?? InputEndpoint.DefaultIdleTimeoutInMinutes,
            Distribution = request.Distribution is null ? LoadBalancerDistribution.None : EnumParsing.ParseDistribution(request.Distribution),
            DirectServerReturn = request.DirectServerReturn ?? false,
            ProxyProtocol = request.ProxyProtocol is null ? ProxyProtocolVersion.None : EnumParsing.ParseProxyProtocol(request.ProxyProtocol),
        };
    }

    /// <summary>The VIP an endpoint names, spelled as the deployment spells it; the default VIP when none is named.</summary>
    public static string ResolveVip(string? name, Deployment deployment)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            return deployment.DefaultVirtualIp.Name;
        }

        return deployment.FindVirtualIp(name.Trim())?.Name ?? name.Trim();
    }

    public static LoadBalancerProbe? Probe(ProbeRequest? request, int localPort)
    {
        if (request is null)
        {
            return null;
        }

        if (string.IsNullOrWhiteSpace(request.Protocol))
        {
            throw MultiVipException.BadRequest(Messages.Required("The probe protocol (-ProbeProtocol / --probe-protocol tcp|http)"));
        }

        return new LoadBalancerProbe
        {
            Protocol = EnumParsing.ParseProbeProtocol(request.Protocol),
            Port = request.Port ?? localPort,
            Path = string.IsNullOrEmpty(request.Path) ? null : request.Path,
            IntervalInSeconds = request.IntervalInSeconds ?? LoadBalancerProbe.DefaultIntervalInSeconds,
            TimeoutInSeconds = request.TimeoutInSeconds ?? LoadBalancerProbe.DefaultTimeoutInSeconds,
        };
    }

    public static IReadOnlyList<AclRule> Acl(IReadOnlyList<AclRuleRequest>? rules)
    {
        if (rules is null)
        {
            return [];
        }

        var result = new List<AclRule>(rules.Count);
        foreach (var rule in rules)
        {
            if (rule is null)
            {
                throw MultiVipException.BadRequest("An ACL rule is null. Give every rule an order, an action and a remote subnet.");
            }

            if (rule.Order is not { } order)
            {
                throw MultiVipException.BadRequest(Messages.Required("The ACL rule order"));
            }

            if (string.IsNullOrWhiteSpace(rule.Action))
            {
                throw MultiVipException.BadRequest(Messages.Required("The ACL rule action (permit or deny)"));
            }

            if (string.IsNullOrWhiteSpace(rule.RemoteSubnet))
            {
                throw MultiVipException.BadRequest(Messages.Required("The ACL rule remote subnet (CIDR)"));
            }

            result.Add(new AclRule
            {
                Order = order,
                Action = EnumParsing.ParseAclAction(rule.Action),
                RemoteSubnet = rule.RemoteSubnet.Trim(),
                Description = rule.Description,
            });
        }

        return result;
    }
}
