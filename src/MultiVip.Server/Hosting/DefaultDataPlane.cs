using MultiVip.DataPlane;

namespace MultiVip.Server.Hosting;

public static partial class ServerHost
{
    private static DataPlaneHost DefaultDataPlane(ServerOptions options, DescriptorPlan descriptors, ILoggerFactory loggers, TimeProvider time) =>
        new DataPlaneHost(
            new DataPlaneOptions
            {
                DrainTimeout = options.DrainTimeout,
                MaxConnectionsPerListener = descriptors.ConnectionsPerListener,
                MaxConnections = descriptors.Connections,
                MaxUdpSessionsPerListener = descriptors.UdpSessionsPerListener,
                MaxUdpSessions = descriptors.UdpSessions,
            },
            loggers,
            time);
}
