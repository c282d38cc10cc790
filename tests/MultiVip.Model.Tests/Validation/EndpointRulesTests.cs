using MultiVip.Model.Errors;
using MultiVip.Model.Services;
using MultiVip.Model.Validation;

namespace MultiVip.Model.Tests.Validation;

public class EndpointRulesTests
{
    private static readonly ServiceLimits Limits = ServiceLimits.Default;

    private static InputEndpoint InSet(LoadBalancerProbe? probe = null) =>
        Build.Endpoint("web", 80, set: "lb1") with { Probe = probe };

    private static void Valid(InputEndpoint e) => EndpointRules.Validate(e, Limits);

    [Theory]
    [InlineData(1)]
    [InlineData(443)]
    [InlineData(65535)]
    public void Ports_in_range_are_accepted(int port)
    {
        EndpointRules.Port(port);
        Valid(Build.Endpoint("e", port, port));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(65536)]
    [InlineData(int.MaxValue)]
    public void Port_out_of_range_uses_the_Azure_message(int port) =>
        AssertError.Throws(ErrorCode.BadRequest, "Ports must be in the range of 1 - 65535", () => EndpointRules.Port(port));

    [Fact]
    public void Local_and_public_port_are_both_checked()
    {
        AssertError.Throws(ErrorCode.BadRequest, Messages.PortRange, () => Valid(Build.Endpoint("e", 0, 80)));
        AssertError.Throws(ErrorCode.BadRequest, Messages.PortRange, () => Valid(Build.Endpoint("e", 80, 70000)));
    }

    [Fact]
    public void Probe_port_is_checked() => AssertError.Throws(
        ErrorCode.BadRequest, Messages.PortRange, () => Valid(InSet(Build.TcpProbe(0))));

    [Fact]
    public void Tcp_probe_with_a_path_is_rejected() => AssertError.Throws(
        ErrorCode.BadRequest, "ProbePath not valid with tcp",
        () => Valid(InSet(Build.TcpProbe() with { Path = "/health" })));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void Http_probe_without_a_path_is_rejected(string? path) => AssertError.Throws(
        ErrorCode.BadRequest, "ProbePath is required for http",
        () => Valid(InSet(new LoadBalancerProbe { Protocol = ProbeProtocol.Http, Port = 80, Path = path })));

