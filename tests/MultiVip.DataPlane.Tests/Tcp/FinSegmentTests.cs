using System.Net;
using System.Net.Sockets;
using System.Text;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Tests.Infrastructure;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Tests.Tcp;

/// <summary>
/// When a peer's last bytes and its FIN reach the epoll engine together, they leave it together: one
/// segment carrying the data and the FIN, as HAProxy sends them, instead of a data segment, the
/// receiver's ACK and a FIN segment (issue 17: two segments fewer per short connection on the
/// client's side). Counted by the receiving socket itself (tcp_info's tcpi_segs_in), on real loopback
/// sockets; each peer sends its data and FIN in one segment (TCP_CORK, then shutdown), so the engine
/// sees both in one readiness edge. Addresses: 127.140.1.0/24.
/// </summary>
public sealed class FinSegmentTests
{
    private const int TcpCork = 3;
    private static int s_next;

    [Fact]
    public async Task A_backend_banner_and_its_FIN_reach_the_client_in_one_segment()
    {
        // A server-first backend: it writes a banner and closes, the client never sends.
        await using var backend = new TestBackend("vm1", async (socket, _) =>
        {
            await SendWithFinAsync(socket, "banner\n");
            await socket.ReceiveAsync(new byte[16], SocketFlags.None); // the client's FIN
        }, NextAddress());
        await using var plane = TestPlane.Create(SocketEngine.Epoll);
        var key = NextKey();
        await plane.ApplyOkAsync(1, TestNet.Spec(key, backend));

        using var client = await TestNet.ConnectAsync(key, NextAddress());
        Assert.Equal("banner\n", await TestNet.ReadToEndAsync(client));

        // The SYN-ACK and one segment with the banner and the FIN (before: the banner, then a FIN segment).
        Assert.Equal(2u, TcpInfo.SegmentsIn(client));
    }

    [Fact]
    public async Task A_client_request_and_its_half_close_reach_the_backend_in_one_segment_and_the_reply_still_flows()
    {
        var counted = new TaskCompletionSource<(uint Segments, string Request)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var armed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = new TestBackend("vm1", async (socket, _) =>
        {
            // "ready" first: once the client has it, the proxy's client-to-backend copy is waiting for input.
            await socket.SendAsync("ready\n"u8.ToArray(), SocketFlags.None);
            await UntilAckedAsync(socket);
            var before = TcpInfo.SegmentsIn(socket);
            armed.TrySetResult();
            var request = await TestNet.ReadToEndAsync(socket);
            counted.TrySetResult((TcpInfo.SegmentsIn(socket) - before, request));
            await socket.SendAsync("reply\n"u8.ToArray(), SocketFlags.None);
            socket.Shutdown(SocketShutdown.Send);
        }, NextAddress());
        await using var plane = TestPlane.Create(SocketEngine.Epoll);
        var key = NextKey();
        await plane.ApplyOkAsync(1, TestNet.Spec(key, backend));

        using var client = await TestNet.ConnectAsync(key, NextAddress());
        Assert.Equal("ready", await TestNet.ReadLineAsync(client));
        await armed.Task.WaitAsync(TestNet.Timeout);
        await SendWithFinAsync(client, "request\n");

        var (segments, request) = await counted.Task.WaitAsync(TestNet.Timeout);
        Assert.Equal("request\n", request);
        Assert.Equal(1u, segments);
        Assert.Equal("reply\n", await TestNet.ReadToEndAsync(client));
    }

    /// <summary>Corks the socket, writes, then half-closes: the kernel sends the bytes and the FIN in one segment.</summary>
    private static async Task SendWithFinAsync(Socket socket, string text)
    {
        socket.SetRawSocketOption((int)SocketOptionLevel.Tcp, TcpCork, BitConverter.GetBytes(1));
        await socket.SendAsync(Encoding.ASCII.GetBytes(text), SocketFlags.None).WaitAsync(TestNet.Timeout);
        socket.Shutdown(SocketShutdown.Send);
    }

    /// <summary>Waits (bounded) until the peer acknowledged everything sent, so its ACK is not counted later.</summary>
    private static async Task UntilAckedAsync(Socket socket)
    {
        using var deadline = new CancellationTokenSource(TestNet.Timeout);
        while (TcpInfo.Unacknowledged(socket) != 0)
        {
            await Task.Delay(1, deadline.Token);
        }
    }

    private static IPAddress NextAddress() =>
        new([127, 140, 1, (byte)((Interlocked.Increment(ref s_next) % 250) + 1)]);

    private static ListenerKey NextKey()
    {
        var address = NextAddress();
        return new ListenerKey(address, TransportProtocol.Tcp, TestNet.FreePort(address));
    }
}
