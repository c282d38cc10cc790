using System.Globalization;
using System.Net;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Nftables;
using MultiVip.Model.Services;

namespace MultiVip.Network.Tests.Kernel;

/// <summary>
/// What one change costs the plane at scale, besides the kernel: the diff of 10,000 listeners must not
/// allocate in proportion to the table. It did (a fresh dictionary, key set and array per change, ~1.3 MB,
/// most of it on the large-object heap), and the large-object budget then set off a blocking gen2
/// collection every few changes: the 20-55 ms tails bench/kernel-scale --breakdown traced to GC pauses.
/// The nft here is a stand-in that accepts everything: this test changes no ruleset.
/// </summary>
public sealed class NftChangeCostTests
{
    [Fact]
    public async Task One_change_at_ten_thousand_listeners_allocates_for_the_change_not_for_the_table()
    {
        await using var nft = await StandInNft.CreateAsync("cat > /dev/null\n");
        var plane = nft.Plane;
        var specs = Enumerable.Range(0, 10_000).Select(Single).ToList();
        Assert.Empty((await plane.ApplyAsync(new DesiredState(1, [.. specs]), CancellationToken.None)).Faults);

        var costs = new List<CommitCost>();
        plane.ChangeCommitted += costs.Add;
        var generation = 1;
        for (var i = 0; i < 6; i++)
        {
            // A listener added, then one removed: the first of each kind runs code for the first time.
            specs.Add(Single(10_000 + i));
            Assert.Empty((await plane.ApplyAsync(new DesiredState(++generation, [.. specs]), CancellationToken.None)).Faults);
            specs.RemoveAt(18 + i);
            Assert.Empty((await plane.ApplyAsync(new DesiredState(++generation, [.. specs]), CancellationToken.None)).Faults);
        }

        Assert.Equal(12, costs.Count);
        var report = string.Join("; ", costs.Select(c => $"{c.Diff.Thread.Allocated / 1024}/{c.Render.Thread.Allocated / 1024}/{c.Finish.Thread.Allocated / 1024}"));
        foreach (var cost in costs.Skip(2))
        {
            // The listener's own objects and nft text (a few KB), not 10,000 entries' worth: the old diff
            // allocated ~1.3 MB here. (A new set without the netlink writer, as here, renders 5,003 slots
            // as text: ~1.3 MB of its own, which in process the spare map's netlink batch avoids.)
            var allocated = cost.Diff.Thread.Allocated + cost.Render.Thread.Allocated + cost.Finish.Thread.Allocated;
            Assert.True(allocated < 64 * 1024, $"one change at 10,000 listeners allocated {allocated / 1024} KB in the plane's diff, render and bookkeeping (diff {cost.Diff.Thread.Allocated / 1024} KB, render {cost.Render.Thread.Allocated / 1024} KB, finish {cost.Finish.Thread.Allocated / 1024} KB; every change, KB: {report})");
            Assert.True(cost.Nft.Elapsed > TimeSpan.Zero && cost.Diff.Elapsed > TimeSpan.Zero, $"the breakdown misses a section: {cost}");
        }
    }

    private static ListenerSpec Single(int i) => new()
    {
        Key = new ListenerKey(new IPAddress([198, (byte)(18 + (i >> 16)), (byte)(i >> 8), (byte)i]), TransportProtocol.Tcp, 80),
        ServiceName = "svc" + i.ToString(CultureInfo.InvariantCulture),
        VirtualIpName = "Vip1",
        Backends = [new BackendSpec("vm1", "web", new IPEndPoint(IPAddress.Parse("192.0.2.11"), 8080))],
    };
}