    [Theory]
    [InlineData("health")]
    [InlineData("/he alth")]
    [InlineData("/health\n")]
    [InlineData("/a\tb")]
    public void Http_probe_with_a_bad_path_is_rejected(string path)
    {
        var ex = AssertError.Throws(ErrorCode.BadRequest,
            () => Valid(InSet(new LoadBalancerProbe { Protocol = ProbeProtocol.Http, Port = 80, Path = path })));
        Assert.Contains("is not a valid HTTP path", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Http_probe_path_longer_than_1024_is_rejected()
    {
        var ok = "/" + new string('a', 1023);
        Valid(InSet(new LoadBalancerProbe { Protocol = ProbeProtocol.Http, Port = 80, Path = ok }));
        AssertError.Throws(ErrorCode.BadRequest,
            () => Valid(InSet(new LoadBalancerProbe { Protocol = ProbeProtocol.Http, Port = 80, Path = ok + "a" })));
    }

    [Fact]
    public void Http_probe_with_a_good_path_is_accepted() =>
        Valid(InSet(new LoadBalancerProbe { Protocol = ProbeProtocol.Http, Port = 8080, Path = "/health?x=1" }));

    [Theory]
    [InlineData(5, true)]
    [InlineData(4, false)]
    [InlineData(0, false)]
    [InlineData(3600, true)]
    [InlineData(3601, false)]
    public void Probe_interval_minimum_is_5(int interval, bool ok)
    {
        var probe = Build.TcpProbe() with { IntervalInSeconds = interval };
        if (ok)
        {
            Valid(InSet(probe));
        }
        else
        {
            AssertError.Throws(ErrorCode.BadRequest, Messages.ProbeInterval(interval), () => Valid(InSet(probe)));
        }
    }

    [Theory]
    [InlineData(11, true)]
    [InlineData(10, false)]
    [InlineData(3600, true)]
    [InlineData(3601, false)]
    public void Probe_timeout_minimum_is_11(int timeout, bool ok)
    {
        var probe = Build.TcpProbe() with { TimeoutInSeconds = timeout };
        if (ok)
        {
            Valid(InSet(probe));
        }
        else
        {
            AssertError.Throws(ErrorCode.BadRequest,
                $"The probe timeout must be at least 11 seconds and at most 3600 seconds (got {timeout}).", () => Valid(InSet(probe)));
        }
    }

    [Fact]
    public void Probe_without_a_load_balanced_set_is_rejected() => AssertError.Throws(
        ErrorCode.BadRequest, Messages.ProbeWithoutLoadBalancedSet,
        () => Valid(Build.Endpoint("web", 80) with { Probe = Build.TcpProbe() }));

    [Theory]
    [InlineData(4, true)]
    [InlineData(30, true)]
    [InlineData(3, false)]
    [InlineData(31, false)]
    [InlineData(0, false)]
    public void Idle_timeout_is_4_to_30(int minutes, bool ok)
    {
        var e = Build.Endpoint("web", 80) with { IdleTimeoutInMinutes = minutes };
        if (ok)
        {
            Valid(e);
        }
        else
        {
            AssertError.Throws(ErrorCode.BadRequest,
                $"The idle timeout must be between 4 and 30 minutes (got {minutes}).", () => Valid(e));
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("-web")]
    [InlineData("web endpoint")]
    public void Endpoint_name_is_checked(string name) =>
        AssertError.Throws(ErrorCode.BadRequest, () => Valid(Build.Endpoint(name, 80)));

    [Fact]
    public void Load_balanced_set_name_is_checked()
    {
        var ex = AssertError.Throws(ErrorCode.BadRequest, () => Valid(Build.Endpoint("web", 80, set: "lb set")));
        Assert.Contains("load-balanced set", ex.Message, StringComparison.Ordinal);
    }

    private static AclRule Rule(int order, string subnet = "10.0.0.0/8", AclAction action = AclAction.Permit, string? description = null) =>
        new() { Order = order, Action = action, RemoteSubnet = subnet, Description = description };

    [Fact]
    public void Acl_count_limit_is_enforced_and_configurable()
    {
        var fifty = Enumerable.Range(0, 50).Select(i => Rule(i)).ToList();
        EndpointRules.Acl(fifty, Limits);
        var fiftyOne = fifty.Append(Rule(50)).ToList();
        AssertError.Throws(ErrorCode.BadRequest,
            "An endpoint can have at most 50 ACL rules (got 51). Merge rules by using wider subnets.",
            () => EndpointRules.Acl(fiftyOne, Limits));
        AssertError.Throws(ErrorCode.BadRequest, Messages.AclRuleCount(2, 3),
            () => EndpointRules.Acl(fifty.Take(3).ToList(), Limits with { MaxAclRulesPerEndpoint = 2 }));
    }

    [Fact]
    public void Acl_duplicate_order_is_rejected() => AssertError.Throws(
        ErrorCode.BadRequest, "Two ACL rules have order 100. Give every rule of an endpoint a distinct order.",
        () => EndpointRules.Acl([Rule(100), Rule(200, "192.168.0.0/16"), Rule(100, "172.16.0.0/12")], Limits));

    [Theory]
    [InlineData(-1)]
    [InlineData(65536)]
    public void Acl_order_out_of_range_is_rejected(int order) => AssertError.Throws(
        ErrorCode.BadRequest, Messages.AclOrder(order), () => EndpointRules.Acl([Rule(order)], Limits));

    [Fact]
    public void Acl_order_bounds_are_accepted() => EndpointRules.Acl([Rule(0), Rule(65535, "1.2.3.4/32")], Limits);

    [Theory]
    [InlineData("10.0.0.1/8")]
    [InlineData("10.0.0.0/33")]
    [InlineData("10.0/8")]
    [InlineData("2001:db8::1/32")]
    [InlineData("2001:db8::/129")]
    [InlineData("any")]
    public void Acl_bad_cidr_is_rejected(string subnet) => AssertError.Throws(
        ErrorCode.BadRequest, Messages.InvalidCidr(subnet), () => EndpointRules.Acl([Rule(1, subnet)], Limits));

    [Fact]
    public void Acl_description_length_is_limited()
    {
        EndpointRules.Acl([Rule(1, description: new string('d', 256))], Limits);
        AssertError.Throws(ErrorCode.BadRequest, "An ACL rule description can be at most 256 characters long.",
            () => EndpointRules.Acl([Rule(1, description: new string('d', 257))], Limits));
    }

    [Fact]
    public void Acl_description_with_control_characters_is_rejected()
    {
        var ex = AssertError.Throws(ErrorCode.BadRequest,
            () => EndpointRules.Acl([Rule(1, description: "line\nbreak")], Limits));
        Assert.Contains("control characters", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Endpoint_validation_checks_its_acl() => AssertError.Throws(
        ErrorCode.BadRequest, Messages.InvalidCidr("nope"),
        () => Valid(Build.Endpoint("web", 80) with { Acl = [Rule(1, "nope")] }));

    [Theory]
    [InlineData("100:permit:10.0.0.0/8:office", 100, AclAction.Permit, "10.0.0.0/8", "office")]
    [InlineData("5:DENY:203.0.113.7/32", 5, AclAction.Deny, "203.0.113.7/32", null)]
    [InlineData("7:deny:203.0.113.7", 7, AclAction.Deny, "203.0.113.7", null)]
    [InlineData("1:permit: 0.0.0.0/0 :a:b c", 1, AclAction.Permit, "0.0.0.0/0", "a:b c")]
    public void ParseRule_accepts_the_compact_form(string text, int order, AclAction action, string subnet, string? description)
    {
        var rule = EndpointRules.ParseRule(text);
        Assert.Equal(new AclRule { Order = order, Action = action, RemoteSubnet = subnet, Description = description }, rule);
    }

    [Theory]
    [InlineData("")]
    [InlineData("100")]
    [InlineData("100:permit")]
    [InlineData("x:permit:10.0.0.0/8")]
    [InlineData("permit:100:10.0.0.0/8")]
    public void ParseRule_rejects_malformed_text(string text) => AssertError.Throws(
        ErrorCode.BadRequest,
        $"'{text}' is not an ACL rule. Write ORDER:permit|deny:CIDR[:description], for example 100:permit:10.0.0.0/8:office.",
        () => EndpointRules.ParseRule(text));

    [Fact]
    public void ParseRule_rejects_an_unknown_action() => AssertError.Throws(
        ErrorCode.BadRequest, Messages.AclAction("allow"), () => EndpointRules.ParseRule("100:allow:10.0.0.0/8"));

    [Theory]
    [InlineData("100:permit:10.0.0.1/8", "10.0.0.1/8")]
    [InlineData("100:permit:10.0.0.0/40", "10.0.0.0/40")]
    [InlineData("100:permit:", "")]
    public void ParseRule_rejects_a_bad_subnet(string text, string subnet) => AssertError.Throws(
        ErrorCode.BadRequest, Messages.InvalidCidr(subnet), () => EndpointRules.ParseRule(text));
}
