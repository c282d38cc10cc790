namespace MultiVip.DataPlane.Sockets;

/// <summary>How often a listener (TCP or UDP) walks its connections or sessions for idle ones.</summary>
internal static class IdleSweep
{
    /// <summary>
    /// The sweep runs at a quarter of the idle timeout (capped at 30 s), so a connection closes between
    /// 1× and 1.25× the timeout: precise enough for a 4-30 minute setting at the cost of one walk over
    /// the connections per period instead of a timer per read.
    /// </summary>
    public static TimeSpan Period(TimeSpan idleTimeout) =>
        idleTimeout <= TimeSpan.Zero
            ? Timeout.InfiniteTimeSpan
            : TimeSpan.FromTicks(Math.Clamp(idleTimeout.Ticks / 4, TimeSpan.FromMilliseconds(10).Ticks, TimeSpan.FromSeconds(30).Ticks));
}
