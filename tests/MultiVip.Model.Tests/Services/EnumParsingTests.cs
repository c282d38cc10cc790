using MultiVip.Model.Errors;
using MultiVip.Model.Services;

namespace MultiVip.Model.Tests.Services;

public class EnumParsingTests
{
    [Theory]
    [InlineData("tcp", TransportProtocol.Tcp)]
    [InlineData("TCP", TransportProtocol.Tcp)]
    [InlineData(" Udp ", TransportProtocol.Udp)]
    public void ParseProtocol_accepts_any_case(string text, TransportProtocol expected) =>
        Assert.Equal(expected, EnumParsing.ParseProtocol(text));

    [Fact]
    public void ParseProtocol_rejects_typos_with_the_domain_message() => AssertError.Throws(
        ErrorCode.BadRequest, "'tpc' is not an endpoint protocol. Use tcp or udp.", () => EnumParsing.ParseProtocol("tpc"));

    [Theory]
    [InlineData("tcp", ProbeProtocol.Tcp)]
    [InlineData("HTTP", ProbeProtocol.Http)]
    [InlineData("Http", ProbeProtocol.Http)]
    public void ParseProbeProtocol_accepts_any_case(string text, ProbeProtocol expected) =>
        Assert.Equal(expected, EnumParsing.ParseProbeProtocol(text));

    [Theory]
    [InlineData("udp")]
    [InlineData("https")]
    public void ParseProbeProtocol_rejects_others(string text) => AssertError.Throws(
        ErrorCode.BadRequest, $"'{text}' is not a probe protocol. Use tcp or http.", () => EnumParsing.ParseProbeProtocol(text));

    [Theory]
    [InlineData("none", LoadBalancerDistribution.None)]
    [InlineData("", LoadBalancerDistribution.None)]
    [InlineData("sourceIP", LoadBalancerDistribution.SourceIP)]
    [InlineData("SOURCEIP", LoadBalancerDistribution.SourceIP)]
    [InlineData("sourceipprotocol", LoadBalancerDistribution.SourceIPProtocol)]
    [InlineData("SourceIPProtocol", LoadBalancerDistribution.SourceIPProtocol)]
    public void ParseDistribution_accepts_any_case(string text, LoadBalancerDistribution expected) =>
        Assert.Equal(expected, EnumParsing.ParseDistribution(text));

    [Fact]
    public void ParseDistribution_rejects_others() => AssertError.Throws(
        ErrorCode.BadRequest,
        "'source' is not a load balancer distribution. Use none (5-tuple), sourceIP (2-tuple) or sourceIPProtocol (3-tuple).",
        () => EnumParsing.ParseDistribution("source"));

    [Theory]
    [InlineData("permit", AclAction.Permit)]
    [InlineData("PERMIT", AclAction.Permit)]
    [InlineData("Deny", AclAction.Deny)]
    public void ParseAclAction_accepts_any_case(string text, AclAction expected) =>
        Assert.Equal(expected, EnumParsing.ParseAclAction(text));

    [Fact]
    public void ParseAclAction_rejects_others() => AssertError.Throws(
        ErrorCode.BadRequest, "'allow' is not an ACL action. Use permit or deny.", () => EnumParsing.ParseAclAction("allow"));

    [Theory]
    [InlineData("none", ProxyProtocolVersion.None)]
    [InlineData("off", ProxyProtocolVersion.None)]
    [InlineData("", ProxyProtocolVersion.None)]
    [InlineData("V1", ProxyProtocolVersion.V1)]
    [InlineData("1", ProxyProtocolVersion.V1)]
    [InlineData("v2", ProxyProtocolVersion.V2)]
    [InlineData("2", ProxyProtocolVersion.V2)]
    public void ParseProxyProtocol_accepts_spellings(string text, ProxyProtocolVersion expected) =>
        Assert.Equal(expected, EnumParsing.ParseProxyProtocol(text));

    [Fact]
    public void ParseProxyProtocol_rejects_others() => AssertError.Throws(
        ErrorCode.BadRequest, "'v3' is not a PROXY protocol version. Use none, v1 or v2.", () => EnumParsing.ParseProxyProtocol("v3"));

    [Fact]
    public void ToWire_spellings_parse_back()
    {
        foreach (var p in Enum.GetValues<TransportProtocol>())
        {
            Assert.Equal(p, EnumParsing.ParseProtocol(p.ToWire()));
        }

        foreach (var p in Enum.GetValues<ProbeProtocol>())
        {
            Assert.Equal(p, EnumParsing.ParseProbeProtocol(p.ToWire()));
        }

        foreach (var d in Enum.GetValues<LoadBalancerDistribution>())
        {
            Assert.Equal(d, EnumParsing.ParseDistribution(d.ToWire()));
        }

        foreach (var a in Enum.GetValues<AclAction>())
        {
            Assert.Equal(a, EnumParsing.ParseAclAction(a.ToWire()));
        }
    }

    [Fact]
    public void ToWire_uses_the_Azure_spellings()
    {
        Assert.Equal("tcp", TransportProtocol.Tcp.ToWire());
        Assert.Equal("udp", TransportProtocol.Udp.ToWire());
        Assert.Equal("http", ProbeProtocol.Http.ToWire());
        Assert.Equal("none", LoadBalancerDistribution.None.ToWire());
        Assert.Equal("sourceIP", LoadBalancerDistribution.SourceIP.ToWire());
        Assert.Equal("sourceIPProtocol", LoadBalancerDistribution.SourceIPProtocol.ToWire());
        Assert.Equal("deny", AclAction.Deny.ToWire());
    }
}
