using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Tests.Infrastructure;
using MultiVip.DataPlane.Tcp;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Tests.Tcp;

/// <summary>
/// The epoll engine's switch of a bulk direction to splice(2) (docs/data-plane.md#splice): bulk
/// switches and arrives intact, short request/response traffic stays on recv/send, a slow reader
/// holds the sender back instead of the proxy buffering, and at the cap of spliced directions a bulk
/// direction copies instead. The behaviour tests of the engine also run spliced from the first byte
/// (the *OnEpollSpliced classes). VIPs and backends on 127.135.0.0/16.
/// </summary>
public sealed class SpliceTests
{
    private const int Size = 64 * 1024 * 1024;

    private static readonly int s_octet = Random.Shared.Next(1, 250);
    private static int s_next;

    [Fact]
    public async Task Bulk_switches_both_directions_to_splice_and_arrives_intact_while_short_exchanges_stay_copied()
    {
        // Each reader starts only once its sender has stalled: the proxy's reads of a direction then find
        // a full socket buffer, as they do on a real bulk transfer, whatever the speed of this machine.
        long upSent = 0;
        long downSent = 0;
        var upstreamSeen = new TaskCompletionSource<(long Bytes, byte[] Hash)>(TaskCreationOptions.RunContinuationsAsynchronously);
        byte[]? downstreamSent = null;
        await using var backend = new TestBackend("bulk", async (socket, _) =>
        {
            var first = new byte[1];
            if (await socket.ReceiveAsync(first, SocketFlags.None) == 1 && first[0] == (byte)'p')
            {
                // A short exchange: one ping, one pong, close.
                await socket.SendAsync("pong"u8.ToArray(), SocketFlags.None);
                socket.Shutdown(SocketShutdown.Send);
                return;
            }

            var send = SendRandomAsync(socket, Size, seed: 7, progress: n => Interlocked.Add(ref downSent, n));
            await WaitForStallAsync(() => Interlocked.Read(ref upSent));
            upstreamSeen.TrySetResult(await ReceiveHashAsync(socket, alreadyRead: first));
            downstreamSent = await send;
            socket.Shutdown(SocketShutdown.Send);
        }, BackendAddress());
        await using var plane = TestPlane.Create(SocketEngine.Epoll);
        var key = NextKey();
        await plane.ApplyOkAsync(1, TestNet.Spec(key, backend));
        var splice = Assert.IsType<MultiVip.DataPlane.Sockets.Epoll.SplicePipes>(plane.Splice);

        using (var shortClient = await TestNet.ConnectAsync(key))
        {
            await shortClient.SendAsync("p"u8.ToArray(), SocketFlags.None);
            var (bytes, _) = await ReceiveHashAsync(shortClient).WaitAsync(TestNet.Timeout);
            Assert.Equal(4, bytes);
        }

        Assert.Equal(0, splice.Switched);

        using var client = await TestNet.ConnectAsync(key);
        var up = Task.Run(async () =>
        {
            var hash = await SendRandomAsync(client, Size, seed: 3, first: (byte)'b', progress: n => Interlocked.Add(ref upSent, n));
            client.Shutdown(SocketShutdown.Send);
            return hash;
        });
        await WaitForStallAsync(() => Interlocked.Read(ref downSent));
        var down = await ReceiveHashAsync(client).WaitAsync(TimeSpan.FromSeconds(120));
        var upHash = await up.WaitAsync(TimeSpan.FromSeconds(60));
        var upSeen = await upstreamSeen.Task.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(Size, down.Bytes);
        Assert.Equal(downstreamSent, down.Hash);
        Assert.Equal(Size, upSeen.Bytes);
        Assert.Equal(upHash, upSeen.Hash);
        Assert.Equal(2, splice.Switched);
        await WaitUntilAsync(() => splice.InUse == 0);
    }

    [Fact]
    public async Task A_slow_reader_holds_the_sender_back_instead_of_the_proxy_buffering()
    {
        const int total = 256 * 1024 * 1024;
        long backendSent = 0;
        byte[]? sentHash = null;
        await using var backend = new TestBackend("firehose", async (socket, _) =>
        {
            sentHash = await SendRandomAsync(socket, total, seed: 11, progress: n => Interlocked.Add(ref backendSent, n));
            socket.Shutdown(SocketShutdown.Send);
        }, BackendAddress());
        await using var plane = TestPlane.Create(SocketEngine.Epoll);
        var key = NextKey();
        await plane.ApplyOkAsync(1, TestNet.Spec(key, backend));
        var splice = plane.Splice!;

        using var client = await TestNet.ConnectAsync(key);

        // The client reads nothing: the backend's progress must stop once the socket buffers on both hops
        // and the one pipe are full.
        await WaitForStallAsync(() => Interlocked.Read(ref backendSent));

        Assert.Equal(1, splice.Switched);
        var stalledAt = Interlocked.Read(ref backendSent);
        var bound = (2 * (MaxSocketBuffer("tcp_rmem") + MaxSocketBuffer("tcp_wmem"))) + (4L << 20);
        Assert.True(stalledAt < bound, $"the backend got {stalledAt} bytes out to a client that read none: more than the socket buffers of both hops ({bound}) hold, so the proxy buffered");
        Assert.True(stalledAt < total);

        // Reading again releases the backpressure, and every byte arrives in order.
        var (bytes, hash) = await ReceiveHashAsync(client).WaitAsync(TimeSpan.FromSeconds(120));
        Assert.Equal(total, bytes);
        Assert.Equal(sentHash, hash);
    }

