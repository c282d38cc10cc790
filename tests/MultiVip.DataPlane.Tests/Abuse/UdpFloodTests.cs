using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Tests.Infrastructure;
using MultiVip.Model.Services;
using Xunit.Abstractions;

namespace MultiVip.DataPlane.Tests.Abuse;

/// <summary>A UDP VIP flooded by thousands of distinct sources, with a small session cap.</summary>
[Collection(AbuseCollection.Name)]
public sealed class UdpFloodTests(ITestOutputHelper output)
{
    private const int Cap = 256;
    private const int Sources = 4000;
    private const int Batch = 100;

    [Fact]
    public async Task Flood_from_thousands_of_sources_stays_within_the_session_cap_and_bounded_memory()
    {
        await using var a = new UdpTestBackend("vmA");
        await using var b = new UdpTestBackend("vmB");
        await using var plane = new DataPlaneHost(
            new DataPlaneOptions { MaxUdpSessionsPerListener = Cap }, NullLoggerFactory.Instance, TimeProvider.System);
        var vip = TestNet.NextVip();
        int port;
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            probe.Bind(new IPEndPoint(vip, 0));
            port = ((IPEndPoint)probe.LocalEndPoint!).Port;
        }

        var key = new ListenerKey(vip, TransportProtocol.Udp, port);
        var target = new IPEndPoint(vip, port);
        var result = await plane.ApplyAsync(new DesiredState(1, [new ListenerSpec
        {
            Key = key,
            ServiceName = "svc",
            VirtualIpName = "Vip1",
            LoadBalancedSetName = "set1",
            Backends = [a.Spec, b.Spec],
        }]), CancellationToken.None).WaitAsync(TestNet.Timeout);
        Assert.Empty(result.Faults);

        using var regular = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        regular.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        await AskWithRetryAsync(regular, target, "warm-up");
        var memoryBefore = GC.GetTotalMemory(forceFullCollection: true);
        var workingSetBefore = Environment.WorkingSet;
        var descriptorsBefore = AbuseKit.OpenFileDescriptors();

        // Samples the table while the flood runs: the cap must hold at every moment, not just at the end.
        var maxSessions = 0;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                maxSessions = Math.Max(maxSessions, plane.Udp.GetCounters(key)!.Value.Sessions);
                await Task.Delay(1);
            }
        });

        var payload = Encoding.ASCII.GetBytes("flood");
        var answered = 0;
        for (var start = 0; start < Sources; start += Batch)
        {
            // Each source is its own address (127.61.x.y) and ephemeral port: a new 5-tuple, a new session.
            var batch = new List<Socket>(Batch);
            for (var i = start; i < start + Batch; i++)
            {
                var source = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                source.Bind(new IPEndPoint(new IPAddress([127, 61, (byte)(i / 250), (byte)((i % 250) + 1)]), 0));
                batch.Add(source);
                await source.SendToAsync(payload, SocketFlags.None, target);
            }

            // A regular client keeps asking between batches and must be answered every time (its
            // session may be evicted by the LRU; the next datagram opens a new one).
            await AskWithRetryAsync(regular, target, "still there " + start);
            answered++;
            batch.ForEach(s => s.Dispose());
        }

        await sampling.CancelAsync();
        await sampler;

        var (counters, sessions) = plane.Udp.GetCounters(key)!.Value;
        Assert.True(maxSessions <= Cap, $"session table reached {maxSessions} (cap {Cap})");
        Assert.True(sessions <= Cap);
        Assert.Equal(Sources / Batch, answered);

        // Most flood datagrams made a session and all but the cap's worth were evicted. Some may be
        // lost in a full socket buffer on a slow machine, as UDP allows: half is plenty of flood.
        var created = Interlocked.Read(ref counters.SessionsCreated);
        var evicted = Interlocked.Read(ref counters.SessionsEvicted);
        Assert.True(created >= Sources / 2, $"only {created} sessions created for {Sources} sources");
        Assert.InRange(created - evicted, 1, Cap);

        // Bounded: 4000 sources cost no more than the cap's worth of sockets. The memory they cost
        // (heap < 16 MiB, working set < 96 MiB) is bench/run --checks' "UDP flood" rows in
        // docs/benchmarks.md: the process's memory moves with whatever else runs in it.
        var memoryGrowth = GC.GetTotalMemory(forceFullCollection: true) - memoryBefore;
        var workingSetGrowth = Environment.WorkingSet - workingSetBefore;
        var descriptorGrowth = AbuseKit.OpenFileDescriptors() - descriptorsBefore;
        output.WriteLine($"{Sources} sources: max sessions {maxSessions} (cap {Cap}), created {created}, evicted {evicted}; heap +{memoryGrowth / 1024} KiB, working set +{workingSetGrowth / 1024} KiB, fds +{descriptorGrowth}");
        Assert.True(descriptorGrowth <= Cap + 16, $"{descriptorGrowth} more file descriptors");
    }

    /// <summary>
    /// UDP may drop a datagram in a full buffer during the flood: a real client retries, so does this
    /// one, keeping one receive pending so a late answer to an earlier try still counts.
    /// </summary>
    private static async Task AskWithRetryAsync(Socket client, IPEndPoint target, string text)
    {
        var buffer = new byte[1024];
        var reply = client.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0));
        for (var attempt = 1; attempt <= 10; attempt++)
        {
            await client.SendToAsync(Encoding.ASCII.GetBytes(text), SocketFlags.None, target);
            var wait = Task.Delay(TimeSpan.FromSeconds(1));
            while (await Task.WhenAny(reply, wait) == reply)
            {
                var answer = Encoding.ASCII.GetString(buffer, 0, (await reply).ReceivedBytes);
                if (answer.EndsWith(":" + text, StringComparison.Ordinal))
                {
                    return;
                }

                // A duplicate answer to an earlier question that was retried: skip it.
                reply = client.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0));
            }
        }

        Assert.Fail($"no answer to '{text}' after 10 tries");
    }
}
