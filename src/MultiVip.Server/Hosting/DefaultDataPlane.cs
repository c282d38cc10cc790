using MultiVip.DataPlane;
using MultiVip.DataPlane.Contract;

namespace MultiVip.Server.Hosting;

public static partial class ServerHost
{
    /// <summary>
    /// Every <see cref="DataPlaneOptions"/> property with the `multivip serve` option that sets it and
    /// how the <see cref="ServerOptions"/> value reaches it: the one place the three meet. The data
    /// plane's options are built from these rows only, and a test (ServeDataPlaneOptionsTests) fails
    /// when a property has no row, a row names an option serve does not have, or an option does not
    /// reach its property. A new data-plane setting is a property, a row, a ServerOptions field, a
    /// serve option and a README row.
    /// </summary>
    public static IReadOnlyList<DataPlaneSetting> DataPlaneSettings { get; } =
    [
        new(nameof(DataPlaneOptions.DrainTimeout), "--drain-timeout", (s, d) => d with { DrainTimeout = s.DrainTimeout }),
        new(nameof(DataPlaneOptions.MaxConnectionsPerListener), "--max-connections-per-listener", (s, d) => d with { MaxConnectionsPerListener = s.MaxConnectionsPerListener }),
        new(nameof(DataPlaneOptions.BackendConnectTimeout), "--connect-timeout", (s, d) => d with { BackendConnectTimeout = s.ConnectTimeout }),
        new(nameof(DataPlaneOptions.MaxConnectAttempts), "--connect-attempts", (s, d) => d with { MaxConnectAttempts = s.ConnectAttempts }),
        new(nameof(DataPlaneOptions.MaxUdpSessionsPerListener), "--max-udp-sessions-per-listener", (s, d) => d with { MaxUdpSessionsPerListener = s.MaxUdpSessionsPerListener }),
        new(nameof(DataPlaneOptions.MaxConnections), "--max-connections", (s, d) => s.MaxConnections is { } n ? d with { MaxConnections = n } : d),
        new(nameof(DataPlaneOptions.SocketEngine), "--socket-engine", (s, d) => d with { SocketEngine = s.SocketEngine }),
        new(nameof(DataPlaneOptions.MaxUdpSessions), "--max-udp-sessions", (s, d) => s.MaxUdpSessions is { } n ? d with { MaxUdpSessions = n } : d),
        new(nameof(DataPlaneOptions.Splice), "--splice", (s, d) => d with { Splice = s.Splice }),
        new(nameof(DataPlaneOptions.MaxSplicedDirections), "--max-spliced-directions", (s, d) => s.MaxSplicedDirections is { } n ? d with { MaxSplicedDirections = n } : d),
        // An interface to put the VIP addresses on means they may not be there yet when listeners bind.
        new(nameof(DataPlaneOptions.FreeBind), "--vip-interface", (s, d) => d with { FreeBind = FailoverSetup.ManagesAddresses(s) }),
    ];

    /// <summary>The data plane's options of a server started with <paramref name="options"/>.</summary>
    public static DataPlaneOptions DataPlaneOptionsFor(ServerOptions options) =>
        DataPlaneSettings.Aggregate(new DataPlaneOptions(), (current, setting) => setting.Apply(options, current));

    /// <summary>
    /// The data plane as serve runs it: the configured options, with the connection and session caps
    /// as the descriptor budget sized them (lowered when the open-file limit cannot hold them). The one
    /// place the server names a concrete data plane; everything else holds <see cref="IHostedDataPlane"/>.
    /// </summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1859", Justification = "The interface is the point: the server must not depend on the concrete data plane.")]
    private static IHostedDataPlane DefaultDataPlane(ServerOptions options, DescriptorPlan descriptors, ILoggerFactory loggers, TimeProvider time, bool freeBind, InheritedSockets inherited, MultiVip.DataPlane.Logging.IConnectionLog? accessLog)
    {
        IHostedDataPlane userSpace = new DataPlaneHost(
            DataPlaneOptionsFor(options) with
            {
                MaxConnectionsPerListener = descriptors.ConnectionsPerListener,
                MaxConnections = descriptors.Connections,
                MaxUdpSessionsPerListener = descriptors.UdpSessionsPerListener,
                MaxUdpSessions = descriptors.UdpSessions,
                // No room for a single pipe (a tiny descriptor limit): every direction copies.
                Splice = descriptors.SplicedDirections == 0 ? SpliceMode.Never : options.Splice,
                MaxSplicedDirections = Math.Max(1, descriptors.SplicedDirections),
                FreeBind = freeBind,
            },
            loggers,
            time,
            inherited,
            accessLog);
        if (options.DataPlane == Planes.UserSpace)
        {
            return userSpace;
        }

        try
        {
            // The kernel plane keeps PROXY-protocol listeners on the user-space one, in this server.
            return new MultiVip.DataPlane.Nftables.NftablesDataPlane(
                new MultiVip.DataPlane.Nftables.NftablesOptions { Masquerade = options.KernelSnat == "always" },
                userSpace,
                loggers,
                time);
        }
        catch
        {
            userSpace.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }
    }
}

/// <summary>One row of <see cref="ServerHost.DataPlaneSettings"/>: a data-plane property, its serve option, and the copy from ServerOptions.</summary>
public sealed record DataPlaneSetting(string Property, string ServeOption, Func<ServerOptions, DataPlaneOptions, DataPlaneOptions> Apply);
