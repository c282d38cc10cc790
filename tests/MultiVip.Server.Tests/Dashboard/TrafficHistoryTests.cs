using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using MultiVip.DataPlane.Contract;
using MultiVip.Model.Services;
using MultiVip.Server.Dashboard;

namespace MultiVip.Server.Tests.Dashboard;

/// <summary>
/// The charts' ring buffer on a fake clock: rates from counter differences, the 15-minute window
/// and bounded memory, counters that restart, and the timer driving it. The counters come from a
/// settable source (the browser tests read a real data plane's).
/// </summary>
public sealed class TrafficHistoryTests
{
    private sealed class Counters : ITrafficSource
    {
        public long Web1Connections { get; set; }

        public long Web1Bytes { get; set; }

        public long Web2Connections { get; set; }

        public long VipBytes { get; set; }

        public bool Web2Present { get; set; } = true;

        public IReadOnlyList<ListenerTraffic> GetTraffic() =>
        [
            new ListenerTraffic
            {
                Key = new ListenerKey(System.Net.IPAddress.Loopback, TransportProtocol.Tcp, 81),
                ServiceName = "myService",
                VirtualIpName = "Vip2",
                Backends =
                [
                    new BackendTraffic { VmName = "myVM1", EndpointName = "web", TotalConnections = Web1Connections, BytesIn = Web1Bytes / 2, BytesOut = Web1Bytes - (Web1Bytes / 2) },
                    .. Web2Present ? [new BackendTraffic { VmName = "myVM2", EndpointName = "web", TotalConnections = Web2Connections }] : Array.Empty<BackendTraffic>(),
                ],
            },
        ];

        public IReadOnlyList<VipBytes> GetVipBytes() => [new VipBytes("myService", "Vip2", VipBytes, 0)];
    }

    private static (TrafficHistory History, Counters Counters, FakeTimeProvider Clock) Create()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 1, 22, 0, 0, TimeSpan.Zero));
        var counters = new Counters();
        return (new TrafficHistory(counters, clock, NullLogger<TrafficHistory>.Instance), counters, clock);
    }

    [Fact]
    public void Rates_are_the_counter_differences_per_second_per_vip_and_backend()
    {
        var (history, counters, clock) = Create();
        history.SampleNow();
        counters.Web1Connections = 50;
        counters.Web2Connections = 10;
        counters.Web1Bytes = 5000;
        counters.VipBytes = 10_000;
        clock.Advance(TrafficHistory.Interval);
        history.SampleNow();

        var t = history.ForService("MYSERVICE");
        Assert.Equal([clock.GetUtcNow().ToUnixTimeSeconds()], t.Times);
        var vip = Assert.Single(t.VirtualIps);
        Assert.Equal("Vip2", vip.Name);
        Assert.Equal([12.0], vip.ConnectionsPerSecond);
        Assert.Equal([2000.0], vip.BytesPerSecond);
        Assert.Equal(["myVM1/web", "myVM2/web"], t.Backends.Select(b => b.Name));
        Assert.Equal([10.0], t.Backends[0].ConnectionsPerSecond);
        Assert.Equal([1000.0], t.Backends[0].BytesPerSecond);
        Assert.Equal([2.0], t.Backends[1].ConnectionsPerSecond);

        var now = Assert.Single(history.CurrentByService());
        Assert.Equal(new Rate(12, 2000), now.Value);
        Assert.Empty(history.ForService("otherService").VirtualIps);
    }

    [Fact]
    public void A_removed_backend_leaves_a_gap_and_a_recreated_one_counts_from_zero()
    {
        var (history, counters, clock) = Create();
        counters.Web1Connections = 100;
        counters.Web2Connections = 100;
        history.SampleNow();

        counters.Web2Present = false;
        counters.Web1Connections = 110;
        clock.Advance(TrafficHistory.Interval);
        history.SampleNow();

        // Recreated: its counter restarted below the last value.
        counters.Web2Present = true;
        counters.Web2Connections = 5;
        counters.Web1Connections = 120;
        clock.Advance(TrafficHistory.Interval);
        history.SampleNow();

        var t = history.ForService("myService");
        Assert.Equal([null, 1.0], t.Backends.Single(b => b.Name == "myVM2/web").ConnectionsPerSecond);
        Assert.Equal([2.0, 2.0], t.Backends.Single(b => b.Name == "myVM1/web").ConnectionsPerSecond);

        // The VIP sums its backends' rates: the vanished backend is no negative spike.
        Assert.Equal([2.0, 3.0], t.VirtualIps.Single().ConnectionsPerSecond);
    }

    [Fact]
    public void The_ring_keeps_fifteen_minutes_and_no_more()
    {
        var (history, counters, clock) = Create();
        for (var i = 0; i < TrafficHistory.Capacity * 3; i++)
        {
            counters.Web1Connections += 5;
            history.SampleNow();
            clock.Advance(TrafficHistory.Interval);
        }

        var t = history.ForService("myService");
        Assert.Equal(TrafficHistory.Capacity - 1, t.Times.Count);
        Assert.Equal(180, t.Times.Count);
        Assert.True(t.Times[^1] - t.Times[0] < TrafficHistory.Window.TotalSeconds);
        Assert.All(t.Backends[0].ConnectionsPerSecond, r => Assert.Equal(1.0, r));

        // Nothing sampled for longer than the window: nothing left to draw.
        clock.Advance(TrafficHistory.Window + TrafficHistory.Interval);
        Assert.Empty(history.ForService("myService").Times);
    }

    [Fact]
    public async Task The_timer_samples_every_interval_on_the_injected_clock()
    {
        var (history, counters, clock) = Create();
        await history.StartAsync(CancellationToken.None);
        counters.Web1Connections = 25;
        clock.Advance(TrafficHistory.Interval);
        counters.Web1Connections = 50;
        clock.Advance(TrafficHistory.Interval);
        await history.StopAsync(CancellationToken.None);
        clock.Advance(TrafficHistory.Interval * 3);

        var t = history.ForService("myService");
        Assert.Equal(2, t.Times.Count);
        Assert.Equal([5.0, 5.0], t.Backends[0].ConnectionsPerSecond);
        history.Dispose();
    }
}
