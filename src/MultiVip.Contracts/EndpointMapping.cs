using MultiVip.Model.Errors;
using MultiVip.Model.Services;
using MultiVip.Model.Validation;

namespace MultiVip.Contracts;

/// <summary>
/// The one mapping between an endpoint's wire shape and the domain, in both directions: a new
/// endpoint field is one line in <see cref="ToRequest(InputEndpoint)"/> and one in
/// <see cref="ApplyTo"/>. Reading records every value it cannot read (a missing field, an unknown
/// spelling) with the domain's message and goes on with a placeholder that no endpoint rule
/// objects to, so one answer names every unreadable value; the rules themselves are the Model's
/// (<see cref="DeploymentRules"/>), never checked here.
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
        Probe = e.Probe?.ToRequest(),
        Acl = e.Acl.Select(ToRequest).ToList(),
        IdleTimeoutInMinutes = e.IdleTimeoutInMinutes,
        Distribution = e.Distribution.ToWire(),
        DirectServerReturn = e.DirectServerReturn,
        ProxyProtocol = e.ProxyProtocol.ToWire(),
    };

    public static ProbeRequest ToRequest(this LoadBalancerProbe p) => new()
    {
        Protocol = p.Protocol.ToWire(),
        Port = p.Port,
        Path = p.Path,
        IntervalInSeconds = p.IntervalInSeconds,
        TimeoutInSeconds = p.TimeoutInSeconds,
    };

    public static AclRuleRequest ToRequest(this AclRule r) => new()
    {
        Order = r.Order,
        Action = r.Action.ToWire(),
        RemoteSubnet = r.RemoteSubnet,
        Description = r.Description,
    };

    /// <summary>
    /// A whole endpoint from an Add-AzureEndpoint, Set-AzureEndpoint or Update-AzureVM request:
    /// name, protocol and local port are required; the rest takes Azure's defaults.
    /// </summary>
    public static InputEndpoint ToEndpoint(this EndpointRequest request, Deployment deployment, Violations unreadable)
    {
        var settings = request;
        if (string.IsNullOrWhiteSpace(request.Name))
        {
            unreadable.BadRequest(Messages.Required("The endpoint name (-Name / --name)"));
        }

        if (string.IsNullOrWhiteSpace(request.Protocol))
        {
            unreadable.BadRequest(Messages.Required("The endpoint protocol (-Protocol / --protocol tcp|udp)"));
            settings = settings with { Protocol = null };
        }

        if (request.LocalPort is null)
        {
            unreadable.BadRequest(Messages.Required("The local port (-LocalPort / --local-port)"));
        }

        if (request.DefaultProbe == true && request.Probe is not null)
        {
            unreadable.BadRequest(
                "Use either the default probe (-DefaultProbe / --default-probe) or a custom probe (-ProbeProtocol ...), not both.");
        }

        // Placeholders for what is missing: valid values, so only the real problems are reported.
        var localPort = request.LocalPort ?? 1;
        var defaults = new InputEndpoint
        {
            Name = string.IsNullOrWhiteSpace(request.Name) ? "unnamed" : request.Name.Trim(),
            LocalPort = localPort,
            PublicPort = localPort,
            VirtualIpName = deployment.DefaultVirtualIp.Name,
            LoadBalancedSetName = string.IsNullOrWhiteSpace(request.LoadBalancedSetName) ? null : request.LoadBalancedSetName.Trim(),
            Probe = request.DefaultProbe == true ? new LoadBalancerProbe { Protocol = ProbeProtocol.Tcp, Port = localPort } : null,
        };
        return settings.ApplyTo(defaults, deployment, unreadable);
    }

    /// <summary>
    /// The endpoint <paramref name="basis"/> with the settings the request gives: what it leaves
    /// null stays as in <paramref name="basis"/> (Azure's defaults for a new endpoint, the member
    /// as it is for Set-AzureLoadBalancedEndpoint). A given probe or ACL replaces the old one whole.
    /// </summary>
    public static InputEndpoint ApplyTo(this EndpointSettings settings, InputEndpoint basis, Deployment deployment, Violations unreadable)
    {
        var localPort = settings.LocalPort ?? basis.LocalPort;
        return basis with
        {
            Protocol = Read(settings.Protocol, EnumParsing.ParseProtocol, unreadable) ?? basis.Protocol,
            LocalPort = localPort,
            PublicPort = settings.PublicPort ?? basis.PublicPort,
            VirtualIpName = settings.VirtualIpName is null ? basis.VirtualIpName : ResolveVip(settings.VirtualIpName, deployment),
            Probe = settings.Probe is null ? basis.Probe : ToProbe(settings.Probe, localPort, unreadable),
            Acl = settings.Acl is null ? basis.Acl : ToAcl(settings.Acl, unreadable),
            IdleTimeoutInMinutes = settings.IdleTimeoutInMinutes ?? basis.IdleTimeoutInMinutes,
            Distribution = Read(settings.Distribution, EnumParsing.ParseDistribution, unreadable) ?? basis.Distribution,
            DirectServerReturn = settings.DirectServerReturn ?? basis.DirectServerReturn,
            ProxyProtocol = Read(settings.ProxyProtocol, EnumParsing.ParseProxyProtocol, unreadable) ?? basis.ProxyProtocol,
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

    private static LoadBalancerProbe ToProbe(ProbeRequest request, int localPort, Violations unreadable)
    {
        ProbeProtocol? protocol = null;
        if (string.IsNullOrWhiteSpace(request.Protocol))
        {
            unreadable.BadRequest(Messages.Required("The probe protocol (-ProbeProtocol / --probe-protocol tcp|http)"));
        }
        else
        {
            protocol = Read(request.Protocol, EnumParsing.ParseProbeProtocol, unreadable);
        }

        return new LoadBalancerProbe
        {
            // Unreadable protocol: a tcp probe without a path, which the path rules accept.
            Protocol = protocol ?? ProbeProtocol.Tcp,
            Port = request.Port ?? localPort,
            Path = protocol is null || string.IsNullOrEmpty(request.Path) ? null : request.Path,
            IntervalInSeconds = request.IntervalInSeconds ?? LoadBalancerProbe.DefaultIntervalInSeconds,
            TimeoutInSeconds = request.TimeoutInSeconds ?? LoadBalancerProbe.DefaultTimeoutInSeconds,
        };
    }

    /// <summary>The rules that could be read; an unreadable one is recorded and left out.</summary>
    private static List<AclRule> ToAcl(IReadOnlyList<AclRuleRequest> rules, Violations unreadable)
    {
        var result = new List<AclRule>(rules.Count);
        foreach (var rule in rules)
        {
            if (rule is null)
            {
                unreadable.BadRequest("An ACL rule is null. Give every rule an order, an action and a remote subnet.");
                continue;
            }

            if (rule.Order is null)
            {
                unreadable.BadRequest(Messages.Required("The ACL rule order"));
            }

            AclAction? action = null;
            if (string.IsNullOrWhiteSpace(rule.Action))
            {
                unreadable.BadRequest(Messages.Required("The ACL rule action (permit or deny)"));
            }
            else
            {
                action = Read(rule.Action, EnumParsing.ParseAclAction, unreadable);
            }

            if (string.IsNullOrWhiteSpace(rule.RemoteSubnet))
            {
                unreadable.BadRequest(Messages.Required("The ACL rule remote subnet (CIDR)"));
            }
            else if (rule.Order is { } order && action is { } readAction)
            {
                result.Add(new AclRule
                {
                    Order = order,
                    Action = readAction,
                    RemoteSubnet = rule.RemoteSubnet.Trim(),
                    Description = rule.Description,
                });
            }
        }

        return result;
    }

    /// <summary>An enumeration in its wire spelling; null when not given or not readable (then recorded).</summary>
    private static T? Read<T>(string? text, Func<string, T> parse, Violations unreadable)
        where T : struct =>
        text is null ? null : unreadable.Read(() => parse(text));
}
