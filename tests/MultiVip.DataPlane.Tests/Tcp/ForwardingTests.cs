using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using MultiVip.DataPlane.Tests.Infrastructure;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Tests.Tcp;

/// <summary>Byte forwarding, FIN/RST propagation, ACLs, limits, idle timeout and PROXY headers on real loopback sockets.</summary>
public abstract class ForwardingTests(EngineUnderTest engine)
{
    private static readonly IPAddress Source21 = IPAddress.Parse("127.0.0.21");
    private static readonly IPAddress Source22 = IPAddress.Parse("127.0.0.22");

    [Fact]
    public async Task Single_endpoint_echoes_through_the_vip()
    {
        await using var backend = new TestBackend("vm1");
        await using var plane = TestPlane.Create(engine);
        var key = TestNet.NextKey();
        await plane.ApplyOkAsync(1, TestNet.Spec(key, backend));

        using var client = await TestNet.ConnectAsync(key);
        Assert.Equal("vm1", await TestNet.RoundTripAsync(client, "hello"));
        Assert.Equal("vm1", await TestNet.RoundTripAsync(client, new string('x', 200_000)));

        var health = Assert.Single(plane.GetHealth());
        Assert.Equal(Model.Services.HealthState.NotProbed, health.State);
        Assert.Equal(1, health.ActiveConnections);
        Assert.Equal(1, health.TotalConnections);
    }

    [Fact]
    public async Task Half_close_lets_the_backend_still_reply()
    {
        // Reads everything until the client's FIN, then answers and closes: needs FIN passed on, not a close.
        await using var backend = new TestBackend("vm1", async (socket, _) =>
        {
            var total = 0;
            var buffer = new byte[1024];
            int read;
            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None)) > 0)
            {
                total += read;
            }

