using MultiVip.Server.Dns;

namespace MultiVip.Server.Hosting;

public static partial class ServerHost
{
    /// <summary>
    /// Raises the soft descriptor limit to the hard one and sizes every cap from it, before anything
    /// opens a socket. Where the limit cannot be read (Windows) the caps are kept as configured.
    /// </summary>
    private static DescriptorPlan PlanDescriptors(ServerOptions options, bool dns)
    {
        var limits = DescriptorLimit.Raise();
        return DescriptorBudget.Plan(new DescriptorBudgetRequest
        {
            Limit = limits?.Soft ?? int.MaxValue,
            InUse = limits is null ? 0 : DescriptorLimit.CountOpen(),
            DnsTcpConnections = dns ? ServiceDnsServer.MaxTcpConnections : 0,
            MaxApiConnections = options.MaxApiConnections,
            MaxConnectionsPerListener = options.MaxConnectionsPerListener,
            MaxConnections = options.MaxConnections,
            MaxUdpSessionsPerListener = options.MaxUdpSessionsPerListener,
            MaxUdpSessions = options.MaxUdpSessions,
            Splice = options.SocketEngine == MultiVip.DataPlane.SocketEngine.Epoll && options.Splice != MultiVip.DataPlane.SpliceMode.Never,
            MaxSplicedDirections = options.MaxSplicedDirections,
            IdlePipes = MultiVip.DataPlane.DataPlaneOptions.IdlePipesPerCore * Math.Max(1, Environment.ProcessorCount),
        });
    }

    private static void LogDescriptorPlan(DescriptorPlan plan, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger("MultiVip.Server.Hosting.DescriptorBudget");
        if (plan.Warning is { } warning)
        {
            DescriptorLog.CapsLowered(logger, warning);
        }

        DescriptorLog.DescriptorPlan(logger, plan.Summary);
    }

    private static partial class DescriptorLog
    {
        [LoggerMessage(EventId = 4010, EventName = "DescriptorCapsLowered", Level = LogLevel.Warning, Message = "{Warning}")]
        public static partial void CapsLowered(ILogger logger, string warning);

        [LoggerMessage(EventId = 4011, EventName = "DescriptorPlan", Level = LogLevel.Information, Message = "{Summary}")]
        public static partial void DescriptorPlan(ILogger logger, string summary);
    }
}
