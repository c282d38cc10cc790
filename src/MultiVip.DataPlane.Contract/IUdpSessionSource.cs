namespace MultiVip.DataPlane.Contract;

/// <summary>
/// Whatever carries UDP reports its live sessions and counters through this, so /metrics can publish
/// multivip_udp_* without knowing the UDP data plane. Register an implementation as a
/// singleton <see cref="IUdpSessionSource"/> in the server's services; with none, the metric has no series.
/// </summary>
public interface IUdpSessionSource
{
    IReadOnlyList<UdpSessionCount> GetUdpSessions();
}

/// <summary>
/// Live sessions (client flows not yet idle-expired) of one UDP listener, and its counters since it
/// was created. Read on demand (a scrape), never on the datagram path.
/// </summary>
public sealed record UdpSessionCount(ListenerKey Key, string ServiceName, string VirtualIpName, long ActiveSessions)
{
    /// <summary>Datagrams received from clients on the VIP (those dropped below included).</summary>
    public long DatagramsIn { get; init; }

    /// <summary>Backend replies sent back to clients.</summary>
    public long DatagramsOut { get; init; }

    public long SessionsCreated { get; init; }

    /// <summary>Sessions closed after the endpoint's idle timeout without a datagram.</summary>
    public long SessionsExpired { get; init; }

    /// <summary>Least recently used sessions closed to make room for a new client (table at its cap).</summary>
    public long SessionsEvicted { get; init; }

    /// <summary>Sessions closed because their backend left rotation or the listener; the next datagram picks a new one.</summary>
    public long SessionsMoved { get; init; }

    /// <summary>Datagrams from a source the endpoint's ACL denies.</summary>
    public long DeniedByAcl { get; init; }

    /// <summary>Datagrams of a new client dropped because no backend was in rotation.</summary>
    public long NoHealthyBackend { get; init; }

    /// <summary>Datagrams that could not be sent to the backend (refused, or the session was just closed).</summary>
    public long SendFailures { get; init; }

    /// <summary>Datagrams of a new client dropped because the data plane's session total (--max-udp-sessions) was full and no session could be evicted.</summary>
    public long SessionsRefused { get; init; }

    /// <summary>Payload bytes forwarded from clients to backends.</summary>
    public long BytesIn { get; init; }

    /// <summary>Payload bytes of backend replies sent back to clients.</summary>
    public long BytesOut { get; init; }
}
