using System.Diagnostics;
using System.Net.Sockets;
using MultiVip.DataPlane.Tests.Infrastructure;

namespace MultiVip.DataPlane.Tests.Abuse;

/// <summary>
/// The abuse tests measure latency, memory and file descriptors of the whole test process, so they
/// run alone: xunit starts this collection only after the parallel ones finished.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AbuseCollection
{
    public const string Name = "Abuse";
}

/// <summary>Helpers for abusive clients and backends; everything on loopback with bounded waits.</summary>
internal static class AbuseKit
{
    /// <summary>
    /// For counters that no event announces (a connection's slot is released in a finally block):
    /// checks every few milliseconds, fails after <see cref="TestNet.Timeout"/>.
    /// </summary>
    public static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > TestNet.Timeout)
            {
                Assert.Fail($"timed out waiting for {what}");
            }

            await Task.Delay(5);
        }
    }

    /// <summary>Open file descriptors of this process (sockets included): the leak detector.</summary>
    public static int OpenFileDescriptors() => Directory.GetFiles("/proc/self/fd").Length;

    /// <summary>Round-trip latencies of <paramref name="count"/> fresh connections through the VIP, in milliseconds.</summary>
    public static async Task<double[]> MeasureRoundTripsAsync(DataPlane.Contract.ListenerKey key, int count)
    {
        var result = new double[count];
        for (var i = 0; i < count; i++)
        {
            var clock = Stopwatch.StartNew();
            using (var socket = await TestNet.ConnectAsync(key))
            {
                await TestNet.RoundTripAsync(socket, "ping" + i);
            }

            result[i] = clock.Elapsed.TotalMilliseconds;
        }

        return result;
    }

    public static double Percentile(double[] values, double p)
    {
        var sorted = values.Order().ToArray();
        return sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
    }

    /// <summary>Whether the connection ended with a reset; false on a clean FIN. Bounded by <see cref="TestNet.Timeout"/>.</summary>
    public static async Task<bool> EndsWithResetAsync(Socket socket)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(TestNet.Timeout) > 0)
            {
            }

            return false;
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
            return true;
        }
    }
}
