namespace MultiVip.DataPlane.Health;

/// <summary>
/// Traffic and probe counters of one backend. Plain fields bumped with Interlocked: one add per read
/// on the forwarding path, no locks or allocations; metrics read them only when scraped.
/// </summary>
internal sealed class BackendCounters
{
    /// <summary>Bytes read from clients and sent on to this backend.</summary>
    public long BytesIn;

    /// <summary>Bytes read from this backend and sent back to clients.</summary>
    public long BytesOut;

    /// <summary>Connect attempts to this backend that failed (refused, unreachable, timed out).</summary>
    public long ConnectFailures;

    /// <summary>Connect attempts to this backend made because an earlier candidate failed.</summary>
    public long ConnectRetries;

    public long Probes;

    public long ProbeFailures;

    /// <summary>Duration of the last finished probe attempt, in <see cref="TimeSpan"/> ticks (-1 before the first).</summary>
    public long LastProbeLatencyTicks = -1;

    public void AddBytes(bool fromClient, int count)
    {
        if (fromClient)
        {
            Interlocked.Add(ref BytesIn, count);
        }
        else
        {
            Interlocked.Add(ref BytesOut, count);
        }
    }

    public void RecordProbe(bool success, TimeSpan latency)
    {
        Interlocked.Increment(ref Probes);
        if (!success)
        {
            Interlocked.Increment(ref ProbeFailures);
        }

        Volatile.Write(ref LastProbeLatencyTicks, latency.Ticks);
    }
}
