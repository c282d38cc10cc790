using System.Net;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Routing;
using MultiVip.Model.Networking;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Tests.Contract;

public class ListenerSpecTests
{
    // Every list and address is built fresh, so equality cannot come from shared references.
    private static ListenerSpec Spec() => new()
    {
        Key = new ListenerKey(IPAddress.Parse("127.100.0.1"), TransportProtocol.Tcp, 443),
        ServiceName = "mysvc",
        VirtualIpName = "Vip1",
        LoadBalancedSetName = "lb",
        Backends =
        [
            new BackendSpec("vm1", "web", new IPEndPoint(IPAddress.Parse("10.0.0.4"), 8443))
            {
                ProbeTarget = new IPEndPoint(IPAddress.Parse("10.0.0.4"), 80),
            },
            new BackendSpec("vm2", "web", new IPEndPoint(IPAddress.Parse("10.0.0.5"), 8443)),
        ],
        Probe = new LoadBalancerProbe { Port = 80 },
        Distribution = LoadBalancerDistribution.SourceIP,
        Acl =
        [
            new AclRule { Order = 1, RemoteSubnet = "10.0.0.0/8" },
            new AclRule { Order = 2, Action = AclAction.Deny, RemoteSubnet = "0.0.0.0/0" },
        ],
        IdleTimeout = TimeSpan.FromMinutes(10),
        ProxyProtocol = ProxyProtocolVersion.V1,
    };

    [Fact]
    public void Equal_values_in_distinct_lists_are_equivalent()
    {
        var a = Spec();
        var b = Spec();
        Assert.NotSame(a.Backends, b.Backends);
        Assert.True(a.IsEquivalentTo(b));
        Assert.True(b.IsEquivalentTo(a));
    }

    [Fact]
    public void Acl_rule_order_in_the_list_does_not_matter()
    {
        var a = Spec();
        var b = a with { Acl = a.Acl.Reverse().ToList() };
        Assert.True(a.IsEquivalentTo(b));
    }

    public static TheoryData<string, Func<ListenerSpec, ListenerSpec>> Changes => new()
    {
        { "key address", s => s with { Key = s.Key with { Address = IPAddress.Parse("127.100.0.2") } } },
        { "key protocol", s => s with { Key = s.Key with { Protocol = TransportProtocol.Udp } } },
        { "key port", s => s with { Key = s.Key with { Port = 444 } } },
        { "service", s => s with { ServiceName = "other" } },
        { "vip", s => s with { VirtualIpName = "Vip2" } },
        { "set", s => s with { LoadBalancedSetName = null } },
        { "backend target", s => s with { Backends = [s.Backends[0], s.Backends[1] with { Target = new IPEndPoint(IPAddress.Parse("10.0.0.5"), 9443) }] } },
        { "backend probe target", s => s with { Backends = [s.Backends[0] with { ProbeTarget = null }, s.Backends[1]] } },
        { "backend removed", s => s with { Backends = [s.Backends[0]] } },
        { "backend order", s => s with { Backends = [s.Backends[1], s.Backends[0]] } },
        { "probe", s => s with { Probe = s.Probe! with { IntervalInSeconds = 5 } } },
        { "no probe", s => s with { Probe = null } },
        { "distribution", s => s with { Distribution = LoadBalancerDistribution.None } },
        { "acl", s => s with { Acl = [s.Acl[0]] } },
        { "acl rule", s => s with { Acl = [s.Acl[0] with { RemoteSubnet = "11.0.0.0/8" }, s.Acl[1]] } },
        { "idle timeout", s => s with { IdleTimeout = TimeSpan.FromMinutes(4) } },
        { "proxy protocol", s => s with { ProxyProtocol = ProxyProtocolVersion.V2 } },
    };

    [Theory]
    [MemberData(nameof(Changes))]
    public void Any_change_breaks_equivalence(string what, Func<ListenerSpec, ListenerSpec> change)
    {
        Assert.False(Spec().IsEquivalentTo(change(Spec())), what);
    }

    [Fact]
    public void Compiled_acl_follows_the_rules()
    {
        var acl = AclCompiler.Compile(Spec().Acl);
        Assert.True(acl.IsAllowed(IPAddress.Parse("10.9.9.9")));
        Assert.False(acl.IsAllowed(IPAddress.Parse("11.0.0.1")));
        Assert.Same(AclEvaluator.AllowAll, AclCompiler.Compile((Spec() with { Acl = [] }).Acl));
    }

    [Fact]
    public void Listener_key_text_names_protocol_and_endpoint()
    {
        Assert.Equal("tcp/127.100.0.1:443", Spec().Key.ToString());
        Assert.Equal("udp/[::1]:53", new ListenerKey(IPAddress.IPv6Loopback, TransportProtocol.Udp, 53).ToString());
    }

    [Fact]
    public void Empty_state_is_generation_zero_without_listeners()
    {
        Assert.Equal(0, DesiredState.Empty.Generation);
        Assert.Empty(DesiredState.Empty.Listeners);
        Assert.Equal(TimeSpan.FromMinutes(4), new ListenerSpec
        {
            Key = Spec().Key, ServiceName = "s", VirtualIpName = "v", Backends = [],
        }.IdleTimeout);
    }
}
