using MultiVip.Model.Errors;
using MultiVip.Model.Networking;

namespace MultiVip.Model.Tests.Networking;

public class AddressRangeTests
{
    private static uint A(string text) => Ipv4.TryParseStrict(text, out var v) ? v : throw new ArgumentException(text);

    [Theory]
    [InlineData("127.100.0.0/16", "127.100.0.1", "127.100.255.254", 65534UL)]
    [InlineData("10.0.0.0/30", "10.0.0.1", "10.0.0.2", 2UL)]
    [InlineData("10.0.0.0/31", "10.0.0.0", "10.0.0.1", 2UL)]
    [InlineData("10.0.0.7/32", "10.0.0.7", "10.0.0.7", 1UL)]
    [InlineData("0.0.0.0/0", "0.0.0.1", "255.255.255.254", 4294967294UL)]
    [InlineData("127.100.0.10-127.100.0.20", "127.100.0.10", "127.100.0.20", 11UL)]
    [InlineData(" 10.0.0.5 - 10.0.0.5 ", "10.0.0.5", "10.0.0.5", 1UL)]
    [InlineData("10.0.0.250-10.0.1.4", "10.0.0.250", "10.0.1.4", 11UL)]
    public void Parses_cidrs_and_ranges(string text, string first, string last, ulong count)
    {
        var range = AddressRange.Parse(text);
        Assert.Equal(A(first), range.First);
        Assert.Equal(A(last), range.Last);
        Assert.Equal(count, range.Count);
    }

    [Theory]
    [InlineData("10.0.0.1")] // a bare address is not a pool spec
    [InlineData("10.0.0.1/24")]
    [InlineData("10.0.0.9-10.0.0.1")]
    [InlineData("10.0.0.1-")]
    [InlineData("-10.0.0.1")]
    [InlineData("10.0.0.1-10.0.0")]
    [InlineData("10.0.0.1-10.0.0.2-10.0.0.3")]
    [InlineData("10.0/16")]
    [InlineData("")]
    [InlineData("pool")]
    public void Malformed_is_BadRequest_with_the_message(string text) => AssertError.Throws(
        ErrorCode.BadRequest,
        $"'{text}' is not a valid address pool. Use a CIDR (127.100.0.0/16, 2001:db8:100::/120) or a range (127.100.0.10-127.100.0.200) of IPv4 or IPv6 addresses.",
        () => AddressRange.Parse(text));

    [Fact]
    public void Contains_and_text()
    {
        var range = AddressRange.Parse("10.0.0.10-10.0.0.20");
        Assert.True(range.Contains(A("10.0.0.10")));
        Assert.True(range.Contains(A("10.0.0.20")));
        Assert.False(range.Contains(A("10.0.0.9")));
        Assert.False(range.Contains(A("10.0.0.21")));
        Assert.Equal("10.0.0.10-10.0.0.20", range.ToString());
        Assert.Equal("10.0.0.7", AddressRange.Parse("10.0.0.7/32").ToString());
    }
}

public class AddressPoolTests
{
    private static uint A(string text) => Ipv4.TryParseStrict(text, out var v) ? v : throw new ArgumentException(text);

    private static AddressPool Pool(params string[] specs) => AddressPool.Parse(specs);

    [Fact]
    public void Default_pool_parses() => Assert.Equal(65534UL, Pool(AddressPool.DefaultPool).Size);

