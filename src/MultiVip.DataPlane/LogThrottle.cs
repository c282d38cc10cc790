namespace MultiVip.DataPlane;

/// <summary>
/// Lets an event a client can repeat at will (a refused connection, a dropped datagram, a failed
/// accept) reach the log at most once per interval, carrying how often it happened: a flood costs a
/// few lines instead of one per packet (a log that fills the disk is an outage of its own), and the
/// count still tells how big it was. The first occurrence is written at once; later ones within the
/// interval are counted and written as one line when it ends, with the details of the latest.
/// </summary>
/// <typeparam name="TState">The details of one occurrence (the client, the error) that the line shows.</typeparam>
internal sealed class LogThrottle<TState>
{
    private readonly TimeProvider _timeProvider;
    private readonly Action<TState, long, TimeSpan> _write;
    private readonly long _intervalTimestamps;
    private readonly Lock _gate = new();
    private ITimer? _flush;
    private bool _flushArmed;
    private long _pending;
    private TState? _latest;
    private long _nextLineAt = long.MinValue;

    /// <param name="write">Writes one line: the latest occurrence's details, the count since the last line, the interval.</param>
    public LogThrottle(TimeProvider timeProvider, Action<TState, long, TimeSpan> write, TimeSpan? interval = null)
    {
        _timeProvider = timeProvider;
        _write = write;
        Interval = interval ?? LogThrottle.DefaultInterval;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(Interval, TimeSpan.Zero, nameof(interval));
        _intervalTimestamps = (long)(Interval.TotalSeconds * timeProvider.TimestampFrequency);
    }

    public TimeSpan Interval { get; }

    /// <summary>Records one occurrence; writes it now if no line was written within the interval.</summary>
    public void Record(TState state)
    {
        long count;
        lock (_gate)
        {
            _pending++;
            var now = _timeProvider.GetTimestamp();
            if (now < _nextLineAt)
            {
                _latest = state;
                if (!_flushArmed)
                {
                    _flushArmed = true;
                    _flush ??= _timeProvider.CreateTimer(static s => ((LogThrottle<TState>)s!).Flush(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                    _flush.Change(TimeSpan.FromSeconds((double)(_nextLineAt - now) / _timeProvider.TimestampFrequency), Timeout.InfiniteTimeSpan);
                }

                return;
            }

            count = _pending;
            _pending = 0;
            _nextLineAt = now + _intervalTimestamps;
        }

        _write(state, count, Interval);
    }

    /// <summary>The interval ended with occurrences not yet written: one line for all of them.</summary>
    private void Flush()
    {
        TState state;
        long count;
        lock (_gate)
        {
            _flushArmed = false;
            if (_pending == 0)
            {
                return;
            }

            count = _pending;
            state = _latest!;
            _pending = 0;
            _latest = default;
            _nextLineAt = _timeProvider.GetTimestamp() + _intervalTimestamps;
        }

        _write(state, count, Interval);
    }
}

/// <summary>Defaults shared by every <see cref="LogThrottle{TState}"/>.</summary>
internal static class LogThrottle
{
    /// <summary>Long enough that a flood of hours stays a few hundred lines; short enough to show when it stops.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(10);
}
