using MultiVip.DataPlane;

namespace MultiVip.Server.Hosting;

public static partial class ServerHost
{
    private static TcpDataPlane DefaultDataPlane(ServerOptions options, ILoggerFactory loggers, TimeProvider time) =>
        new TcpDataPlane(
            new DataPlaneOptions
            {
                DrainTimeout = options.DrainTimeout,
                MaxConnectionsPerListener = options.MaxConnectionsPerListener,
            },
            loggers,
            time);
}
