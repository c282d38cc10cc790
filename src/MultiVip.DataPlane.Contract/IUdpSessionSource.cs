namespace MultiVip.DataPlane.Contract;

/// <summary>
/// Whatever carries UDP reports its live sessions through this, so /metrics can publish
/// multivip_udp_sessions_active without knowing the UDP data plane. Register an implementation as a
/// singleton <see cref="IUdpSessionSource"/> in the server's services; with none, the metric has no series.
/// </summary>
public interface IUdpSessionSource
{
    IReadOnlyList<UdpSessionCount> GetUdpSessions();
}

/// <summary>Live sessions (client flows not yet idle-expired) of one UDP listener.</summary>
public sealed record UdpSessionCount(ListenerKey Key, string ServiceName, string VirtualIpName, long ActiveSessions);
