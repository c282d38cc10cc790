namespace MultiVip.Server.Hosting;

/// <summary>
/// The log level, changeable while the server runs. `--log-level` (or MULTIVIP_LOG_LEVEL) gives the
/// level at start; a file <c>&lt;data-dir&gt;/log-level</c> holding one level name overrides it, at
/// start and on every SIGHUP — the way to turn on debug logging for an investigation without a
/// restart, and to turn it off again by deleting the file and sending SIGHUP once more.
/// </summary>
internal sealed class LogLevelSetting : IReloadableSetting
{
    // Framework categories stay quiet even at debug: their Information/Debug lines are per request
    // and say nothing MultiVip's own lines do not. Start-up failures (port in use) are reported
    // once, cleanly, by the caller, hence Critical for the host's own category.
    private static readonly (string Prefix, LogLevel Floor)[] Floors =
    [
        ("Microsoft.Extensions.Hosting", LogLevel.Critical),
        ("Microsoft.AspNetCore", LogLevel.Warning),
        ("Microsoft.Hosting", LogLevel.Warning),
    ];

    private readonly LogLevel _configured;
    private volatile int _current;

    public LogLevelSetting(LogLevel configured, string dataDir)
    {
        _configured = configured;
        _current = (int)configured;
        FilePath = Path.Combine(dataDir, LogLevelNames.FileName);
    }

    public string FilePath { get; }

    public LogLevel Current => (LogLevel)_current;

    /// <summary>True when the file exists, so start-up says that it overrides --log-level.</summary>
    public bool FileExists => File.Exists(FilePath);

    public string Reload()
    {
        string text;
        try
        {
            if (!File.Exists(FilePath))
            {
                _current = (int)_configured;
                return $"log level {Current} (the start-up level: there is no {FilePath})";
            }

            text = ReadStart(FilePath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"log level stays {Current}: {FilePath} cannot be read ({e.Message})";
        }

        if (!LogLevelNames.TryParse(text, out var level))
        {
            return $"log level stays {Current}: {FilePath} holds '{Model.Text.ClientText.Escape(text.Trim())}', not a level; write one of {LogLevelNames.Accepted}";
        }

        _current = (int)level;
        return $"log level {level} (from {FilePath})";
    }

    public bool IsEnabled(string? category, LogLevel level)
    {
        if (level == LogLevel.None)
        {
            return false;
        }

        var current = Current;
        if (category is null)
        {
            return level >= current;
        }

        // The reload's own line says what the new level is, so it shows even when that level is Warning or higher.
        if (category == SettingsReload.Category)
        {
            return level >= (current < LogLevel.Information ? current : LogLevel.Information);
        }

        foreach (var (prefix, floor) in Floors)
        {
            if (category.StartsWith(prefix, StringComparison.Ordinal))
            {
                return level >= (floor > current ? floor : current);
            }
        }

        return level >= current;
    }

    /// <summary>A level name is a few bytes; a huge or binary file is not read whole.</summary>
    private static string ReadStart(string path)
    {
        using var reader = new StreamReader(path);
        var buffer = new char[64];
        var read = reader.ReadBlock(buffer, 0, buffer.Length);
        return new string(buffer, 0, read);
    }
}

/// <summary>Level names for --log-level, MULTIVIP_LOG_LEVEL and the log-level file: .NET's names and the console's short ones.</summary>
public static class LogLevelNames
{
    public const string Accepted = "trace, debug, information, warning, error, critical or none";

    /// <summary>The names <see cref="TryParse"/> accepts, for shell completion and config samples.</summary>
    public static IReadOnlyList<string> Names { get; } = ["trace", "debug", "information", "warning", "error", "critical", "none"];

    public const string EnvironmentVariable = "MULTIVIP_LOG_LEVEL";

    /// <summary>The file in the data dir that overrides the start-up level, re-read on SIGHUP.</summary>
    public const string FileName = "log-level";

    public static bool TryParse(string? text, out LogLevel level)
    {
        level = LogLevel.Information;
        var name = text?.Trim().ToLowerInvariant();
        LogLevel? parsed = name switch
        {
            "trace" or "trce" => LogLevel.Trace,
            "debug" or "dbug" => LogLevel.Debug,
            "information" or "info" => LogLevel.Information,
            "warning" or "warn" => LogLevel.Warning,
            "error" or "fail" => LogLevel.Error,
            "critical" or "crit" => LogLevel.Critical,
            "none" => LogLevel.None,
            _ => null,
        };
        if (parsed is null)
        {
            return false;
        }

        level = parsed.Value;
        return true;
    }
}
