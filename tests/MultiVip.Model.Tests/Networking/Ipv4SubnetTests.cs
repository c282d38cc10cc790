using System.Net;
using MultiVip.Model.Errors;
using MultiVip.Model.Networking;

namespace MultiVip.Model.Tests.Networking;

public class Ipv4SubnetTests
{
    private static uint A(string text) => Ipv4.TryParseStrict(text, out var v) ? v : throw new ArgumentException(text);

    [Theory]
    [InlineData("10.0.0.0/8", "10.0.0.0", 8, "10.0.0.0", "10.255.255.255")]
    [InlineData("192.168.1.0/24", "192.168.1.0", 24, "192.168.1.0", "192.168.1.255")]
    [InlineData("203.0.113.7/32", "203.0.113.7", 32, "203.0.113.7", "203.0.113.7")]
    [InlineData("203.0.113.7", "203.0.113.7", 32, "203.0.113.7", "203.0.113.7")]
    [InlineData("0.0.0.0/0", "0.0.0.0", 0, "0.0.0.0", "255.255.255.255")]
    [InlineData(" 172.16.0.0/12 ", "172.16.0.0", 12, "172.16.0.0", "172.31.255.255")]
    public void Parses_cidrs(string text, string network, int prefix, string first, string last)
    {
        Assert.True(Ipv4Subnet.TryParse(text, out var subnet));
        Assert.Equal(A(network), subnet.Network);
        Assert.Equal(prefix, subnet.PrefixLength);
        Assert.Equal(A(first), subnet.First);
        Assert.Equal(A(last), subnet.Last);
        Assert.Equal(subnet, Ipv4Subnet.Parse(text));
        Assert.Equal($"{network}/{prefix}", subnet.ToString());
    }

    [Theory]
    [InlineData("10.0.0.1/8")]
    [InlineData("192.168.1.1/24")]
    [InlineData("0.0.0.1/0")]
    [InlineData("10.0.0.0/33")]
    [InlineData("10.0.0.0/-1")]
    [InlineData("10.0.0.0/")]
    [InlineData("10.0.0.0/100")]
    [InlineData("10.0.0.0/+8")]
    [InlineData("10.0.0.0/ 8")]
    [InlineData("10.0.0.0/8/8")]
    [InlineData("/8")]
    [InlineData("10/8")]
    [InlineData("10.0/16")]
    [InlineData("010.0.0.0/8")]
    [InlineData("2001:db8::/32")]
    [InlineData("::ffff:10.0.0.0/104")]
    [InlineData("garbage")]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(null)]
    public void Rejects_bad_text(string? text)
    {
        Assert.False(Ipv4Subnet.TryParse(text, out var subnet));
        Assert.Equal(default, subnet);
    }

    [Fact]
    public void Parse_throws_BadRequest_with_the_message() => AssertError.Throws(
        ErrorCode.BadRequest,
        "'10.0.0.1/8' is not a valid subnet. Write it as address/prefix, for example 10.0.0.0/8, 203.0.113.7/32 or 2001:db8::/32.",
        () => Ipv4Subnet.Parse("10.0.0.1/8"));

    [Fact]
    public void Contains_checks_the_prefix()
    {
        var subnet = Ipv4Subnet.Parse("10.1.0.0/16");
        Assert.True(subnet.Contains(A("10.1.0.0")));
        Assert.True(subnet.Contains(A("10.1.255.255")));
        Assert.False(subnet.Contains(A("10.2.0.0")));
        Assert.False(subnet.Contains(A("10.0.255.255")));
        Assert.True(subnet.Contains(IPAddress.Parse("10.1.2.3")));
        Assert.True(subnet.Contains(IPAddress.Parse("::ffff:10.1.2.3")));
        Assert.False(subnet.Contains(IPAddress.Parse("2001:db8::1")));
    }

    [Fact]
    public void Slash_zero_contains_everything_and_slash_32_only_itself()
    {
        var all = Ipv4Subnet.Parse("0.0.0.0/0");
        Assert.True(all.Contains(0u));
        Assert.True(all.Contains(uint.MaxValue));
        var one = Ipv4Subnet.Parse("203.0.113.7/32");
        Assert.True(one.Contains(A("203.0.113.7")));
        Assert.False(one.Contains(A("203.0.113.6")));
        Assert.False(one.Contains(A("203.0.113.8")));
        Assert.Equal(uint.MaxValue, one.Mask);
        Assert.Equal(0u, all.Mask);
    }

    [Fact]
    public void Ipv4_helpers_round_trip()
    {
        Assert.Equal(0x0A000001u, A("10.0.0.1"));
        Assert.Equal("10.0.0.1", Ipv4.ToText(0x0A000001u));
        Assert.Equal(IPAddress.Parse("192.0.2.1"), Ipv4.ToAddress(A("192.0.2.1")));
        Assert.True(Ipv4.TryToUInt32(IPAddress.Parse("::ffff:192.0.2.1"), out var mapped));
        Assert.Equal(A("192.0.2.1"), mapped);
        Assert.False(Ipv4.TryToUInt32(IPAddress.IPv6Loopback, out _));
    }
}
