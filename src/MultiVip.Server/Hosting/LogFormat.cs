using Microsoft.Extensions.Logging.Console;

namespace MultiVip.Server.Hosting;

/// <summary>How `multivip serve` writes its log to the console (`--log-format`).</summary>
public enum LogFormat
{
    /// <summary>One line per event with a time stamp: for people at a terminal.</summary>
    Text,

    /// <summary>One JSON object per line with EventId, Category, Message and the structured State: for log shippers.</summary>
    Json,
}

internal static class LogFormatting
{
    public static ILoggingBuilder AddMultiVipConsole(this ILoggingBuilder logging, LogFormat format, LogLevelSetting level)
    {
        // One filter that reads the current level on every call, so SIGHUP can change it in place.
        logging.SetMinimumLevel(LogLevel.Trace);
        logging.AddFilter(level.IsEnabled);
        if (format == LogFormat.Json)
        {
            logging.AddJsonConsole(o =>
            {
                o.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";
                o.UseUtcTimestamp = true;
                o.IncludeScopes = false;
            });
        }
        else
        {
            logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss ";
            });
        }

        return logging;
    }
}
