namespace MultiVip.Server.Hosting;

/// <summary>
/// A setting a running server can re-read without a restart (SIGHUP). Each one is a small source
/// of its own: the log level today; the config file, once there is one, joins the list in
/// <see cref="ServerHost"/> as another implementation.
/// </summary>
internal interface IReloadableSetting
{
    /// <summary>Re-reads the setting, applies it, and says in a few words what it is now (for the one log line).</summary>
    string Reload();
}

/// <summary>
/// What SIGHUP does to `multivip serve`: re-reads every <see cref="IReloadableSetting"/> and logs
/// one line saying what each is now. Nothing else is touched: listeners, established connections,
/// the API and the state stay as they are, so a closed SSH session or a `kill -HUP` meant as a
/// reload never drops traffic.
/// </summary>
internal sealed partial class SettingsReload(IReadOnlyList<IReloadableSetting> settings, ILogger<SettingsReload> logger)
{
    private readonly Lock _gate = new();

    /// <summary>Category of the reload's log line; it is logged even when the log level is above Information.</summary>
    public const string Category = "MultiVip.Server.Hosting.SettingsReload";

    public string Reload(string trigger)
    {
        // Two signals in quick succession re-read one after the other, never interleaved.
        lock (_gate)
        {
            var now = string.Join("; ", settings.Select(s => s.Reload()));
            Log.Reloaded(logger, trigger, now);
            return now;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2101, EventName = "SettingsReloaded", Level = LogLevel.Information,
            Message = "{Trigger}: re-read the settings: {Settings}. Nothing else changed: listeners, connections and the API keep running")]
        public static partial void Reloaded(ILogger logger, string trigger, string settings);
    }
}
