using MultiVip.Model.Services;
using MultiVip.Model.Tests;

namespace MultiVip.Contracts.Tests;

public class EndpointMappingTests
{
    private static readonly InputEndpoint Full = new()
    {
        Name = "web",
        Protocol = TransportProtocol.Udp,
        LocalPort = 8443,
        PublicPort = 443,
        VirtualIpName = "Vip2",
        LoadBalancedSetName = "lb",
        Probe = new LoadBalancerProbe { Protocol = ProbeProtocol.Http, Port = 8080, Path = "/health", IntervalInSeconds = 5, TimeoutInSeconds = 11 },
        Acl =
        [
            new AclRule { Order = 10, Action = AclAction.Permit, RemoteSubnet = "10.0.0.0/8", Description = "office" },
            new AclRule { Order = 20, Action = AclAction.Deny, RemoteSubnet = "0.0.0.0/0" },
        ],
        IdleTimeoutInMinutes = 15,
        Distribution = LoadBalancerDistribution.SourceIPProtocol,
        DirectServerReturn = true,
        ProxyProtocol = ProxyProtocolVersion.V2,
    };

    /// <summary>What the server does with a request, in the domain's own parsers: the inverse of ToRequest.</summary>
    private static InputEndpoint Back(EndpointRequest r) => new()
    {
        Name = r.Name!,
        Protocol = EnumParsing.ParseProtocol(r.Protocol!),
        LocalPort = r.LocalPort!.Value,
        PublicPort = r.PublicPort!.Value,
        VirtualIpName = r.VirtualIpName!,
        LoadBalancedSetName = r.LoadBalancedSetName,
        Probe = r.Probe is null ? null : new LoadBalancerProbe
        {
            Protocol = EnumParsing.ParseProbeProtocol(r.Probe.Protocol!),
            Port = r.Probe.Port!.Value,
            Path = r.Probe.Path,
            IntervalInSeconds = r.Probe.IntervalInSeconds!.Value,
            TimeoutInSeconds = r.Probe.TimeoutInSeconds!.Value,
        },
        Acl = r.Acl!.Select(a => new AclRule
        {
            Order = a.Order!.Value,
            Action = EnumParsing.ParseAclAction(a.Action!),
            RemoteSubnet = a.RemoteSubnet!,
            Description = a.Description,
        }).ToList(),
        IdleTimeoutInMinutes = r.IdleTimeoutInMinutes!.Value,
        Distribution = EnumParsing.ParseDistribution(r.Distribution!),
        DirectServerReturn = r.DirectServerReturn!.Value,
        ProxyProtocol = EnumParsing.ParseProxyProtocol(r.ProxyProtocol!),
    };

    [Fact]
    public void Every_field_is_carried_in_wire_spelling()
    {
        var r = Full.ToRequest();
        Assert.Equal("web", r.Name);
        Assert.Equal("udp", r.Protocol);
        Assert.Equal(8443, r.LocalPort);
        Assert.Equal(443, r.PublicPort);
        Assert.Equal("Vip2", r.VirtualIpName);
        Assert.Equal("lb", r.LoadBalancedSetName);
        Assert.Null(r.DefaultProbe);
        Assert.Equal(new ProbeRequest { Protocol = "http", Port = 8080, Path = "/health", IntervalInSeconds = 5, TimeoutInSeconds = 11 }, r.Probe);
        Assert.Equal(2, r.Acl!.Count);
        Assert.Equal(new AclRuleRequest { Order = 10, Action = "permit", RemoteSubnet = "10.0.0.0/8", Description = "office" }, r.Acl[0]);
        Assert.Equal(new AclRuleRequest { Order = 20, Action = "deny", RemoteSubnet = "0.0.0.0/0" }, r.Acl[1]);
        Assert.Equal(15, r.IdleTimeoutInMinutes);
        Assert.Equal("sourceIPProtocol", r.Distribution);
        Assert.True(r.DirectServerReturn);
        Assert.Equal("v2", r.ProxyProtocol);
    }

    [Fact]
    public void A_full_endpoint_round_trips()
    {
        var back = Back(Full.ToRequest());
        Assert.Equal(Full with { Acl = [] }, back with { Acl = [] });
        Assert.Equal(Full.Acl, back.Acl);
    }

    [Fact]
    public void A_minimal_endpoint_round_trips()
    {
        var minimal = Build.Endpoint("ssh", 22, 50022);
        var r = minimal.ToRequest();
        Assert.Null(r.Probe);
        Assert.Null(r.LoadBalancedSetName);
        Assert.Empty(r.Acl!);
        Assert.Equal("none", r.Distribution);
        Assert.Equal("none", r.ProxyProtocol);
        var back = Back(r);
        Assert.Equal(minimal with { Acl = [] }, back with { Acl = [] });
        Assert.Empty(back.Acl);
    }
}
