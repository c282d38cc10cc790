using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace MultiVip.Server.Hosting;

/// <summary>
/// Bounds what a client can hold on the API without a token: a connection cap sized by the
/// descriptor budget, idle connections displaced near the cap (<see cref="ApiConnectionGuard"/>),
/// timeouts that close sockets that send nothing or trickle, and an accept loop that backs off at
/// the descriptor limit (<see cref="ApiSocketTransport"/>).
/// </summary>
internal static class ApiConnectionLimits
{
    /// <summary>A connection with no request in progress is closed after this (Kestrel's default is 130 s).</summary>
    public static readonly TimeSpan KeepAliveTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The whole request head must arrive within this once it has begun (Kestrel's default is 30 s).</summary>
    public static readonly TimeSpan RequestHeadersTimeout = TimeSpan.FromSeconds(10);

    /// <summary>A body slower than 240 bytes/s after a 5 s grace is cut (Kestrel's default, set here so it cannot drift).</summary>
    public static readonly MinDataRate MinRequestBodyDataRate = new(bytesPerSecond: 240, gracePeriod: TimeSpan.FromSeconds(5));

    /// <summary>Call before the host's own ConfigureKestrel: the connection middleware must be in place before Listen().</summary>
    public static WebApplicationBuilder AddApiConnectionLimits(this WebApplicationBuilder builder, int maxConnections, TimeProvider timeProvider)
    {
        builder.Services.AddSingleton(sp => new ApiConnectionGuard(maxConnections, timeProvider, sp.GetRequiredService<ILogger<ApiConnectionGuard>>()));
        builder.Services.AddSingleton<IConnectionListenerFactory>(sp => new ApiSocketTransport(sp.GetRequiredService<ILoggerFactory>(), timeProvider, sp.GetRequiredService<ApiConnectionGuard>(), sp.GetService<MultiVip.DataPlane.Contract.InheritedSockets>() ?? MultiVip.DataPlane.Contract.InheritedSockets.None));
        builder.Services.AddSingleton<IStartupFilter, TrackRequests>();
        builder.Services.AddOptions<KestrelServerOptions>().Configure<ApiConnectionGuard>((kestrel, guard) =>
        {
            // The backstop: the guard bounds connections earlier, at accept (see ApiConnectionGuard).
            // Kestrel's count lags the guard's by connections whose teardown is finishing, hence the margin.
            kestrel.Limits.MaxConcurrentConnections = guard.DescriptorLimit + ApiConnectionGuard.MaxClosing;
            kestrel.Limits.KeepAliveTimeout = KeepAliveTimeout;
            kestrel.Limits.RequestHeadersTimeout = RequestHeadersTimeout;
            kestrel.Limits.MinRequestBodyDataRate = MinRequestBodyDataRate;
            kestrel.ConfigureEndpointDefaults(listen => listen.Use(next => connection => guard.OnConnectionAsync(connection, next)));
        });

        // Kestrel logs every connection it refuses over its cap as a warning: a flood would flood the log.
        // (The guard acts first, at accept; its line, once per interval with a count, says what happened.)
        builder.Logging.AddFilter("Microsoft.AspNetCore.Server.Kestrel.Connections", LogLevel.Error);
        return builder;
    }

    /// <summary>Runs ahead of the app's pipeline, so every request marks its connection busy.</summary>
    private sealed class TrackRequests(ApiConnectionGuard guard) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(guard.OnRequestAsync);
            next(app);
        };
    }
}