            await socket.SendAsync(Encoding.ASCII.GetBytes($"got {total} bytes"), SocketFlags.None);
            socket.Shutdown(SocketShutdown.Send);
        });
        await using var plane = TestPlane.Create(engine);
        var key = TestNet.NextKey();
        await plane.ApplyOkAsync(1, TestNet.Spec(key, backend));

        using var client = await TestNet.ConnectAsync(key);
        await TestNet.SendAsync(client, "hello");
        client.Shutdown(SocketShutdown.Send);
        Assert.Equal("got 5 bytes", await TestNet.ReadToEndAsync(client));
    }

    [Fact]
    public async Task Backend_reset_reaches_the_client_as_a_reset()
    {
        await using var backend = new TestBackend("vm1", async (socket, _) =>
        {
            await socket.ReceiveAsync(new byte[1], SocketFlags.None);
            socket.LingerState = new LingerOption(true, 0);
            socket.Close();
        });
        await using var plane = TestPlane.Create(engine);
        var key = TestNet.NextKey();
        await plane.ApplyOkAsync(1, TestNet.Spec(key, backend));

        using var client = await TestNet.ConnectAsync(key);
        await TestNet.SendAsync(client, "x");
        await TestNet.AssertResetAsync(client);
    }

    [Fact]
    public async Task Client_reset_reaches_the_backend_as_a_reset()
    {
        var backendSaw = new TaskCompletionSource<SocketError>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = new TestBackend("vm1", async (socket, _) =>
        {
            try
            {
                var buffer = new byte[16];
                await socket.ReceiveAsync(buffer, SocketFlags.None);
                await socket.SendAsync("ready\n"u8.ToArray(), SocketFlags.None);
                while (await socket.ReceiveAsync(buffer, SocketFlags.None) > 0)
                {
                }

                backendSaw.TrySetResult(SocketError.Success);
            }
            catch (SocketException ex)
            {
                backendSaw.TrySetResult(ex.SocketErrorCode);
            }
        });
        await using var plane = TestPlane.Create(engine);
        var key = TestNet.NextKey();
        await plane.ApplyOkAsync(1, TestNet.Spec(key, backend));

        var client = await TestNet.ConnectAsync(key);
        await TestNet.SendAsync(client, "x");
        Assert.Equal("ready", await TestNet.ReadLineAsync(client));
        client.LingerState = new LingerOption(true, 0);
        client.Close();

        Assert.Equal(SocketError.ConnectionReset, await backendSaw.Task.WaitAsync(TestNet.Timeout));
    }

    [Fact]
    public async Task Connections_after_many_closed_ones_still_pass_half_close_and_resets()
    {
        // The epoll engine reuses the socket objects of connections that ended normally (issue 17):
        // every later connection must start clean (no FIN, error, deadline or wait left from the last
        // user), whichever way the one before it ended.
        await using var backend = new TestBackend("vm1", async (socket, _) =>
        {
            var command = await TestNet.ReadLineAsync(socket);
            switch (command)
            {
                case "reset":
                    socket.LingerState = new LingerOption(true, 0);
                    socket.Close();
                    return;
                case "half":
                    var buffer = new byte[64];
                    while (await socket.ReceiveAsync(buffer, SocketFlags.None) > 0)
                    {
                    }

                    await socket.SendAsync("after your FIN\n"u8.ToArray(), SocketFlags.None);
                    socket.Shutdown(SocketShutdown.Send);
                    return;
                default:
                    await socket.SendAsync(Encoding.ASCII.GetBytes($"ok {command}\n"), SocketFlags.None);
                    while (await socket.ReceiveAsync(new byte[64], SocketFlags.None) > 0)
                    {
                    }

                    socket.Shutdown(SocketShutdown.Send);
                    return;
            }
        });
        await using var plane = TestPlane.Create(engine);
        var key = TestNet.NextKey();
        await plane.ApplyOkAsync(1, TestNet.Spec(key, backend));

        for (var round = 0; round < 20; round++)
        {
            for (var i = 0; i < 10; i++)
            {
                using var closed = await TestNet.ConnectAsync(key);
                await TestNet.SendAsync(closed, $"n{i}\n");
                Assert.Equal($"ok n{i}", await TestNet.ReadLineAsync(closed));
                closed.Shutdown(SocketShutdown.Send);
                Assert.Equal("", await TestNet.ReadToEndAsync(closed));
            }

            using (var half = await TestNet.ConnectAsync(key))
            {
                await TestNet.SendAsync(half, "half\n");
                half.Shutdown(SocketShutdown.Send);
                Assert.Equal("after your FIN\n", await TestNet.ReadToEndAsync(half));
            }

            using (var reset = await TestNet.ConnectAsync(key))
            {
                await TestNet.SendAsync(reset, "reset\n");
                await TestNet.AssertResetAsync(reset);
            }
        }

        await Abuse.AbuseKit.WaitUntilAsync(() => plane.GetAdmittedCount(key) == 0, "every connection to be released");
    }

    [Fact]
    public async Task Acl_permits_and_denies_by_source_address()
    {
        await using var backend = new TestBackend("vm1");
        await using var plane = TestPlane.Create(engine);
        var key = TestNet.NextKey();
        await plane.ApplyOkAsync(1, TestNet.Spec(key, backend) with
        {
            Acl = [TestNet.Rule(100, AclAction.Permit, "127.0.0.21/32")],
        });

        Assert.Equal("vm1", await TestNet.WhichBackendAsync(key, Source21));
        await TestNet.AssertConnectionResetAsync(key, Source22);
        Assert.Equal(1, backend.Connections);
        Assert.Equal(1, plane.GetCounters(key)!.DeniedByAcl);
    }

    [Fact]
    public async Task Connections_beyond_the_limit_are_refused_with_a_reset()
    {
        await using var backend = new TestBackend("vm1");
        await using var plane = TestPlane.Create(engine, options: new DataPlaneOptions { MaxConnectionsPerListener = 2 });
        var key = TestNet.NextKey();
        await plane.ApplyOkAsync(1, TestNet.Spec(key, backend));

        using var first = await TestNet.ConnectAsync(key);
        using var second = await TestNet.ConnectAsync(key);
        await TestNet.RoundTripAsync(first, "1");
        await TestNet.RoundTripAsync(second, "2");

        await TestNet.AssertConnectionResetAsync(key);
        Assert.Equal(1, plane.GetCounters(key)!.RefusedOverLimit);

        // The established ones are unaffected.
        await TestNet.RoundTripAsync(first, "still here");
    }

    [Fact]
    public async Task Idle_connection_is_closed_on_both_sides()
    {
        var time = new FakeTimeProvider();
        var backendClosed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = new TestBackend("vm1", async (socket, _) =>
        {
            var buffer = new byte[64];
            try
            {
                int read;
                while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None)) > 0)
                {
                    await socket.SendAsync(buffer.AsMemory(0, read), SocketFlags.None);
                }
            }
            finally
            {
                backendClosed.TrySetResult();
            }
        });
        await using var plane = TestPlane.Create(engine, time);
        var key = TestNet.NextKey();
        await plane.ApplyOkAsync(1, TestNet.Spec(key, backend) with { IdleTimeout = TimeSpan.FromSeconds(10) });

        using var client = await TestNet.ConnectAsync(key);
        await TestNet.SendAsync(client, "a\n");
        Assert.Equal("a", await TestNet.ReadLineAsync(client));

        // Traffic within the timeout keeps it open.
        time.Advance(TimeSpan.FromSeconds(6));
        await TestNet.SendAsync(client, "b\n");
        Assert.Equal("b", await TestNet.ReadLineAsync(client));
        time.Advance(TimeSpan.FromSeconds(6));
        await TestNet.SendAsync(client, "c\n");
        Assert.Equal("c", await TestNet.ReadLineAsync(client));

        for (var i = 0; i < 6; i++)
        {
            time.Advance(TimeSpan.FromSeconds(2.5));
        }

        await TestNet.AssertClosedAsync(client);
        await backendClosed.Task.WaitAsync(TestNet.Timeout);
        Assert.Equal(1, plane.GetCounters(key)!.IdleClosed);
    }

    [Theory]
    [InlineData(ProxyProtocolVersion.V1)]
    [InlineData(ProxyProtocolVersion.V2)]
    public async Task Proxy_protocol_header_tells_the_backend_the_client_address(ProxyProtocolVersion version)
    {
        var header = new TaskCompletionSource<(IPEndPoint Source, IPEndPoint Destination)>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = new TestBackend("vm1", async (socket, _) =>
        {
            header.TrySetResult(await ReadProxyHeaderAsync(socket));
            var rest = new byte[5];
            var read = 0;
            while (read < rest.Length)
            {
                read += await socket.ReceiveAsync(rest.AsMemory(read), SocketFlags.None);
            }

            await socket.SendAsync(rest, SocketFlags.None);
        });
        await using var plane = TestPlane.Create(engine);
        var key = TestNet.NextKey();
        await plane.ApplyOkAsync(1, TestNet.Spec(key, backend) with { ProxyProtocol = version });

        using var client = await TestNet.ConnectAsync(key, Source21);
        await TestNet.SendAsync(client, "hello");
        var (source, destination) = await header.Task.WaitAsync(TestNet.Timeout);
        Assert.Equal(client.LocalEndPoint, source);
        Assert.Equal(new IPEndPoint(key.Address, key.Port), destination);
        Assert.Equal("hello", await TestNet.ReadToEndAsync(client));
    }

    private static async Task<(IPEndPoint, IPEndPoint)> ReadProxyHeaderAsync(Socket socket)
    {
        var first = await ReceiveExactlyAsync(socket, 16);
        if (first[0] == (byte)'P')
        {
            var line = new List<byte>(first);
            while (line[^1] != (byte)'\n')
            {
                line.Add((await ReceiveExactlyAsync(socket, 1))[0]);
            }

            var parts = Encoding.ASCII.GetString([.. line]).TrimEnd('\r', '\n').Split(' ');
            Assert.Equal("PROXY", parts[0]);
            Assert.Equal("TCP4", parts[1]);
            return (new IPEndPoint(IPAddress.Parse(parts[2]), int.Parse(parts[4])), new IPEndPoint(IPAddress.Parse(parts[3]), int.Parse(parts[5])));
        }

        Assert.Equal(new byte[] { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A }, first[..12]);
        Assert.Equal(0x21, first[12]);
        Assert.Equal(0x11, first[13]);
        var length = BinaryPrimitives.ReadUInt16BigEndian(first.AsSpan(14));
        var body = await ReceiveExactlyAsync(socket, length);
        return (
            new IPEndPoint(new IPAddress(body[0..4]), BinaryPrimitives.ReadUInt16BigEndian(body.AsSpan(8))),
            new IPEndPoint(new IPAddress(body[4..8]), BinaryPrimitives.ReadUInt16BigEndian(body.AsSpan(10))));
    }

    private static async Task<byte[]> ReceiveExactlyAsync(Socket socket, int count)
    {
        var buffer = new byte[count];
        var read = 0;
        while (read < count)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None);
            if (n == 0)
            {
                throw new EndOfStreamException();
            }

            read += n;
        }

        return buffer;
    }
}

public sealed class ForwardingTestsOnEpoll() : ForwardingTests(SocketEngine.Epoll);

public sealed class ForwardingTestsOnEpollSpliced() : ForwardingTests(EngineUnderTest.EpollSpliced);

public sealed class ForwardingTestsOnDotnet() : ForwardingTests(SocketEngine.Dotnet);
