using System.Net;
using MultiVip.Model.Errors;
using MultiVip.Model.Networking;
using MultiVip.Model.Services;

namespace MultiVip.Model.Tests.Networking;

public class AclEvaluatorTests
{
    private static AclRule Permit(int order, string subnet) => new() { Order = order, Action = AclAction.Permit, RemoteSubnet = subnet };

    private static AclRule Deny(int order, string subnet) => new() { Order = order, Action = AclAction.Deny, RemoteSubnet = subnet };

    private static bool Allowed(AclEvaluator acl, string client) => acl.IsAllowed(IPAddress.Parse(client));

    [Fact]
    public void No_rules_allow_everyone()
    {
        Assert.True(AclEvaluator.AllowAll.IsEmpty);
        Assert.True(Allowed(AclEvaluator.AllowAll, "203.0.113.7"));
        Assert.True(Allowed(AclEvaluator.AllowAll, "2001:db8::1"));
        Assert.True(Allowed(new AclEvaluator([]), "1.2.3.4"));
    }

    [Fact]
    public void Any_permit_makes_an_allow_list()
    {
        var acl = new AclEvaluator([Permit(100, "10.0.0.0/8"), Deny(200, "192.168.0.0/16")]);
        Assert.False(acl.IsEmpty);
        Assert.True(Allowed(acl, "10.1.2.3"));
        Assert.False(Allowed(acl, "192.168.1.1"));
        Assert.False(Allowed(acl, "203.0.113.7"));
    }

    [Fact]
    public void All_deny_makes_a_deny_list()
    {
        var acl = new AclEvaluator([Deny(100, "10.0.0.0/8"), Deny(200, "192.168.0.0/16")]);
        Assert.False(Allowed(acl, "10.1.2.3"));
        Assert.False(Allowed(acl, "192.168.1.1"));
        Assert.True(Allowed(acl, "203.0.113.7"));
    }

    [Fact]
    public void First_match_by_ascending_order_wins_whatever_the_list_order()
    {
        // Deny one host, permit its subnet: the host stays out only if the deny comes first by order.
        var denyFirst = new AclEvaluator([Permit(200, "10.0.0.0/8"), Deny(100, "10.0.0.5/32")]);
        Assert.False(Allowed(denyFirst, "10.0.0.5"));
        Assert.True(Allowed(denyFirst, "10.0.0.6"));

        var permitFirst = new AclEvaluator([Deny(200, "10.0.0.5/32"), Permit(100, "10.0.0.0/8")]);
        Assert.True(Allowed(permitFirst, "10.0.0.5"));
    }

    [Fact]
    public void Ipv6_clients_match_no_rule()
    {
        Assert.False(Allowed(new AclEvaluator([Permit(1, "0.0.0.0/0")]), "2001:db8::1"));
        Assert.True(Allowed(new AclEvaluator([Deny(1, "0.0.0.0/0")]), "2001:db8::1"));
    }

    [Fact]
    public void Ipv4_mapped_ipv6_clients_are_matched_as_ipv4()
    {
        var acl = new AclEvaluator([Permit(1, "10.0.0.0/8")]);
        Assert.True(Allowed(acl, "::ffff:10.0.0.1"));
        Assert.False(Allowed(acl, "::ffff:11.0.0.1"));
    }

    [Fact]
    public void A_bad_subnet_is_rejected_when_compiling() =>
        AssertError.Throws(ErrorCode.BadRequest, Messages.InvalidCidr("10.0.0.1/8"), () => _ = new AclEvaluator([Permit(1, "10.0.0.1/8")]));
}