    [Fact]
    public async Task At_the_cap_of_spliced_directions_a_bulk_direction_copies_and_a_freed_pipe_is_used_again()
    {
        var holdFirst = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var served = 0;
        long sent = 0;
        await using var backend = new TestBackend("bulk", async (socket, _) =>
        {
            var first = Interlocked.Increment(ref served) == 1;
            var hash = await SendRandomAsync(socket, Size / 2, seed: 5, progress: n => Interlocked.Add(ref sent, n));
            if (first)
            {
                // The first download keeps its direction (and the only pipe) until told to finish.
                await holdFirst.Task;
            }

            await socket.SendAsync(hash, SocketFlags.None);
            socket.Shutdown(SocketShutdown.Send);
        }, BackendAddress());
        await using var plane = TestPlane.Create(SocketEngine.Epoll, options: new DataPlaneOptions { MaxSplicedDirections = 1 });
        var key = NextKey();
        await plane.ApplyOkAsync(1, TestNet.Spec(key, backend));
        var splice = plane.Splice!;

        using var holder = await TestNet.ConnectAsync(key);
        await WaitForStallAsync(() => Interlocked.Read(ref sent));
        var holderRead = ReceiveHashAsync(holder, expectTrailer: true);
        await WaitUntilAsync(() => splice.InUse == 1);

        using (var second = await TestNet.ConnectAsync(key))
        {
            await WaitForStallAsync(() => Interlocked.Read(ref sent));
            var (bytes, hash, trailer) = await ReceiveHashAsync(second, expectTrailer: true).WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(Size / 2, bytes);
            Assert.Equal(trailer, hash);
        }

        Assert.Equal(1, splice.Switched);

        holdFirst.TrySetResult();
        var held = await holderRead.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(Size / 2, held.Bytes);
        Assert.Equal(held.Trailer, held.Hash);
        await WaitUntilAsync(() => splice.InUse == 0);

        using (var third = await TestNet.ConnectAsync(key))
        {
            await WaitForStallAsync(() => Interlocked.Read(ref sent));
            var (bytes, hash, trailer) = await ReceiveHashAsync(third, expectTrailer: true).WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(Size / 2, bytes);
            Assert.Equal(trailer, hash);
        }

        Assert.Equal(2, splice.Switched);
    }

    private static IPAddress BackendAddress() => new([127, 135, 0, 1]);

    private static ListenerKey NextKey()
    {
        var n = Interlocked.Increment(ref s_next);
        var vip = new IPAddress([127, 135, (byte)s_octet, (byte)((n % 250) + 1)]);
        return new ListenerKey(vip, TransportProtocol.Tcp, TestNet.FreePort(vip));
    }

    /// <summary>The largest buffer TCP autotuning may give a socket (the third field of net.ipv4.tcp_rmem / tcp_wmem).</summary>
    private static long MaxSocketBuffer(string name) =>
        long.Parse(File.ReadAllText($"/proc/sys/net/ipv4/{name}").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries)[2], System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Waits (bounded) until a sender's byte count has not moved for a second: its path is full.
    /// Waking too early only weakens what the caller checks next, never fails it wrongly.</summary>
    private static async Task WaitForStallAsync(Func<long> progress)
    {
        var last = -1L;
        var still = 0;
        for (var polls = 0; polls < 600 && still < 10; polls++)
        {
            await Task.Delay(100);
            var now = progress();
            still = now == last ? still + 1 : 0;
            last = now;
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(20);
        }

        Assert.True(condition());
    }

    /// <summary>Sends <paramref name="size"/> pseudo-random bytes (the first one <paramref name="first"/> when given) and returns their SHA-256.</summary>
    private static async Task<byte[]> SendRandomAsync(Socket socket, int size, int seed, byte? first = null, Action<int>? progress = null)
    {
        var random = new Random(seed);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[256 * 1024];
        for (var offset = 0; offset < size;)
        {
            var chunk = Math.Min(buffer.Length, size - offset);
            random.NextBytes(buffer.AsSpan(0, chunk));
            if (offset == 0 && first is { } b)
            {
                buffer[0] = b;
            }

            hash.AppendData(buffer, 0, chunk);
            for (var sent = 0; sent < chunk;)
            {
                var n = await socket.SendAsync(buffer.AsMemory(sent, chunk - sent), SocketFlags.None);
                sent += n;
                progress?.Invoke(n);
            }

            offset += chunk;
        }

        return hash.GetHashAndReset();
    }

    /// <summary>Reads to the FIN; returns the byte count and SHA-256 (of <paramref name="alreadyRead"/> and the rest).</summary>
    private static async Task<(long Bytes, byte[] Hash)> ReceiveHashAsync(Socket socket, byte[]? alreadyRead = null)
    {
        var (bytes, hash, _) = await ReceiveHashAsync(socket, expectTrailer: false, alreadyRead);
        return (bytes, hash);
    }

    /// <summary>Reads to the FIN; with <paramref name="expectTrailer"/> the last 32 bytes are the sender's SHA-256, not data.</summary>
    private static async Task<(long Bytes, byte[] Hash, byte[] Trailer)> ReceiveHashAsync(Socket socket, bool expectTrailer, byte[]? alreadyRead = null)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var held = new List<byte>(alreadyRead ?? []);
        long bytes = 0;
        var buffer = new byte[256 * 1024];
        var keep = expectTrailer ? 32 : 0;
        while (true)
        {
            var read = held.Count > keep ? 0 : await socket.ReceiveAsync(buffer, SocketFlags.None);
            if (read == 0 && held.Count <= keep)
            {
                break;
            }

            held.AddRange(buffer.AsSpan(0, read));
            var data = held.Count - keep;
            if (data > 0)
            {
                var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(held)[..data];
                hash.AppendData(span);
                bytes += data;
                held.RemoveRange(0, data);
            }
        }

        return (bytes, hash.GetHashAndReset(), [.. held]);
    }
}
