using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using MultiVip.DataPlane.Sockets;

namespace MultiVip.DataPlane.Tests;

/// <summary>The log throttle and the accept back-off: pure rules, a fake clock.</summary>
public sealed class LogThrottleTests
{
    [Fact]
    public void First_occurrence_is_written_at_once_the_rest_of_the_interval_as_one_line_with_the_count()
    {
        var time = new FakeTimeProvider();
        var lines = new List<(string Latest, long Count)>();
        var throttle = new LogThrottle<string>(time, (latest, count, _) => lines.Add((latest, count)), TimeSpan.FromSeconds(10));

        throttle.Record("first");
        Assert.Equal([("first", 1L)], lines);

        // 4,000 more within the interval (the EMFILE spin of the issue): not one line yet...
        for (var i = 0; i < 4000; i++)
        {
            throttle.Record("flood " + i);
        }

        time.Advance(TimeSpan.FromSeconds(9.9));
        Assert.Single(lines);

        // ...then one line when the interval ends, with the count and the latest occurrence.
        time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.Equal(("flood 3999", 4000L), lines[1]);

        // The flush opened a new interval: one more occurrence waits for its end, nothing in between.
        time.Advance(TimeSpan.FromSeconds(1));
        throttle.Record("late");
        Assert.Equal(2, lines.Count);
        time.Advance(TimeSpan.FromSeconds(9));
        Assert.Equal(("late", 1L), lines[2]);

        // Quiet for longer than the interval: the next occurrence is written at once again.
        time.Advance(TimeSpan.FromMinutes(5));
        throttle.Record("again");
        Assert.Equal(("again", 1L), lines[3]);
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(4, lines.Count);
    }

    [Fact]
    public async Task Concurrent_occurrences_are_all_counted_and_written_once()
    {
        var time = new FakeTimeProvider();
        long written = 0;
        var lines = 0;
        var throttle = new LogThrottle<int>(time, (_, count, _) =>
        {
            Interlocked.Add(ref written, count);
            Interlocked.Increment(ref lines);
        }, TimeSpan.FromSeconds(10));
        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < 10_000; i++)
            {
                throttle.Record(t);
            }
        })));
        Assert.Equal(1, lines);

        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(2, lines);
        Assert.Equal(80_000, Interlocked.Read(ref written));
    }

    [Fact]
    public void Accept_backoff_doubles_from_5_ms_to_1_s_and_resets_after_a_success()
    {
        var backoff = default(AcceptBackoff);
        var delays = Enumerable.Range(0, 12).Select(_ => backoff.Next().TotalMilliseconds).ToArray();
        Assert.Equal([5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000, 1000], delays);
        backoff.Reset();
        Assert.Equal(TimeSpan.FromMilliseconds(5), backoff.Next());
    }

    [Theory]
    [InlineData(SocketError.TooManyOpenSockets, false, true)]
    [InlineData(SocketError.NoBufferSpaceAvailable, false, true)]
    [InlineData(SocketError.ConnectionAborted, true, false)]
    [InlineData(SocketError.ConnectionReset, true, false)]
    [InlineData(SocketError.AccessDenied, false, false)]
    public void Accept_errors_are_told_apart(SocketError error, bool perConnection, bool shortage)
    {
        var exception = new SocketException((int)error);
        Assert.Equal(perConnection, AcceptBackoff.IsPerConnection(exception));
        Assert.Equal(shortage, AcceptBackoff.IsResourceShortage(exception));
    }
}
