using System.Net;
using Microsoft.Extensions.Logging;
using MultiVip.DataPlane.Contract;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane;

/// <summary>Every log line of the data plane, source-generated so disabled levels cost nothing on the hot path.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, EventName = "ListenerStarted", Level = LogLevel.Information,
        Message = "Listening on {Key} for service {ServiceName} with {BackendCount} backend(s)")]
    public static partial void ListenerStarted(ILogger logger, ListenerKey key, string serviceName, int backendCount);

    [LoggerMessage(EventId = 2, EventName = "ListenerStopped", Level = LogLevel.Information,
        Message = "Stopped listening on {Key}; draining {ConnectionCount} connection(s)")]
    public static partial void ListenerStopped(ILogger logger, ListenerKey key, int connectionCount);

    [LoggerMessage(EventId = 3, EventName = "ListenerBindFailed", Level = LogLevel.Error,
        Message = "Cannot listen on {Key}: {Reason}")]
    public static partial void ListenerBindFailed(ILogger logger, ListenerKey key, string reason);

    [LoggerMessage(EventId = 5, EventName = "ListenerUpdated", Level = LogLevel.Information,
        Message = "Reconfigured {Key}: {BackendCount} backend(s), {RemovedCount} draining")]
    public static partial void ListenerUpdated(ILogger logger, ListenerKey key, int backendCount, int removedCount);

    [LoggerMessage(EventId = 6, EventName = "StaleGenerationIgnored", Level = LogLevel.Warning,
        Message = "Ignored desired state generation {Generation}: generation {Applied} is already applied")]
    public static partial void StaleGenerationIgnored(ILogger logger, long generation, long applied);

    [LoggerMessage(EventId = 7, EventName = "AcceptFailed", Level = LogLevel.Warning,
        Message = "{Key}: accept failed {Count} time(s) in the last {Interval} (latest: {Error}); {Hint}")]
    public static partial void AcceptFailed(ILogger logger, ListenerKey key, long count, TimeSpan interval, System.Net.Sockets.SocketError error, string hint);

    [LoggerMessage(EventId = 8, EventName = "DuplicateListener", Level = LogLevel.Error,
        Message = "Desired state lists {Key} more than once; the first spec wins")]
    public static partial void DuplicateListener(ILogger logger, ListenerKey key);

    [LoggerMessage(EventId = 10, EventName = "ConnectionDeniedByAcl", Level = LogLevel.Debug,
        Message = "{Key}: connection from {Remote} denied by the endpoint ACL")]
    public static partial void ConnectionDeniedByAcl(ILogger logger, ListenerKey key, IPEndPoint remote);

    [LoggerMessage(EventId = 11, EventName = "ConnectionOverLimit", Level = LogLevel.Warning,
        Message = "{Key}: refused {Count} connection(s) in the last {Interval}, the listener already carries {Limit} connections (--max-connections-per-listener); latest from {Remote}")]
    public static partial void ConnectionOverLimit(ILogger logger, ListenerKey key, long count, TimeSpan interval, int limit, IPEndPoint remote);

    [LoggerMessage(EventId = 17, EventName = "ConnectionOverTotalLimit", Level = LogLevel.Warning,
        Message = "{Key}: refused {Count} connection(s) in the last {Interval}, the data plane already carries {Limit} connections in total (--max-connections, sized from the descriptor limit); latest from {Remote}")]
    public static partial void ConnectionOverTotalLimit(ILogger logger, ListenerKey key, long count, TimeSpan interval, int limit, IPEndPoint remote);

    [LoggerMessage(EventId = 12, EventName = "NoHealthyBackend", Level = LogLevel.Warning,
        Message = "{Key}: connection from {Remote} reset, no backend is in rotation")]
    public static partial void NoHealthyBackend(ILogger logger, ListenerKey key, IPEndPoint remote);

    [LoggerMessage(EventId = 13, EventName = "BackendConnectFailed", Level = LogLevel.Debug,
        Message = "{Key}: attempt {Attempt} to connect to {Target} failed")]
    public static partial void BackendConnectFailed(ILogger logger, ListenerKey key, int attempt, IPEndPoint target, Exception exception);

    [LoggerMessage(EventId = 14, EventName = "BackendConnectExhausted", Level = LogLevel.Warning,
        Message = "{Key}: connection from {Remote} reset after {Attempts} failed backend connect attempt(s)")]
    public static partial void BackendConnectExhausted(ILogger logger, ListenerKey key, IPEndPoint remote, int attempts);

    [LoggerMessage(EventId = 15, EventName = "ConnectionIdleClosed", Level = LogLevel.Debug,
        Message = "{Key}: connection from {Remote} closed after {IdleTimeout} without traffic")]
    public static partial void ConnectionIdleClosed(ILogger logger, ListenerKey key, IPEndPoint remote, TimeSpan idleTimeout);

    [LoggerMessage(EventId = 16, EventName = "ConnectionSetupFailed", Level = LogLevel.Debug,
        Message = "{Key}: setting up the connection from {Remote} failed")]
    public static partial void ConnectionSetupFailed(ILogger logger, ListenerKey key, IPEndPoint? remote, Exception exception);

    [LoggerMessage(EventId = 20, EventName = "BackendHealthChanged", Level = LogLevel.Information,
        Message = "{Key}: backend {VmName}/{EndpointName} is now {State} ({Error})")]
    public static partial void BackendHealthChanged(ILogger logger, ListenerKey key, string vmName, string endpointName, HealthState state, string? error);

    [LoggerMessage(EventId = 21, EventName = "ProbeFailed", Level = LogLevel.Debug,
        Message = "{Key}: probe of {Target} failed: {Error}")]
    public static partial void ProbeFailed(ILogger logger, ListenerKey key, IPEndPoint target, string error);

    [LoggerMessage(EventId = 30, EventName = "DrainTimedOut", Level = LogLevel.Information,
        Message = "{Key}: drain timeout reached, resetting {Count} remaining connection(s)")]
    public static partial void DrainTimedOut(ILogger logger, ListenerKey key, int count);

    [LoggerMessage(EventId = 40, EventName = "UdpListenerStarted", Level = LogLevel.Information,
        Message = "Receiving datagrams on {Key} for service {ServiceName} with {BackendCount} backend(s)")]
    public static partial void UdpListenerStarted(ILogger logger, ListenerKey key, string serviceName, int backendCount);

    [LoggerMessage(EventId = 41, EventName = "UdpListenerStopped", Level = LogLevel.Information,
        Message = "Stopped receiving on {Key}; dropped {SessionCount} session(s)")]
    public static partial void UdpListenerStopped(ILogger logger, ListenerKey key, int sessionCount);

    [LoggerMessage(EventId = 42, EventName = "UdpDatagramDeniedByAcl", Level = LogLevel.Debug,
        Message = "{Key}: datagram from {Remote} dropped, denied by the endpoint ACL")]
    public static partial void UdpDatagramDeniedByAcl(ILogger logger, ListenerKey key, IPEndPoint remote);

    [LoggerMessage(EventId = 43, EventName = "UdpNoHealthyBackend", Level = LogLevel.Warning,
        Message = "{Key}: datagram from {Remote} dropped, no backend is in rotation")]
    public static partial void UdpNoHealthyBackend(ILogger logger, ListenerKey key, IPEndPoint remote);

    [LoggerMessage(EventId = 44, EventName = "UdpSessionEvicted", Level = LogLevel.Debug,
        Message = "{Key}: evicted {Count} session(s) (least recently used) in the last {Interval} to admit new ones; latest of {Remote}")]
    public static partial void UdpSessionEvicted(ILogger logger, ListenerKey key, long count, TimeSpan interval, IPEndPoint remote);

    [LoggerMessage(EventId = 48, EventName = "UdpSessionsRefused", Level = LogLevel.Warning,
        Message = "{Key}: dropped datagrams of {Count} new client(s) in the last {Interval}: the data plane holds {Limit} UDP sessions in total (--max-udp-sessions, sized from the descriptor limit) and none could be evicted; latest from {Remote}")]
    public static partial void UdpSessionsRefused(ILogger logger, ListenerKey key, long count, TimeSpan interval, int limit, IPEndPoint remote);

    [LoggerMessage(EventId = 49, EventName = "UdpSessionSocketFailed", Level = LogLevel.Warning,
        Message = "{Key}: could not open a backend socket for {Count} new client(s) in the last {Interval} (latest: {Error}); {Hint}")]
    public static partial void UdpSessionSocketFailed(ILogger logger, ListenerKey key, long count, TimeSpan interval, System.Net.Sockets.SocketError error, string hint);

    [LoggerMessage(EventId = 45, EventName = "UdpSessionsMoved", Level = LogLevel.Information,
        Message = "{Key}: dropped {Count} session(s) bound to backends out of rotation; their next datagram picks a member in rotation")]
    public static partial void UdpSessionsMoved(ILogger logger, ListenerKey key, int count);

    [LoggerMessage(EventId = 46, EventName = "UdpReceiveFailed", Level = LogLevel.Debug,
        Message = "{Key}: receive failed")]
    public static partial void UdpReceiveFailed(ILogger logger, ListenerKey key, Exception exception);

    [LoggerMessage(EventId = 47, EventName = "UdpSessionFailed", Level = LogLevel.Debug,
        Message = "{Key}: session of {Remote} closed after a socket error")]
    public static partial void UdpSessionFailed(ILogger logger, ListenerKey key, IPEndPoint remote, Exception exception);
}
