using System.Net;
using System.Text;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Tcp;
using MultiVip.DataPlane.Tests.Infrastructure;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Tests.Metrics;

/// <summary>
/// Per-VIP byte totals for usage: exact (each byte once, however often they are read) and
/// complete (a listener or backend that is removed keeps its bytes in the total).
/// </summary>
public abstract class VipBytesTests(EngineUnderTest engine)
{
    private static int s_next = Random.Shared.Next(0, 1000);

    /// <summary>A VIP of this suite's range 127.71.0.0/16 (127.71.190-199.x).</summary>
    private static ListenerKey NextKey()
    {
        var n = Interlocked.Increment(ref s_next);
        var vip = new IPAddress([127, 71, (byte)(190 + (n / 250 % 10)), (byte)(n % 250 + 1)]);
        return new ListenerKey(vip, TransportProtocol.Tcp, TestNet.FreePort(vip));
    }

    /// <summary>Round trips on one connection; returns the bytes the client sent and received.</summary>
    private static async Task<(long Sent, long Received)> TrafficAsync(ListenerKey key, int lines)
    {
        using var client = await TestNet.ConnectAsync(key);
        long sent = 0, received = 0;
        for (var i = 0; i < lines; i++)
        {
            var line = new string((char)('a' + (i % 26)), 500 + i);
            var backend = await TestNet.RoundTripAsync(client, line);
            sent += line.Length + 1;
            received += Encoding.ASCII.GetByteCount($"{backend}:{line}\n");
        }

        return (sent, received);
    }

    private static (long In, long Out) Of(TcpDataPlane plane, string vip) =>
        plane.GetVipBytes().Where(b => b.ServiceName == "svc" && b.VirtualIpName == vip).Select(b => (b.BytesIn, b.BytesOut)).SingleOrDefault();

    [Fact]
    public async Task A_removed_listener_keeps_its_bytes_and_reading_often_counts_nothing_twice()
    {
        await using var backend = new TestBackend("vm1");
        await using var plane = TestPlane.Create(engine);
        var key = NextKey();
        await plane.ApplyOkAsync(1, TestNet.Spec(key, backend));

        var first = await TrafficAsync(key, 20);
        Assert.Equal((first.Sent, first.Received), Of(plane, "Vip1"));
        Assert.Equal((first.Sent, first.Received), Of(plane, "Vip1"));

        // Carried after the last read, then the listener is removed: only its retirement counts these.
        var second = await TrafficAsync(key, 10);
        await plane.ApplyOkAsync(2);
        await plane.DrainAndStopAsync(CancellationToken.None);

        Assert.Equal((first.Sent + second.Sent, first.Received + second.Received), Of(plane, "Vip1"));
    }

    [Fact]
    public async Task A_backend_removed_from_a_running_listener_keeps_its_bytes()
    {
        await using var vm1 = new TestBackend("vm1");
        await using var vm2 = new TestBackend("vm2");
        await using var plane = TestPlane.Create(engine);
        var key = NextKey();
        await plane.ApplyOkAsync(1, TestNet.Spec(key, vm1, vm2));

        long sent = 0, received = 0;
        for (var i = 0; i < 6; i++)
        {
            var (s, r) = await TrafficAsync(key, 5);
            sent += s;
            received += r;
        }

        await plane.ApplyOkAsync(2, TestNet.Spec(key, vm1));
        await plane.DrainAndStopAsync(CancellationToken.None);

        Assert.Equal((sent, received), Of(plane, "Vip1"));
    }
}

public sealed class VipBytesTestsOnEpoll() : VipBytesTests(SocketEngine.Epoll);

public sealed class VipBytesTestsOnEpollSpliced() : VipBytesTests(EngineUnderTest.EpollSpliced);

public sealed class VipBytesTestsOnDotnet() : VipBytesTests(SocketEngine.Dotnet);
