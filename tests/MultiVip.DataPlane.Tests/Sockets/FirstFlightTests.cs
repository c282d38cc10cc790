using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Sockets;
using MultiVip.DataPlane.Sockets.Epoll;
using MultiVip.DataPlane.Tests.Infrastructure;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Tests.Sockets;

/// <summary>
/// The epoll engine reads a new client once before it connects to the backend, never waiting for it
/// (EpollSocket.FirstFlight): bytes the client already sent leave with the connect, in the segment that
/// completes the backend's handshake, after the PROXY header; a client that sends nothing (a server-first
/// protocol) is connected at once and hears the backend's greeting. Counted by the backend's own socket
/// (tcp_info's tcpi_segs_in), on real loopback sockets. Addresses: 127.144.1.0/24.
/// </summary>
public sealed class FirstFlightTests
{
    private static int s_next;

    [Fact]
    public async Task Bytes_the_client_sent_before_the_accept_reach_the_backend_with_its_handshake_after_the_preamble()
    {
        using var backendListener = Listen(NextAddress());
        var backendTarget = (IPEndPoint)backendListener.LocalEndPoint!;
        var engine = new EpollSocketEngine(ArrayPool<byte>.Shared);
        var (accepted, client) = await AcceptAfterTheClientSentAsync(engine, "GET / HTTP/1.1\r\n\r\n"u8.ToArray());
        using var clientSocket = client;
        var backend = (EpollSocket)await engine.ConnectAsync(
            backendTarget, accepted, "PROXY UNKNOWN\r\n"u8.ToArray(), TestNet.Timeout, TimeProvider.System, CancellationToken.None).AsTask().WaitAsync(TestNet.Timeout);
        try
        {
            using var server = await backendListener.AcceptAsync().WaitAsync(TestNet.Timeout);
            Assert.Equal("PROXY UNKNOWN\r\nGET / HTTP/1.1\r\n\r\n", await ReceiveTextAsync(server, 33));
            Assert.Equal(18, accepted.FirstBytes);

            // The handshake's last ACK rode on the data: one segment fewer than a plain connect-then-send, whose ACK
            // and data arrive apart (the kernel counts the handshake's segments into the accepted socket's total too).
            var withFlight = TcpInfo.SegmentsIn(server);
            var plain = await SegmentsOfPlainConnectThenSendAsync(backendListener, backendTarget);
            Assert.Equal(plain - 1, withFlight);

            // Nothing more was read from the client: the next bytes take the copy loop's path as before.
            Assert.False(accepted.FirstReadMayHaveLeftMore);
        }
        finally
        {
            backend.Close();
            accepted.Close();
        }
    }

    [Fact]
    public async Task A_client_that_sends_nothing_is_connected_at_once_and_the_server_first_backend_greets_it()
    {
        // A server-first protocol (SMTP, MySQL): the client waits for the greeting; the proxy must not wait for the client.
        var header = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = new TestBackend("vm1", async (socket, _) =>
        {
            header.TrySetResult(await ReadLineAsync(socket));
            await socket.SendAsync("220 ready\n"u8.ToArray(), SocketFlags.None);
            Assert.Equal("QUIT", await ReadLineAsync(socket));
            await socket.SendAsync("221 bye\n"u8.ToArray(), SocketFlags.None);
            socket.Shutdown(SocketShutdown.Send);
        }, NextAddress());
        await using var plane = TestPlane.Create(SocketEngine.Epoll);
        var key = NextKey();
        await plane.ApplyOkAsync(1, TestNet.Spec(key, backend) with { ProxyProtocol = ProxyProtocolVersion.V1 });

        using var client = await TestNet.ConnectAsync(key, NextAddress());
        Assert.Equal("220 ready", await TestNet.ReadLineAsync(client));
        Assert.StartsWith($"PROXY TCP4 {((IPEndPoint)client.LocalEndPoint!).Address} {key.Address} ", await header.Task.WaitAsync(TestNet.Timeout));
        await TestNet.SendAsync(client, "QUIT\n");
        Assert.Equal("221 bye\n", await TestNet.ReadToEndAsync(client));
    }

