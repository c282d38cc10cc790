using MultiVip.DataPlane.Logging;
using MultiVip.Model.Errors;

namespace MultiVip.Server.Hosting;

/// <summary>The server's side of --access-log: opening it with a clear refusal, SIGHUP, and what /metrics reads.</summary>
internal static class AccessLogs
{
    /// <summary>The writer for <see cref="ServerOptions.AccessLog"/>, or null when it is off.</summary>
    public static AccessLogWriter? Open(ServerOptions options, ILoggerFactory loggers)
    {
        if (string.IsNullOrWhiteSpace(options.AccessLog))
        {
            return null;
        }

        if (options.AccessLogMaxBytes < 1024)
        {
            throw MultiVipException.BadRequest($"--access-log-max-size must be at least 1024 bytes, not {options.AccessLogMaxBytes}.");
        }

        if (options.AccessLogFiles < 1)
        {
            throw MultiVipException.BadRequest($"--access-log-files must be at least 1, not {options.AccessLogFiles}.");
        }

        try
        {
            return AccessLogWriter.Start(
                new AccessLogOptions { Path = Path.GetFullPath(options.AccessLog), MaxBytes = options.AccessLogMaxBytes, Files = options.AccessLogFiles },
                loggers);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw MultiVipException.BadRequest(
                $"The access log '{options.AccessLog}' cannot be opened for writing ({ex.Message}). Give a file in a directory the server may write (--access-log PATH), or leave the option out.");
        }
    }

    /// <summary>SIGHUP: reopen the file at its path (logrotate moved it away and created none).</summary>
    public sealed class Reopen(AccessLogWriter log) : IReloadableSetting
    {
        string IReloadableSetting.Reload() => log.Reopen();
    }

    /// <summary>The writer when on, for /metrics (lines written, records dropped).</summary>
    public sealed record Status(AccessLogWriter? Writer);
}
