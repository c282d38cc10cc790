using MultiVip.DataPlane;
using MultiVip.DataPlane.Contract;

namespace MultiVip.Server.Hosting;

public static partial class ServerHost
{
    /// <summary>The one place the server names a concrete data plane; everything else holds <see cref="IHostedDataPlane"/>.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1859", Justification = "The interface is the point: the server must not depend on the concrete data plane.")]
    private static IHostedDataPlane DefaultDataPlane(ServerOptions options, DescriptorPlan descriptors, ILoggerFactory loggers, TimeProvider time) =>
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
