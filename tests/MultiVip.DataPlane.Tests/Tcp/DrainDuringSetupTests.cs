using System.Net;
using System.Net.Sockets;
using System.Text;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Tests.Infrastructure;

namespace MultiVip.DataPlane.Tests.Tcp;

/// <summary>
/// A connection the listener accepted before it stopped (SIGTERM, or a takeover's hand-over) but
/// whose backend connect finished after: it is drained like the established ones, not reset. Under
/// load some connection is always between accept and backend connect when a takeover hands over;
/// resetting it was the TakeoverTests flake.
/// </summary>
public abstract class DrainDuringSetupTests(EngineUnderTest engine)
{
    [Fact]
    public async Task A_connection_still_connecting_to_its_backend_when_the_drain_starts_is_forwarded_not_reset()
    {
        // A backend whose accept queue is full (backlog 0 holds one connection, never accepted): the
        // kernel drops the proxy's SYN, so its connect stays pending until the queue has room.
        using var backend = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        backend.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        backend.Listen(0);
        var target = (IPEndPoint)backend.LocalEndPoint!;
        using var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await filler.ConnectAsync(target);

        await using var plane = TestPlane.Create(engine, options: new DataPlaneOptions
        {
            DrainTimeout = TimeSpan.FromSeconds(60),
            BackendConnectTimeout = TimeSpan.FromSeconds(60),
        });
        var key = TestNet.NextKey();
        await plane.ApplyOkAsync(1, new ListenerSpec
        {
            Key = key,
            ServiceName = "svc",
            VirtualIpName = "Vip1",
            Backends = [new BackendSpec("vm1", "ep-vm1", target)],
        });
        using var client = await TestNet.ConnectAsync(key);
        await WaitAsync(() => plane.GetAdmittedCount(key) == 1, "the listener to admit the client");

        // The drain starts while the backend connect is pending; then the backend takes connections.
        var stopping = plane.DrainAndStopAsync(CancellationToken.None);
        using (var queued = await backend.AcceptAsync())
        {
        }

        using var proxied = await backend.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await TestNet.SendAsync(client, "across the stop");
        var buffer = new byte[64];
        var read = await proxied.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(TestNet.Timeout);
        Assert.Equal("across the stop", Encoding.ASCII.GetString(buffer, 0, read));
        await proxied.SendAsync(Encoding.ASCII.GetBytes("answer\n"), SocketFlags.None);
        Assert.Equal("answer", await TestNet.ReadLineAsync(client));

        // Both sides close: the client sees the backend's FIN (a reset would throw), and the drain ends.
        proxied.Shutdown(SocketShutdown.Send);
        Assert.Equal(0, await client.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(TestNet.Timeout));
        client.Shutdown(SocketShutdown.Send);
        await stopping.WaitAsync(TimeSpan.FromSeconds(30));
    }

    private static async Task WaitAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(10);
        }
    }
}

public sealed class DrainDuringSetupTestsOnEpoll() : DrainDuringSetupTests(SocketEngine.Epoll);

public sealed class DrainDuringSetupTestsOnEpollSpliced() : DrainDuringSetupTests(EngineUnderTest.EpollSpliced);

public sealed class DrainDuringSetupTestsOnDotnet() : DrainDuringSetupTests(SocketEngine.Dotnet);