    [Theory]
    [InlineData("10.0.0.0/24", "10.0.0.128/25")]
    [InlineData("10.0.0.1-10.0.0.10", "10.0.0.10-10.0.0.20")]
    [InlineData("10.0.0.5-10.0.0.6", "10.0.0.0/24")]
    public void Overlapping_ranges_are_rejected(string a, string b)
    {
        var ex = AssertError.Throws(ErrorCode.BadRequest, () => Pool(a, b));
        Assert.Contains("overlap", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Adjacent_ranges_are_fine()
    {
        var pool = Pool("10.0.0.1-10.0.0.10", "10.0.0.11-10.0.0.20");
        Assert.Equal(20UL, pool.Size);
        Assert.Equal("10.0.0.1-10.0.0.10, 10.0.0.11-10.0.0.20", pool.ToString());
    }

    [Fact]
    public void An_empty_pool_is_rejected() => AssertError.Throws(ErrorCode.BadRequest, () => _ = new AddressPool([]));

    [Fact]
    public void Without_a_cursor_starts_at_the_first_address() =>
        Assert.Equal(A("10.0.0.1"), Pool("10.0.0.1-10.0.0.5").NextFree(null, _ => false));

    [Fact]
    public void Walks_on_from_the_cursor_rather_than_reusing_lower_addresses()
    {
        var pool = Pool("10.0.0.1-10.0.0.5");
        Assert.Equal(A("10.0.0.4"), pool.NextFree(A("10.0.0.3"), _ => false));
    }

    [Fact]
    public void Wraps_after_the_last_address()
    {
        var pool = Pool("10.0.0.1-10.0.0.5");
        Assert.Equal(A("10.0.0.1"), pool.NextFree(A("10.0.0.5"), _ => false));
        Assert.Equal(A("10.0.0.2"), pool.NextFree(A("10.0.0.4"), a => a == A("10.0.0.5") || a == A("10.0.0.1")));
    }

    [Fact]
    public void Skips_taken_addresses()
    {
        var pool = Pool("10.0.0.1-10.0.0.5");
        var taken = new HashSet<IpNumber> { A("10.0.0.2"), A("10.0.0.3") };
        Assert.Equal(A("10.0.0.4"), pool.NextFree(A("10.0.0.1"), taken.Contains));
    }

    [Fact]
    public void The_cursor_itself_is_tried_last()
    {
        var pool = Pool("10.0.0.1-10.0.0.3");
        var cursor = A("10.0.0.2");
        Assert.Equal(cursor, pool.NextFree(cursor, a => a != cursor));
    }

    [Fact]
    public void Returns_null_when_exhausted()
    {
        var pool = Pool("10.0.0.1-10.0.0.5", "10.0.1.0/31");
        Assert.Null(pool.NextFree(null, _ => true));
        Assert.Null(pool.NextFree(A("10.0.0.3"), _ => true));
    }

    [Fact]
    public void Walks_across_ranges_in_the_order_given()
    {
        var pool = Pool("10.0.5.1-10.0.5.2", "10.0.1.1-10.0.1.2");
        Assert.Equal(A("10.0.1.1"), pool.NextFree(A("10.0.5.2"), _ => false));
        Assert.Equal(A("10.0.5.1"), pool.NextFree(A("10.0.1.2"), _ => false));
        Assert.Equal(A("10.0.1.2"), pool.NextFree(A("10.0.5.1"), a => a == A("10.0.5.2") || a == A("10.0.1.1")));
    }

    [Fact]
    public void A_cursor_outside_the_pool_starts_at_the_beginning() =>
        Assert.Equal(A("10.0.0.1"), Pool("10.0.0.1-10.0.0.5").NextFree(A("192.0.2.1"), _ => false));

    [Fact]
    public void Visits_every_address_exactly_once()
    {
        var pool = Pool("10.0.0.1-10.0.0.3", "10.0.2.0/30", "10.0.3.7/32");
        var seen = new List<IpNumber>();
        Assert.Null(pool.NextFree(A("10.0.2.1"), a => { seen.Add(a); return true; }));
        Assert.Equal(pool.Size, (UInt128)seen.Count);
        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.All(seen, a => Assert.True(pool.Contains(a)));
        Assert.Equal(A("10.0.2.2"), seen[0]);
        Assert.Equal(A("10.0.2.1"), seen[^1]);
    }

    [Fact]
    public void Works_at_the_top_of_the_address_space()
    {
        var pool = Pool("255.255.255.254-255.255.255.255");
        Assert.Equal(uint.MaxValue, pool.NextFree(A("255.255.255.254"), _ => false));
        Assert.Equal(A("255.255.255.254"), pool.NextFree(uint.MaxValue, _ => false));
    }
}
