using System.Net;
using System.Net.Sockets;
using MultiVip.Model.Errors;
using MultiVip.Model.Networking;
using MultiVip.Model.Services;

namespace MultiVip.Model.Tests.Networking;

/// <summary>Pools, subnets and ACLs of IPv6 addresses, with the same arithmetic as IPv4.</summary>
public class Ipv6ArithmeticTests
{
    private static IpNumber A(string text) => IpNumber.TryParse(text, out var v) ? v : throw new ArgumentException(text);

    [Theory]
    [InlineData("2001:db8:100::/120", "2001:db8:100::1", "2001:db8:100::ff", 255)]
    [InlineData("2001:db8:100::/127", "2001:db8:100::", "2001:db8:100::1", 2)]
    [InlineData("2001:db8:100::5/128", "2001:db8:100::5", "2001:db8:100::5", 1)]
    [InlineData("2001:db8::10-2001:db8::20", "2001:db8::10", "2001:db8::20", 17)]
    public void Parses_ipv6_pools(string text, string first, string last, int count)
    {
        var range = AddressRange.Parse(text);
        Assert.Equal(AddressFamily.InterNetworkV6, range.Family);
        Assert.Equal(A(first), range.First);
        Assert.Equal(A(last), range.Last);
        Assert.Equal((UInt128)count, range.Count);
    }

    [Theory]
    [InlineData("2001:db8::1/120")]          // host bits set
    [InlineData("2001:db8::/129")]
    [InlineData("2001:db8::20-2001:db8::10")]
    [InlineData("10.0.0.1-2001:db8::1")]     // one family per range
    [InlineData("fe80::1%eth0/128")]
    public void Malformed_ipv6_pools_are_BadRequest(string text) =>
        Assert.Equal(ErrorCode.BadRequest, Assert.Throws<MultiVipException>(() => AddressRange.Parse(text)).Code);

    [Fact]
    public void A_pool_of_both_families_allocates_each_family_from_its_own_ranges()
    {
        var pool = AddressPool.Parse(["10.0.0.1-10.0.0.2", "2001:db8:100::/126"]);
        Assert.True(pool.Has(AddressFamily.InterNetwork));
        Assert.True(pool.Has(AddressFamily.InterNetworkV6));
        Assert.Equal(A("10.0.0.1"), pool.NextFree(AddressFamily.InterNetwork, null, _ => false));
        Assert.Equal(A("2001:db8:100::1"), pool.NextFree(AddressFamily.InterNetworkV6, null, _ => false));
        Assert.Equal(A("2001:db8:100::3"), pool.NextFree(AddressFamily.InterNetworkV6, A("2001:db8:100::2"), _ => false));
        Assert.Equal(A("2001:db8:100::1"), pool.NextFree(AddressFamily.InterNetworkV6, A("2001:db8:100::3"), _ => false)); // wraps
        Assert.Null(pool.NextFree(AddressFamily.InterNetworkV6, null, a => a.IsIpv6));
        Assert.Equal((UInt128)5, pool.Size);
    }

    [Fact]
    public void A_huge_ipv6_pool_allocates_without_walking_it()
    {
        var pool = AddressPool.Parse(["2001:db8::/64"]);
        Assert.Equal(UInt128.One << 64, pool.Size + 1); // the subnet-router anycast address is left out
        Assert.Equal(A("2001:db8::ffff:ffff:ffff:ffff"), pool.NextFree(AddressFamily.InterNetworkV6, A("2001:db8::ffff:ffff:ffff:fffe"), _ => false));
    }

    [Fact]
    public void Ipv4_and_ipv6_ranges_never_overlap_each_other()
    {
        var pool = AddressPool.Parse(["0.0.0.0/0", "::/0"]);
        Assert.Equal(2, pool.Ranges.Count);
    }

    [Theory]
    [InlineData("2001:db8::/32", "2001:db8:ffff::1", true)]
    [InlineData("2001:db8::/32", "2001:db9::1", false)]
    [InlineData("2001:db8::7/128", "2001:db8::7", true)]
    [InlineData("::/0", "::1", true)]
    [InlineData("::/0", "10.0.0.1", false)]            // a family never matches the other
    [InlineData("10.0.0.0/8", "::ffff:10.1.2.3", true)] // an IPv4-mapped client is IPv4
    public void Subnets_contain_addresses_of_their_own_family(string subnet, string address, bool contains) =>
        Assert.Equal(contains, IpSubnet.Parse(subnet).Contains(IPAddress.Parse(address)));

    [Fact]
    public void Acl_rules_of_both_families_apply_to_clients_of_their_family()
    {
        var acl = new AclEvaluator(
        [
            new AclRule { Order = 1, Action = AclAction.Permit, RemoteSubnet = "2001:db8:1::/48" },
            new AclRule { Order = 2, Action = AclAction.Permit, RemoteSubnet = "198.51.100.0/24" },
        ]);
        Assert.True(acl.IsAllowed(IPAddress.Parse("2001:db8:1:2::3")));
        Assert.False(acl.IsAllowed(IPAddress.Parse("2001:db8:2::3")));
        Assert.True(acl.IsAllowed(IPAddress.Parse("198.51.100.9")));
        Assert.False(acl.IsAllowed(IPAddress.Parse("203.0.113.9")));
    }

    [Theory]
    [InlineData("100:permit:2001:db8::/32:office", "2001:db8::/32", "office")]
    [InlineData("100:deny:2001:db8::7/128", "2001:db8::7/128", null)]
    [InlineData("100:permit:10.0.0.0/8:a:b", "10.0.0.0/8", "a:b")]
    public void Acl_rules_written_with_colons_parse(string text, string subnet, string? description)
    {
        var rule = MultiVip.Model.Validation.EndpointRules.ParseRule(text);
        Assert.Equal(subnet, rule.RemoteSubnet);
        Assert.Equal(description, rule.Description);
    }

    [Theory]
    [InlineData(null, VipAddressFamily.IPv4)]
    [InlineData("ipv4", VipAddressFamily.IPv4)]
    [InlineData("IPv6", VipAddressFamily.IPv6)]
    public void Address_families_parse(string? text, VipAddressFamily family) => Assert.Equal(family, VipAddressFamilies.Parse(text));

    [Fact]
    public void An_unknown_address_family_says_what_is_allowed() => Assert.Equal(
        "'ipv5' is not an address family. Use IPv4 or IPv6 (--address-family / -AddressFamily).",
        Assert.Throws<MultiVipException>(() => VipAddressFamilies.Parse("ipv5")).Message);
}
