using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Tests.Infrastructure;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Tests.Sockets;

/// <summary>
/// The data plane's totals (<see cref="DataPlaneOptions.MaxConnections"/>, <see cref="DataPlaneOptions.MaxUdpSessions"/>):
/// shared by every listener, so the data plane stays inside its share of the descriptors however the
/// traffic spreads over VIPs.
/// </summary>
public sealed class TotalLimitTests
{
    [Theory]
    [InlineData(SocketEngine.Epoll)]
    [InlineData(SocketEngine.Dotnet)]
    public async Task Tcp_total_is_shared_by_listeners_and_a_freed_slot_admits_the_next_client(SocketEngine engine)
    {
        await using var backend = new TestBackend("vm1");
        await using var plane = TestPlane.Create(engine, options: new DataPlaneOptions { MaxConnections = 3, MaxConnectionsPerListener = 10 });
        var a = TestNet.NextKey();
        var b = TestNet.NextKey();
        await plane.ApplyOkAsync(1, TestNet.Spec(a, backend), TestNet.Spec(b, backend));

        using var a1 = await TestNet.ConnectAsync(a);
        await TestNet.RoundTripAsync(a1, "a1");
        var a2 = await TestNet.ConnectAsync(a);
        await TestNet.RoundTripAsync(a2, "a2");
        using var b1 = await TestNet.ConnectAsync(b);
        await TestNet.RoundTripAsync(b1, "b1");
        Assert.Equal(3, plane.TotalAdmitted);

        // Listener b is far below its own cap of 10, but the data plane carries 3 connections in all.
        await TestNet.AssertConnectionResetAsync(b);
        Assert.Equal(1, Interlocked.Read(ref plane.GetCounters(b)!.RefusedOverLimit));
        Assert.Equal(3, backend.Connections);
        Assert.Equal(3, plane.TotalAdmitted);

        // A client of a leaves: its slot serves b's next client.
        a2.Dispose();
        await WaitUntilAsync(() => plane.TotalAdmitted == 2);
        using var b2 = await TestNet.ConnectAsync(b);
        await TestNet.RoundTripAsync(b2, "b2");
        await TestNet.RoundTripAsync(a1, "a1 still");
        Assert.Equal(3, plane.TotalAdmitted);
    }

    [Fact]
    public async Task Udp_total_holds_across_listeners_and_a_flood_on_one_evicts_its_own_sessions_not_the_quiet_ones()
    {
        const int Total = 8;
        await using var backend = new UdpTestBackend("vmA");
        await using var plane = new DataPlaneHost(new DataPlaneOptions { MaxUdpSessions = Total, MaxUdpSessionsPerListener = 100 }, NullLoggerFactory.Instance, TimeProvider.System);
        var flooded = UdpKey();
        var quiet = UdpKey();
        var result = await plane.ApplyAsync(new DesiredState(1, [Spec(flooded, backend), Spec(quiet, backend)]), CancellationToken.None).WaitAsync(TestNet.Timeout);
        Assert.Empty(result.Faults);

        // The quiet VIP's two clients each hold a session.
        using var quiet1 = new UdpTestClient();
        using var quiet2 = new UdpTestClient();
        await quiet1.AskAsync(At(quiet), "q1");
        await quiet2.AskAsync(At(quiet), "q2");

        // 40 sources at the flooded VIP, one after the other so every datagram is handled: the
        // total never goes above 8 descriptors' worth, the flooded listener evicts its own LRU.
        // Every source stays open until the flood ends: a closed one's port can be handed to the
        // next, which then reuses a still-held session (no eviction) and the count comes out short.
        var maxTotal = 0;
        var sources = new List<UdpTestClient>();
        try
        {
            for (var i = 0; i < 40; i++)
            {
                var source = new UdpTestClient();
                sources.Add(source);
                await source.AskAsync(At(flooded), "flood " + i);
                maxTotal = Math.Max(maxTotal, plane.Udp.TotalSessions);
            }

            Assert.Equal(40, sources.Select(s => s.Local.Port).Distinct().Count());
        }
        finally
        {
            sources.ForEach(s => s.Dispose());
        }

        Assert.True(maxTotal <= Total, $"{maxTotal} sessions in total (cap {Total})");
        var (floodCounters, floodSessions) = plane.Udp.GetCounters(flooded)!.Value;
        Assert.Equal(Total - 2, floodSessions);
        Assert.Equal(40 - (Total - 2), Interlocked.Read(ref floodCounters.SessionsEvicted));

        // The quiet VIP's sessions survived the flood next door: no new session was needed.
        await quiet1.AskAsync(At(quiet), "q1 again");
        await quiet2.AskAsync(At(quiet), "q2 again");
        var (quietCounters, quietSessions) = plane.Udp.GetCounters(quiet)!.Value;
        Assert.Equal(2, quietSessions);
        Assert.Equal(2, Interlocked.Read(ref quietCounters.SessionsCreated));

        // A new client of the quiet VIP with the total exhausted: the flooded listener (the largest)
        // gives up a session for it.
        using var quiet3 = new UdpTestClient();
        await quiet3.AskAsync(At(quiet), "q3");
        Assert.Equal(3, plane.Udp.GetCounters(quiet)!.Value.Sessions);
        Assert.Equal(Total - 3, plane.Udp.GetCounters(flooded)!.Value.Sessions);
        Assert.Equal(Total, plane.Udp.TotalSessions);
    }

    [Fact]
    public async Task Udp_slots_are_given_back_when_sessions_end()
    {
        await using var backend = new UdpTestBackend("vmA");
        await using var plane = new DataPlaneHost(new DataPlaneOptions { MaxUdpSessions = 4 }, NullLoggerFactory.Instance, TimeProvider.System);
        var key = UdpKey();
        var result = await plane.ApplyAsync(new DesiredState(1, [Spec(key, backend)]), CancellationToken.None).WaitAsync(TestNet.Timeout);
        Assert.Empty(result.Faults);
        for (var i = 0; i < 10; i++)
        {
            using var client = new UdpTestClient();
            await client.AskAsync(At(key), "c" + i);
        }

        Assert.Equal(4, plane.Udp.TotalSessions);

        // Removing the listener closes its sessions: every slot comes back.
        result = await plane.ApplyAsync(new DesiredState(2, []), CancellationToken.None).WaitAsync(TestNet.Timeout);
        Assert.Empty(result.Faults);
        Assert.Equal(0, plane.Udp.TotalSessions);
    }

    private static ListenerKey UdpKey()
    {
        var vip = TestNet.NextVip();
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        probe.Bind(new IPEndPoint(vip, 0));
        return new ListenerKey(vip, TransportProtocol.Udp, ((IPEndPoint)probe.LocalEndPoint!).Port);
    }

    private static ListenerSpec Spec(ListenerKey key, UdpTestBackend backend) => new()
    {
        Key = key,
        ServiceName = "svc",
        VirtualIpName = "Vip1",
        Backends = [backend.Spec],
    };

    private static IPEndPoint At(ListenerKey key) => new(key.Address, key.Port);

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TestNet.Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached in time");
            await Task.Delay(5);
        }
    }
}
