namespace MultiVip.DataPlane.Tcp;

/// <summary>Per-listener counters, bumped with Interlocked on connection events (never per packet).</summary>
internal sealed class ListenerCounters
{
    public long Forwarded;
    public long RefusedOverLimit;
    public long DeniedByAcl;
    public long NoHealthyBackend;
    public long ConnectRetries;
    public long ConnectFailures;
    public long ConnectExhausted;
    public long IdleClosed;
    public long DrainReset;
    public long AcceptFailures;
}
