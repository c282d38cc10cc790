using Microsoft.Data.Sqlite;
using MultiVip.Control.State;

namespace MultiVip.Cli.Serve;

/// <summary>
/// Where <c>multivip serve --demo</c> keeps its state. Not ./.multivip: after the README's
/// walk-through that holds the walk-through's myService, the demo would reuse it, and the curl
/// commands it prints would hit endpoints no demo backend answers. So the demo has its own data dir,
/// starts it afresh each time (every printed command then works), and refuses an explicitly given
/// --data-dir that already holds state rather than mix its scenario into it.
/// </summary>
internal static class DemoDataDirectory
{
    public const string Default = ".multivip-demo";

    /// <summary>The same name DataDirectory locks; a demo still running there keeps its state.</summary>
    private const string LockFile = "lock";

    /// <summary>serve's data dir: the one given (flag, environment or file), else the demo's own or the normal default.</summary>
    public static string Choose(string? given, bool demo, string normalDefault) => given ?? (demo ? Default : normalDefault);

    /// <summary>
    /// Readies <paramref name="dataDir"/> for the demo; returns the sentence to fail with, or null.
    /// The demo's own directory is emptied of the last demo's state; a given one must hold none.
    /// </summary>
    public static string? Prepare(string dataDir, bool given)
    {
        var full = Path.GetFullPath(dataDir);
        var state = Describe(full);
        if (state is null)
        {
            return null;
        }

        if (given)
        {
            return $"The data dir {full} already holds state ({state}); --demo creates its own myService and would mix with it, and its printed commands would not work. Run the demo without --data-dir (it keeps its own state in ./{Default}), or give it an empty directory.";
        }

        if (IsLocked(full))
        {
            // Another demo serves from it; ServerHost reports that with its own sentence.
            return null;
        }

        // The whole last demo goes, token and endpoint included: a token beside no database would
        // (rightly) make the server refuse to start on lost state.
        foreach (var file in new[] { SqliteStateStore.FileName, SqliteStateStore.FileName + "-wal", SqliteStateStore.FileName + "-shm", "token", "endpoint" })
        {
            File.Delete(Path.Combine(full, file));
        }

        return null;
    }

    /// <summary>"2 cloud services, 1 reserved IP", or null for a data dir with no state (or none at all).</summary>
    internal static string? Describe(string dataDir)
    {
        var database = Path.Combine(dataDir, SqliteStateStore.FileName);
        if (!File.Exists(database))
        {
            return null;
        }

        try
        {
            using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database, Mode = SqliteOpenMode.ReadWrite, Pooling = false }.ToString());
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = """
                SELECT (SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('services', 'reserved_ips')) = 2
                """;
            if (Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) == 0)
            {
                return null;
            }

            command.CommandText = "SELECT (SELECT count(*) FROM services), (SELECT count(*) FROM reserved_ips)";
            using var reader = command.ExecuteReader();
            reader.Read();
            var services = reader.GetInt64(0);
            var reserved = reader.GetInt64(1);
            return services + reserved == 0 ? null : $"{services} cloud service{(services == 1 ? "" : "s")}, {reserved} reserved IP{(reserved == 1 ? "" : "s")}";
        }
        catch (SqliteException e)
        {
            return $"a database that cannot be read: {e.Message}";
        }
    }

    private static bool IsLocked(string dataDir)
    {
        var path = Path.Combine(dataDir, LockFile);
        if (!File.Exists(path))
        {
            return false;
        }

        try
        {
            using var probe = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            return false;
        }
        catch (IOException)
        {
            return true;
        }
    }
}
