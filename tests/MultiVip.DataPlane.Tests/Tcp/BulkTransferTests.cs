using System.Diagnostics;
using System.Net.Sockets;
using MultiVip.DataPlane.Tests.Infrastructure;
using Xunit.Abstractions;

namespace MultiVip.DataPlane.Tests.Tcp;

/// <summary>Large transfers in both directions at once: back-pressure must hold and no byte may be lost or reordered.</summary>
public abstract class BulkTransferTests(ITestOutputHelper output, EngineUnderTest engine)
{
    private const int Size = 64 * 1024 * 1024;

    [Fact]
    public async Task Large_concurrent_transfers_arrive_intact_in_both_directions()
    {
        // The backend streams a pattern down while counting and checking what comes up.
        var upstreamChecked = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = new TestBackend("bulk", async (socket, _) =>
        {
            var send = SendPatternAsync(socket, Size, seed: 7);
            upstreamChecked.TrySetResult(await ReceivePatternAsync(socket, seed: 3));
            await send;
            socket.Shutdown(SocketShutdown.Send);
        });
        await using var plane = TestPlane.Create(engine);
        var key = TestNet.NextKey();
        await plane.ApplyOkAsync(1, TestNet.Spec(key, backend));

        using var client = await TestNet.ConnectAsync(key);
        var stopwatch = Stopwatch.StartNew();
        var up = Task.Run(async () =>
        {
            await SendPatternAsync(client, Size, seed: 3);
            client.Shutdown(SocketShutdown.Send);
        });
        var down = await ReceivePatternAsync(client, seed: 7).WaitAsync(TimeSpan.FromSeconds(60));
        await up.WaitAsync(TimeSpan.FromSeconds(60));
        var upReceived = await upstreamChecked.Task.WaitAsync(TimeSpan.FromSeconds(60));
        stopwatch.Stop();

        Assert.Equal(Size, down);
        Assert.Equal(Size, upReceived);
        output.WriteLine($"{2 * Size / (1024.0 * 1024.0):0} MiB through the proxy (both directions at once) in {stopwatch.Elapsed.TotalMilliseconds:0} ms = {2 * Size / (1024.0 * 1024.0) / stopwatch.Elapsed.TotalSeconds:0} MiB/s");
    }

    /// <summary>
    /// Not a benchmark (two shared cores, no warm-up), but a figure to spot regressions: one-way
    /// throughput of a sink backend reached directly and through the VIP.
    /// </summary>
    [Fact]
    public async Task Throughput_through_the_vip_is_reported_next_to_a_direct_connection()
    {
        const int bytes = 128 * 1024 * 1024;
        await using var sink = new TestBackend("sink", async (socket, _) =>
        {
            var buffer = new byte[256 * 1024];
            while (await socket.ReceiveAsync(buffer, SocketFlags.None) > 0)
            {
            }

            socket.Shutdown(SocketShutdown.Send);
        });
        await using var plane = TestPlane.Create(engine);
        var key = TestNet.NextKey();
        await plane.ApplyOkAsync(1, TestNet.Spec(key, sink));

        // Warm up (JIT, pools), then best of three, alternating, to damp noise from other processes.
        await MeasureAsync(await TestNet.ConnectAsync(sink.Target), 8 << 20);
        await MeasureAsync(await TestNet.ConnectAsync(key), 8 << 20);
        var direct = TimeSpan.MaxValue;
        var proxied = TimeSpan.MaxValue;
        for (var round = 0; round < 3; round++)
        {
            var d = await MeasureAsync(await TestNet.ConnectAsync(sink.Target), bytes);
            var p = await MeasureAsync(await TestNet.ConnectAsync(key), bytes);
            direct = d < direct ? d : direct;
            proxied = p < proxied ? p : proxied;
        }

        output.WriteLine($"one-way {bytes >> 20} MiB, best of 3: direct {Rate(bytes, direct):0} MiB/s, through the VIP {Rate(bytes, proxied):0} MiB/s");
        Assert.True(proxied > TimeSpan.Zero);
    }

    private static double Rate(int bytes, TimeSpan elapsed) => bytes / (1024.0 * 1024.0) / elapsed.TotalSeconds;

    private static async Task<TimeSpan> MeasureAsync(Socket socket, int bytes)
    {
        using (socket)
        {
            var buffer = new byte[256 * 1024];
            var stopwatch = Stopwatch.StartNew();
            for (var sent = 0; sent < bytes;)
            {
                sent += await socket.SendAsync(buffer, SocketFlags.None);
            }

            socket.Shutdown(SocketShutdown.Send);
            await socket.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(60));
            return stopwatch.Elapsed;
        }
    }

    private static byte PatternAt(long offset, int seed) => (byte)((offset * 31) + seed + (offset >> 16));

    private static async Task SendPatternAsync(Socket socket, int size, int seed)
    {
        var buffer = new byte[256 * 1024];
        long offset = 0;
        while (offset < size)
        {
            var chunk = (int)Math.Min(buffer.Length, size - offset);
            for (var i = 0; i < chunk; i++)
            {
                buffer[i] = PatternAt(offset + i, seed);
            }

            var sent = 0;
            while (sent < chunk)
            {
                sent += await socket.SendAsync(buffer.AsMemory(sent, chunk - sent), SocketFlags.None);
            }

            offset += chunk;
        }
    }

    private static async Task<long> ReceivePatternAsync(Socket socket, int seed)
    {
        var buffer = new byte[256 * 1024];
        long offset = 0;
        while (true)
        {
            var read = await socket.ReceiveAsync(buffer, SocketFlags.None);
            if (read == 0)
            {
                return offset;
            }

            for (var i = 0; i < read; i++)
            {
                if (buffer[i] != PatternAt(offset + i, seed))
                {
                    throw new InvalidDataException($"byte {offset + i} differs");
                }
            }

            offset += read;
        }
    }
}

public sealed class BulkTransferTestsOnEpoll(ITestOutputHelper output) : BulkTransferTests(output, SocketEngine.Epoll);

public sealed class BulkTransferTestsOnEpollSpliced(ITestOutputHelper output) : BulkTransferTests(output, EngineUnderTest.EpollSpliced);

public sealed class BulkTransferTestsOnDotnet(ITestOutputHelper output) : BulkTransferTests(output, SocketEngine.Dotnet);
