using MultiVip.Model.Errors;
using MultiVip.Model.Services;
using MultiVip.Model.Tests;
using MultiVip.Model.Validation;

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

    // The wire-to-domain half as the server runs it: defaults, unreadable values, and the settings every request shares.

    private static readonly Deployment Deployment = Build.Service([], "Vip2").Deployment!;

    private static InputEndpoint Read(EndpointRequest request, Violations? unreadable = null)
    {
        unreadable ??= new Violations();
        var endpoint = request.ToEndpoint(Deployment, unreadable);
        unreadable.ThrowIfAny();
        return endpoint;
    }

    [Fact]
    public void Reading_is_the_inverse_of_ToRequest()
    {
        var back = Read(Full.ToRequest());

        Assert.Equal(Full with { Acl = [] }, back with { Acl = [] });
        Assert.Equal(Full.Acl, back.Acl);
    }

    [Fact]
    public void What_is_left_out_takes_Azures_defaults()
    {
        var endpoint = Read(new EndpointRequest { Name = " ssh ", Protocol = "TCP", LocalPort = 22 });

        Assert.Equal(new InputEndpoint { Name = "ssh", Protocol = TransportProtocol.Tcp, LocalPort = 22, PublicPort = 22, VirtualIpName = "Vip1" }, endpoint with { Acl = [] });
        Assert.Empty(endpoint.Acl);

        var probed = Read(new EndpointRequest { Name = "web", Protocol = "tcp", LocalPort = 8080, LoadBalancedSetName = "lb", DefaultProbe = true, VirtualIpName = "VIP2" });
        Assert.Equal(new LoadBalancerProbe { Protocol = ProbeProtocol.Tcp, Port = 8080, IntervalInSeconds = 15, TimeoutInSeconds = 31 }, probed.Probe);
        Assert.Equal("Vip2", probed.VirtualIpName);
    }

    [Fact]
    public void Every_unreadable_value_is_recorded_and_its_placeholder_breaks_no_rule()
    {
        var request = new EndpointRequest
        {
            Protocol = "tpc",
            LoadBalancedSetName = "lb",
            Probe = new ProbeRequest { Protocol = "htp", Path = "/x", Port = 0 },
            Acl = [null!, new AclRuleRequest { Action = "allow", RemoteSubnet = "10.0.0.0/8" }],
            Distribution = "random",
            ProxyProtocol = "v3",
        };
        var unreadable = new Violations();

        var draft = request.ToEndpoint(Deployment, unreadable);
        EndpointRules.Check(draft, ServiceLimits.Default, unreadable);

        // The only rule the readable rest breaks is the probe port; no word about paths, names or the default local port.
        Assert.Equal(
            [
                Messages.Required("The endpoint name (-Name / --name)"),
                Messages.Required("The local port (-LocalPort / --local-port)"),
                Messages.Protocol("tpc"),
                Messages.ProbeProtocol("htp"),
                "An ACL rule is null. Give every rule an order, an action and a remote subnet.",
                Messages.Required("The ACL rule order"),
                Messages.AclAction("allow"),
                Messages.Distribution("random"),
                "'v3' is not a PROXY protocol version. Use none, v1 or v2.",
                Messages.PortRange,
            ],
            unreadable.Errors.Select(e => e.Message));
        Assert.All(unreadable.Errors, e => Assert.Equal(ErrorCode.BadRequest, e.Code));
    }

    /// <summary>A value for each shared setting that differs from <see cref="Full"/>'s (and is valid).</summary>
    private static readonly Dictionary<string, object> OtherValues = new()
    {
        [nameof(EndpointSettings.Protocol)] = "tcp",
        [nameof(EndpointSettings.LocalPort)] = 9443,
        [nameof(EndpointSettings.PublicPort)] = 9000,
        [nameof(EndpointSettings.VirtualIpName)] = "Vip1",
        [nameof(EndpointSettings.Probe)] = new ProbeRequest { Protocol = "tcp" },
        [nameof(EndpointSettings.Acl)] = new List<AclRuleRequest>(),
        [nameof(EndpointSettings.IdleTimeoutInMinutes)] = 30,
        [nameof(EndpointSettings.Distribution)] = "sourceIP",
        [nameof(EndpointSettings.DirectServerReturn)] = false,
        [nameof(EndpointSettings.ProxyProtocol)] = "v1",
    };

    [Fact]
    public void Every_setting_given_changes_the_endpoint_and_every_setting_left_out_keeps_it()
    {
        var unreadable = new Violations();
        Assert.Equal(Full, new SetLoadBalancedSetRequest().ApplyTo(Full, Deployment, unreadable));

        // Walks the settings by reflection: a new one that ApplyTo forgets fails here.
        foreach (var property in typeof(EndpointSettings).GetProperties())
        {
            Assert.True(OtherValues.TryGetValue(property.Name, out var value), $"EndpointSettings.{property.Name} needs a value in {nameof(OtherValues)}.");
            var change = new SetLoadBalancedSetRequest();
            property.SetValue(change, value);

            var changed = change.ApplyTo(Full, Deployment, unreadable);

            Assert.NotEqual(Full, changed);
            Assert.Equal(Full.Name, changed.Name);
            Assert.Equal(Full.LoadBalancedSetName, changed.LoadBalancedSetName);
        }

        Assert.Empty(unreadable.Errors);
    }

    [Fact]
    public void A_given_probe_replaces_the_old_one_and_follows_the_new_local_port()
    {
        var changed = new SetLoadBalancedSetRequest { LocalPort = 9443, Probe = new ProbeRequest { Protocol = "tcp" } }.ApplyTo(Full, Deployment, new Violations());

        Assert.Equal(new LoadBalancerProbe { Protocol = ProbeProtocol.Tcp, Port = 9443 }, changed.Probe);
    }
}
