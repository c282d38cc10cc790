using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace MultiVip.Server.Security;

/// <summary>What the limiter says about one failed credential.</summary>
/// <param name="Throttled">The address is past its limit: answer 429 instead of 401.</param>
/// <param name="Failures">Failures counted for the address (or the shared overflow counter) in the current window, this one included.</param>
/// <param name="RetryAfter">Time until the window ends and the address starts over.</param>
/// <param name="RetryAt">When the window ends.</param>
internal readonly record struct AuthFailureVerdict(bool Throttled, int Failures, TimeSpan RetryAfter, DateTimeOffset RetryAt)
{
    /// <summary>Whole seconds, rounded up, never 0: the Retry-After header's value.</summary>
    public int RetryAfterSeconds => Math.Max(1, (int)Math.Ceiling(RetryAfter.TotalSeconds));
}

/// <summary>
/// Counts wrong credentials (bearer tokens, dashboard sign-ins) per client address in a fixed
/// window, in a table of bounded size. Only failures are counted and only failures are throttled:
/// a request with the right token is never looked up here, so an attacker sharing the operator's
/// address (NAT, or every local user on loopback) cannot lock the operator out. The token has 256
/// random bits, so the limit is not what makes guessing hopeless; it bounds what a guessing client
/// costs (work, log lines) and tells it to back off.
/// IPv6 clients are counted per /64, the block one host is normally given: one client cannot
/// escape the limit by cycling through its own addresses.
/// Logging is throttled the same way: the first failure of an address's window is logged at once,
/// the rest are counted and summed up in the next line for that address (when it fails again after
/// the window) or when the window ends with no further failure.
/// </summary>
internal sealed partial class AuthFailureLimiter : IDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<IPAddress, LinkedListNode<Window>> _byAddress = [];

    // Ordered by window start, so expired windows are always at the head: pruning is O(expired).
    private readonly LinkedList<Window> _byAge = new();
    private readonly AuthenticationOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<AuthFailureLimiter> _logger;
    private readonly ITimer _sweeper;

    // Failures of addresses that found the table full share this one window.
    private Window? _overflow;

    public AuthFailureLimiter(AuthenticationOptions options, TimeProvider time, ILogger<AuthFailureLimiter> logger)
    {
        _options = options;
        _time = time;
        _logger = logger;
        // Ends windows (and writes their summaries) even when no failure arrives to do it.
        _sweeper = time.CreateTimer(_ => Sweep(), null, options.FailureWindow, options.FailureWindow);
    }

    /// <summary>Addresses with a window open (the overflow counter not included).</summary>
    public int TrackedAddresses
    {
        get
        {
            lock (_lock)
            {
                return _byAddress.Count;
            }
        }
    }

    /// <summary>Counts one wrong credential from <paramref name="remote"/>; <paramref name="what"/> says which (for the log).</summary>
    public AuthFailureVerdict RecordFailure(IPAddress? remote, string what)
    {
        var now = _time.GetUtcNow();
        var key = KeyOf(remote);
        lock (_lock)
        {
            Window window;
            if (_byAddress.TryGetValue(key, out var node))
            {
                window = node.Value;
                if (window.HasEnded(now, _options.FailureWindow))
                {
                    // The same address again after its window: one line that carries the old count.
                    var previous = window.Failures;
                    var refused = window.Refused;
                    window.Restart(now);
                    _byAge.Remove(node);
                    _byAge.AddLast(node);
                    Log.FailedAgain(_logger, Describe(key), what, previous, refused, (int)_options.FailureWindow.TotalSeconds);
                }
            }
            else
            {
                PruneEnded(now);
                if (_byAddress.Count < _options.MaxTrackedAddresses)
                {
                    window = new Window(key, now);
                    _byAddress.Add(key, _byAge.AddLast(window));
                    Log.Failed(_logger, Describe(key), what, (int)_options.FailureWindow.TotalSeconds);
                }
                else
                {
                    window = Overflow(now);
                }
            }

            window.Failures++;
            var end = window.Start + _options.FailureWindow;
            var throttled = window.Failures > _options.FailureLimit;
            if (throttled)
            {
                window.Refused++;
            }

            return new AuthFailureVerdict(throttled, window.Failures, end - now, end);
        }
    }

    /// <summary>The 429 body's message: what happened and when to come back.</summary>
    public string Explain(IPAddress? remote, AuthFailureVerdict verdict, string attempts) =>
        string.Create(
            CultureInfo.InvariantCulture,
            $"Too many {attempts} from {Describe(KeyOf(remote))}: {verdict.Failures} in the last {(int)_options.FailureWindow.TotalSeconds} s (the limit is {_options.FailureLimit}). Try again in {verdict.RetryAfterSeconds} s, after {verdict.RetryAt.UtcDateTime:HH:mm:ss} UTC. Requests with the right token are still answered.");

    /// <summary>Ends the windows that are over, logging the count of those with failures left unlogged.</summary>
    public void Sweep()
    {
        lock (_lock)
        {
            PruneEnded(_time.GetUtcNow());
        }
    }

    public void Dispose() => _sweeper.Dispose();

    private Window Overflow(DateTimeOffset now)
    {
        if (_overflow is null || _overflow.HasEnded(now, _options.FailureWindow))
        {
            if (_overflow is { Failures: > 0 } ended)
            {
                Log.OverflowSummary(_logger, ended.Failures, ended.Refused, (int)_options.FailureWindow.TotalSeconds);
            }

            _overflow = new Window(IPAddress.None, now);
            Log.Overflow(_logger, _options.MaxTrackedAddresses);
        }

        return _overflow;
    }

    private void PruneEnded(DateTimeOffset now)
    {
        while (_byAge.First is { } head && head.Value.HasEnded(now, _options.FailureWindow))
        {
            var window = head.Value;
            _byAge.RemoveFirst();
            _byAddress.Remove(window.Key);
            if (window.Failures > 1)
            {
                Log.Summary(_logger, Describe(window.Key), window.Failures, window.Refused, (int)_options.FailureWindow.TotalSeconds);
            }
        }

        if (_overflow is { } overflow && overflow.HasEnded(now, _options.FailureWindow))
        {
            Log.OverflowSummary(_logger, overflow.Failures, overflow.Refused, (int)_options.FailureWindow.TotalSeconds);
            _overflow = null;
        }
    }

    /// <summary>IPv4 (also when mapped into IPv6) as is; IPv6 as its /64; no address (not a socket) as one key.</summary>
    internal static IPAddress KeyOf(IPAddress? remote)
    {
        if (remote is null)
        {
            return IPAddress.None;
        }

        if (remote.IsIPv4MappedToIPv6)
        {
            return remote.MapToIPv4();
        }

        if (remote.AddressFamily != AddressFamily.InterNetworkV6 || IPAddress.IsLoopback(remote))
        {
            return remote;
        }

        var bytes = remote.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes);
    }

    private static string Describe(IPAddress key) =>
        key.AddressFamily == AddressFamily.InterNetworkV6 && !IPAddress.IsLoopback(key) ? key + "/64" : key.ToString();

    private sealed class Window(IPAddress key, DateTimeOffset start)
    {
        public IPAddress Key { get; } = key;

        public DateTimeOffset Start { get; private set; } = start;

        public int Failures { get; set; }

        public int Refused { get; set; }

        public bool HasEnded(DateTimeOffset now, TimeSpan length) => now >= Start + length;

        public void Restart(DateTimeOffset now)
        {
            Start = now;
            Failures = 0;
            Refused = 0;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3020, EventName = "AuthenticationFailed", Level = LogLevel.Warning,
            Message = "Authentication failed from {Remote}: {What}. Further failures from this address in the next {WindowSeconds} s are counted, not logged one by one")]
        public static partial void Failed(ILogger logger, string remote, string what, int windowSeconds);

        [LoggerMessage(EventId = 3021, EventName = "AuthenticationFailedAgain", Level = LogLevel.Warning,
            Message = "Authentication failed from {Remote}: {What}. In its previous {WindowSeconds} s window this address failed {PreviousFailures} times ({PreviousRefused} answered 429)")]
        public static partial void FailedAgain(ILogger logger, string remote, string what, int previousFailures, int previousRefused, int windowSeconds);

        [LoggerMessage(EventId = 3022, EventName = "AuthenticationFailureSummary", Level = LogLevel.Warning,
            Message = "Authentication failures from {Remote}: {Failures} in {WindowSeconds} s ({Refused} answered 429)")]
        public static partial void Summary(ILogger logger, string remote, int failures, int refused, int windowSeconds);

        [LoggerMessage(EventId = 3023, EventName = "AuthenticationFailureTableFull", Level = LogLevel.Warning,
            Message = "Authentication failures come from more than {MaxAddresses} addresses at once: failures from further addresses are counted together until the table has room")]
        public static partial void Overflow(ILogger logger, int maxAddresses);

        [LoggerMessage(EventId = 3024, EventName = "AuthenticationFailureOverflowSummary", Level = LogLevel.Warning,
            Message = "Authentication failures from addresses beyond the table: {Failures} in {WindowSeconds} s ({Refused} answered 429)")]
        public static partial void OverflowSummary(ILogger logger, int failures, int refused, int windowSeconds);
    }
}