    [Fact]
    public async Task The_first_bytes_go_to_the_next_candidate_when_the_first_one_refuses()
    {
        var refusedAddress = NextAddress();
        var refused = new IPEndPoint(refusedAddress, TestNet.FreePort(refusedAddress));
        using var backendListener = Listen(NextAddress());
        var engine = new EpollSocketEngine(ArrayPool<byte>.Shared);
        var (accepted, client) = await AcceptAfterTheClientSentAsync(engine, "hello\n"u8.ToArray());
        using var clientSocket = client;
        try
        {
            await Assert.ThrowsAsync<SocketException>(() => engine.ConnectAsync(
                refused, accepted, ReadOnlyMemory<byte>.Empty, TestNet.Timeout, TimeProvider.System, CancellationToken.None).AsTask().WaitAsync(TestNet.Timeout));
            var backend = await engine.ConnectAsync(
                (IPEndPoint)backendListener.LocalEndPoint!, accepted, ReadOnlyMemory<byte>.Empty, TestNet.Timeout, TimeProvider.System, CancellationToken.None).AsTask().WaitAsync(TestNet.Timeout);
            using var server = await backendListener.AcceptAsync().WaitAsync(TestNet.Timeout);
            Assert.Equal("hello\n", await ReceiveTextAsync(server, 6));
            backend.Close();
        }
        finally
        {
            accepted.Close();
        }
    }

    /// <summary>The baseline: a connect whose data is sent after connect() returned, as the engine did before.</summary>
    private static async Task<uint> SegmentsOfPlainConnectThenSendAsync(Socket backendListener, IPEndPoint backendTarget)
    {
        using var plain = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await plain.ConnectAsync(backendTarget).WaitAsync(TestNet.Timeout);
        await plain.SendAsync("GET / HTTP/1.1\r\n\r\n"u8.ToArray(), SocketFlags.None).WaitAsync(TestNet.Timeout);
        using var server = await backendListener.AcceptAsync().WaitAsync(TestNet.Timeout);
        await ReceiveTextAsync(server, 18);
        return TcpInfo.SegmentsIn(server);
    }

    private static Socket Listen(IPAddress address)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(address, 0));
        listener.Listen(16);
        return listener;
    }

    /// <summary>A client connects and sends <paramref name="bytes"/>; only then does the engine accept it, so the bytes are
    /// in its socket before the engine first reads it.</summary>
    private static async Task<(EpollSocket Accepted, Socket Client)> AcceptAfterTheClientSentAsync(EpollSocketEngine engine, byte[] bytes)
    {
        var key = NextKey();
        using var listening = ListenerBinder.TryBind(key, out var error) ?? throw new InvalidOperationException(error);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await client.ConnectAsync(new IPEndPoint(key.Address, key.Port)).WaitAsync(TestNet.Timeout);
        await client.SendAsync(bytes, SocketFlags.None).WaitAsync(TestNet.Timeout);
        return (await AcceptOneAsync(engine, listening), client);
    }

    private static async Task<EpollSocket> AcceptOneAsync(EpollSocketEngine engine, Socket listening)
    {
        using var stop = new CancellationTokenSource();
        var acceptors = engine.CreateAcceptors(listening, stop.Token);
        try
        {
            // Every loop's acceptor may take it (EPOLLEXCLUSIVE wakes one); each tries accept4 before it waits.
            var accepts = acceptors.Select(a => a.AcceptAsync().AsTask()).ToList();
            var first = await Task.WhenAny(accepts).WaitAsync(TestNet.Timeout);
            return (EpollSocket)await first;
        }
        finally
        {
            stop.Cancel();
            foreach (var acceptor in acceptors)
            {
                acceptor.Dispose();
            }
        }
    }

    private static async Task<string> ReceiveTextAsync(Socket socket, int length)
    {
        var buffer = new byte[length];
        var read = 0;
        while (read < length)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None).AsTask().WaitAsync(TestNet.Timeout);
            Assert.True(n > 0, $"the connection ended after '{Encoding.ASCII.GetString(buffer, 0, read)}'");
            read += n;
        }

        return Encoding.ASCII.GetString(buffer);
    }

    private static async Task<string> ReadLineAsync(Socket socket)
    {
        var line = new StringBuilder();
        var one = new byte[1];
        while (await socket.ReceiveAsync(one, SocketFlags.None).WaitAsync(TestNet.Timeout) == 1 && one[0] != '\n')
        {
            line.Append((char)one[0]);
        }

        return line.ToString().TrimEnd('\r');
    }

    private static IPAddress NextAddress() =>
        new([127, 144, 1, (byte)((Interlocked.Increment(ref s_next) % 250) + 1)]);

    private static ListenerKey NextKey()
    {
        var address = NextAddress();
        return new ListenerKey(address, TransportProtocol.Tcp, TestNet.FreePort(address));
    }
}
