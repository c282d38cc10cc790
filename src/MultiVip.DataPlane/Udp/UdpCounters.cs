namespace MultiVip.DataPlane.Udp;

/// <summary>Per-listener UDP counters, bumped with Interlocked; datagram counts are per packet but uncontended.</summary>
internal sealed class UdpCounters
{
    public long DatagramsIn;
    public long DatagramsOut;

    /// <summary>Payload bytes forwarded from clients to backends, and from backends back to clients (usage).</summary>
    public long BytesIn;
    public long BytesOut;
    public long SessionsCreated;
    public long SessionsExpired;
    public long SessionsEvicted;
    public long SessionsMoved;
    public long DeniedByAcl;
    public long NoHealthyBackend;
    public long SendFailures;
    public long SessionsRefused;
}
