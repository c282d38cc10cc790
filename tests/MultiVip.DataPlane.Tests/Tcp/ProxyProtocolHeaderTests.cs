using System.Net;
using System.Text;
using MultiVip.DataPlane.Tcp;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Tests.Tcp;

public sealed class ProxyProtocolHeaderTests
{
    private static readonly IPEndPoint Client = new(IPAddress.Parse("203.0.113.7"), 51234);
    private static readonly IPEndPoint Vip = new(IPAddress.Parse("127.100.0.9"), 443);

    [Fact]
    public void V1_is_one_text_line()
    {
        var header = ProxyProtocolHeader.Build(ProxyProtocolVersion.V1, Client, Vip);
        Assert.Equal("PROXY TCP4 203.0.113.7 127.100.0.9 51234 443\r\n", Encoding.ASCII.GetString(header));
    }

    [Fact]
    public void V2_ipv4_has_signature_command_family_and_addresses()
    {
        var header = ProxyProtocolHeader.Build(ProxyProtocolVersion.V2, Client, Vip);
        Assert.Equal(28, header.Length);
        Assert.True(header.AsSpan(0, 12).SequenceEqual(ProxyProtocolHeader.V2Signature));
        Assert.Equal(0x21, header[12]);
        Assert.Equal(0x11, header[13]);
        Assert.Equal(new byte[] { 0, 12 }, header[14..16]);
        Assert.Equal(new byte[] { 203, 0, 113, 7 }, header[16..20]);
        Assert.Equal(new byte[] { 127, 100, 0, 9 }, header[20..24]);
        Assert.Equal(new byte[] { 0xC8, 0x22, 0x01, 0xBB }, header[24..28]);
    }

    [Fact]
    public void Mapped_ipv4_is_sent_as_ipv4_and_ipv6_as_tcp6()
    {
        var mapped = new IPEndPoint(Client.Address.MapToIPv6(), Client.Port);
        Assert.StartsWith("PROXY TCP4 203.0.113.7 ", Encoding.ASCII.GetString(ProxyProtocolHeader.Build(ProxyProtocolVersion.V1, mapped, Vip)));

        var v6 = new IPEndPoint(IPAddress.Parse("2001:db8::1"), 1000);
        var v6Vip = new IPEndPoint(IPAddress.Parse("2001:db8::2"), 443);
        Assert.Equal("PROXY TCP6 2001:db8::1 2001:db8::2 1000 443\r\n", Encoding.ASCII.GetString(ProxyProtocolHeader.Build(ProxyProtocolVersion.V1, v6, v6Vip)));
        var binary = ProxyProtocolHeader.Build(ProxyProtocolVersion.V2, v6, v6Vip);
        Assert.Equal(16 + 36, binary.Length);
        Assert.Equal(0x21, binary[13]);
    }
}
