using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using MultiVip.Server.Security;

namespace MultiVip.Server.Tests.Security;

/// <summary>The failed-credential table on its own, with a fake clock and a logger that keeps every line.</summary>
public sealed class AuthFailureLimiterTests
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    private static (AuthFailureLimiter Limiter, FakeTimeProvider Clock, RecordingLogger Log) Create(int limit = 10, int maxAddresses = 10_000)
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var log = new RecordingLogger();
        var limiter = new AuthFailureLimiter(new AuthenticationOptions { FailureLimit = limit, MaxTrackedAddresses = maxAddresses, FailureWindow = Window }, clock, log);
        return (limiter, clock, log);
    }

    [Fact]
    public void The_table_stays_bounded_when_failures_come_from_many_addresses()
    {
        var (limiter, clock, log) = Create(limit: 3, maxAddresses: 100);
        using var _ = limiter;

        // 20,000 addresses (IPv4 and IPv6 /64s) fail once each: the table never holds more than its cap.
        for (var i = 0; i < 10_000; i++)
        {
            limiter.RecordFailure(new IPAddress([198, 18, (byte)(i >> 8), (byte)i]), "test");
            limiter.RecordFailure(IPAddress.Parse($"2001:db8:{i / 65536:x}:{i % 65536:x}::1"), "test");
            Assert.True(limiter.TrackedAddresses <= 100);
        }

        Assert.Equal(100, limiter.TrackedAddresses);

        // Addresses beyond the cap share one counter, so the flood is still limited as a whole.
        var newcomer = limiter.RecordFailure(IPAddress.Parse("198.51.100.7"), "test");
        Assert.True(newcomer.Throttled);
        Assert.True(newcomer.Failures > 3);

        // Log lines are bounded too: one per tracked address and one for the overflow, not one per failure.
        Assert.InRange(log.Lines.Count, 100, 102);
        Assert.Single(log.Lines, l => l.EventId == 3023);

        // The window ends: the sweep empties the table and sums the overflow up in one line.
        clock.Advance(Window);
        Assert.Equal(0, limiter.TrackedAddresses);
        var summary = Assert.Single(log.Lines, l => l.EventId == 3024);
        Assert.Contains("19901 in 60 s", summary.Message);
        Assert.False(limiter.RecordFailure(IPAddress.Parse("198.51.100.7"), "test").Throttled);
        Assert.Equal(1, limiter.TrackedAddresses);
    }

    [Fact]
    public void An_address_is_throttled_after_the_limit_until_its_window_ends()
    {
        var (limiter, clock, _) = Create(limit: 10);
        using var _ = limiter;
        var attacker = IPAddress.Parse("127.65.0.1");
        for (var i = 1; i <= 10; i++)
        {
            var verdict = limiter.RecordFailure(attacker, "test");
            Assert.False(verdict.Throttled);
            Assert.Equal(i, verdict.Failures);
        }

        clock.Advance(TimeSpan.FromSeconds(20.2));
        var throttled = limiter.RecordFailure(attacker, "test");
        Assert.True(throttled.Throttled);
        Assert.Equal(40, throttled.RetryAfterSeconds); // 39.8 s rounded up
        Assert.Equal(clock.GetUtcNow() + TimeSpan.FromSeconds(39.8), throttled.RetryAt);
        Assert.False(limiter.RecordFailure(IPAddress.Parse("127.65.0.2"), "test").Throttled);

        clock.Advance(TimeSpan.FromSeconds(39.8));
        Assert.False(limiter.RecordFailure(attacker, "test").Throttled);
    }

    [Fact]
    public void One_client_counts_as_one_whatever_address_of_its_64_or_ipv4_form_it_uses()
    {
        var (limiter, _, _) = Create(limit: 2);
        using var _ = limiter;
        limiter.RecordFailure(IPAddress.Parse("2001:db8:1:2::1"), "test");
        limiter.RecordFailure(IPAddress.Parse("2001:db8:1:2:ffff:1:2:3"), "test");
        Assert.True(limiter.RecordFailure(IPAddress.Parse("2001:db8:1:2:aaaa::9"), "test").Throttled);
        Assert.False(limiter.RecordFailure(IPAddress.Parse("2001:db8:1:3::1"), "test").Throttled);

        limiter.RecordFailure(IPAddress.Parse("127.65.9.9"), "test");
        limiter.RecordFailure(IPAddress.Parse("::ffff:127.65.9.9"), "test");
        Assert.True(limiter.RecordFailure(IPAddress.Parse("127.65.9.9"), "test").Throttled);
        Assert.Equal(3, limiter.TrackedAddresses);
    }

    [Fact]
    public void Failures_are_logged_once_per_address_and_window_with_a_count()
    {
        var (limiter, clock, log) = Create(limit: 10);
        using var _ = limiter;
        var attacker = IPAddress.Parse("127.65.1.1");
        clock.Advance(TimeSpan.FromSeconds(10)); // the window starts between two sweeps
        for (var i = 0; i < 500; i++)
        {
            limiter.RecordFailure(attacker, "wrong bearer token on GET /api/services");
        }

        var first = Assert.Single(log.Lines);
        Assert.Equal(3020, first.EventId);
        Assert.Equal(LogLevel.Warning, first.Level);
        Assert.Contains("127.65.1.1", first.Message);
        Assert.Contains("wrong bearer token on GET /api/services", first.Message);

        // Failing on after the window: one line for the new window that carries the old count.
        // (In two steps: FakeTimeProvider runs a due timer at the end of an Advance, not at its due time.)
        clock.Advance(TimeSpan.FromSeconds(50)); // the sweep at 60 s finds the window still open (it ends at 70 s)
        clock.Advance(TimeSpan.FromSeconds(15));
        for (var i = 0; i < 500; i++)
        {
            limiter.RecordFailure(attacker, "wrong bearer token on GET /api/services");
        }

        Assert.Equal(2, log.Lines.Count);
        Assert.Equal(3021, log.Lines[1].EventId);
        Assert.Contains("failed 500 times (490 answered 429)", log.Lines[1].Message);

        // Going quiet: the sweep writes the last window's count once.
        clock.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(3, log.Lines.Count);
        Assert.Equal(3022, log.Lines[2].EventId);
        Assert.Contains("500 in 60 s (490 answered 429)", log.Lines[2].Message);
        Assert.Equal(0, limiter.TrackedAddresses);
    }

    private sealed class RecordingLogger : ILogger<AuthFailureLimiter>
    {
        private readonly Lock _lock = new();

        public List<(int EventId, LogLevel Level, string Message)> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_lock)
            {
                Lines.Add((eventId.Id, logLevel, formatter(state, exception)));
            }
        }
    }
}
