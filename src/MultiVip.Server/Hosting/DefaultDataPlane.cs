using MultiVip.DataPlane;

namespace MultiVip.Server.Hosting;

public static partial class ServerHost
{
    private static DataPlaneHost DefaultDataPlane(ServerOptions options, ILoggerFactory loggers, TimeProvider time, bool freeBind) =>
        new DataPlaneHost(
            new DataPlaneOptions
            {
                DrainTimeout = options.DrainTimeout,
                MaxConnectionsPerListener = options.MaxConnectionsPerListener,
                MaxUdpSessionsPerListener = options.MaxUdpSessionsPerListener,
                FreeBind = freeBind,
            },
            loggers,
            time);
}
