using System.Net;
using MultiVip.DataPlane.Routing;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Tests.Routing;

public sealed class MaglevTableTests
{
    private const int Flows = 200_000;

    private static string[] Names(int count, int from = 0) =>
        [.. Enumerable.Range(from, count).Select(i => $"vm{i}/ep/10.0.0.{i}:80")];

    private static ulong FlowHash(int i) => StableHash.Mix((ulong)i * 0x9E3779B97F4A7C15UL);

    [Fact]
    public void Flows_spread_evenly_across_members()
    {
        var table = new MaglevTable(Names(7));
        var counts = new int[7];
        for (var i = 0; i < Flows; i++)
        {
            counts[table.Lookup(FlowHash(i))]++;
        }

        var mean = Flows / 7.0;
        Assert.All(counts, c => Assert.InRange(c, mean * 0.95, mean * 1.05));
    }

    [Theory]
    [InlineData(3)]
    [InlineData(5)]
    [InlineData(10)]
    public void Removing_a_member_moves_little_more_than_its_own_flows(int members)
    {
        var names = Names(members);
        var before = new MaglevTable(names);
        var afterNames = names.Where((_, i) => i != 1).ToArray();
        var after = new MaglevTable(afterNames);

        var moved = 0;
        var movedFromOthers = 0;
        for (var i = 0; i < Flows; i++)
        {
            var h = FlowHash(i);
            var was = names[before.Lookup(h)];
            var now = afterNames[after.Lookup(h)];
            if (was != now)
            {
                moved++;
                if (was != names[1])
                {
                    movedFromOthers++;
                }
            }
        }

        Assert.InRange(moved / (double)Flows, 0, (1.0 / members) + 0.03);
        Assert.InRange(movedFromOthers / (double)Flows, 0, 0.03);
    }

    [Fact]
    public void Adding_a_member_moves_about_one_nth_of_flows()
    {
        var names = Names(4);
        var grown = Names(5);
        var before = new MaglevTable(names);
        var after = new MaglevTable(grown);
        var moved = 0;
        for (var i = 0; i < Flows; i++)
        {
            var h = FlowHash(i);
            if (names[before.Lookup(h)] != grown[after.Lookup(h)])
            {
                moved++;
            }
        }

        Assert.InRange(moved / (double)Flows, 0, (1.0 / 5) + 0.03);
    }

    [Fact]
    public void Table_is_deterministic_and_independent_of_member_order()
    {
        var names = Names(6);
        var shuffled = names.Reverse().ToArray();
        var a = new MaglevTable(names);
        var b = new MaglevTable(shuffled);
        for (var i = 0; i < 10_000; i++)
        {
            var h = FlowHash(i);
            Assert.Equal(names[a.Lookup(h)], shuffled[b.Lookup(h)]);
        }
    }

    [Fact]
    public void Preference_order_starts_with_the_primary_and_lists_distinct_members()
    {
        var table = new MaglevTable(Names(5));
        Span<int> preference = stackalloc int[5];
        for (var i = 0; i < 1000; i++)
        {
            var h = FlowHash(i);
            var count = table.FillPreference(h, preference);
            Assert.Equal(5, count);
            Assert.Equal(table.Lookup(h), preference[0]);
            Assert.Equal(5, preference.ToArray().Distinct().Count());
        }
    }

    [Fact]
    public void Flow_hash_is_stable_and_honours_the_distribution_mode()
    {
        var src1 = new IPEndPoint(IPAddress.Parse("203.0.113.5"), 40000);
        var src2 = new IPEndPoint(IPAddress.Parse("203.0.113.5"), 40001);
        var dst = new IPEndPoint(IPAddress.Parse("127.100.0.1"), 443);

        // Pinned value (FNV-1a 64 + fmix64, computed independently): the hash must never depend on the
        // process or the runtime version, as HashCode would, or flows would move on restart.
        Assert.Equal(0x33ebaf9927cbc5bdUL, StableHash.Hash("abc"u8));

        Assert.NotEqual(
            StableHash.HashFlow(LoadBalancerDistribution.None, src1, dst, TransportProtocol.Tcp),
            StableHash.HashFlow(LoadBalancerDistribution.None, src2, dst, TransportProtocol.Tcp));
        Assert.Equal(
            StableHash.HashFlow(LoadBalancerDistribution.SourceIP, src1, dst, TransportProtocol.Tcp),
            StableHash.HashFlow(LoadBalancerDistribution.SourceIP, src2, dst, TransportProtocol.Udp));
        Assert.Equal(
            StableHash.HashFlow(LoadBalancerDistribution.SourceIPProtocol, src1, dst, TransportProtocol.Tcp),
            StableHash.HashFlow(LoadBalancerDistribution.SourceIPProtocol, src2, dst, TransportProtocol.Tcp));
        Assert.NotEqual(
            StableHash.HashFlow(LoadBalancerDistribution.SourceIPProtocol, src1, dst, TransportProtocol.Tcp),
            StableHash.HashFlow(LoadBalancerDistribution.SourceIPProtocol, src1, dst, TransportProtocol.Udp));

        var mapped = new IPEndPoint(src1.Address.MapToIPv6(), src1.Port);
        Assert.Equal(
            StableHash.HashFlow(LoadBalancerDistribution.None, src1, dst, TransportProtocol.Tcp),
            StableHash.HashFlow(LoadBalancerDistribution.None, mapped, dst, TransportProtocol.Tcp));
    }
}
