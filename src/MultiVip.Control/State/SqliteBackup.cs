using Microsoft.Data.Sqlite;

namespace MultiVip.Control.State;

/// <summary>What a checked backup holds.</summary>
public sealed record BackupSummary(int SchemaVersion, long Services, long ReservedIps, long Operations);

/// <summary>A backup file that cannot be restored, with the sentence that says why.</summary>
public sealed class BackupRejectedException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Backup and restore of the embedded store with SQLite's online backup API: it copies the pages
/// under one read transaction, so the copy is the committed state at one instant while the server
/// keeps writing (WAL). The copy is switched to a rollback journal so it is one self-contained
/// file that opens read-only anywhere; the restored server turns WAL back on when it opens it.
/// </summary>
public static class SqliteBackup
{
    /// <summary>Writes a consistent snapshot of <paramref name="store"/> to <paramref name="destination"/> (created, mode 0600).</summary>
    public static async Task<BackupSummary> SnapshotAsync(SqliteStateStore store, string destination, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        CreateOwnerOnly(destination);
        await using (var source = new SqliteConnection(store.ConnectionString))
        await using (var target = new SqliteConnection(FileConnection(destination, SqliteOpenMode.ReadWrite)))
        {
            await source.OpenAsync(cancellationToken);
            await target.OpenAsync(cancellationToken);

            // One step (-1): every page under a single read lock, never a mix of two commits.
            source.BackupDatabase(target);
            await using var journal = target.CreateCommand();
            journal.CommandText = "PRAGMA journal_mode=DELETE";
            await journal.ExecuteScalarAsync(cancellationToken);
        }

        return await VerifyAsync(destination, cancellationToken);
    }

    /// <summary>
    /// Checks that <paramref name="path"/> is an intact MultiVip database this build can open:
    /// SQLite's integrity check passes, the tables are there, the schema is not newer than ours.
    /// </summary>
    public static async Task<BackupSummary> VerifyAsync(string path, CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
        {
            throw new BackupRejectedException($"{path} does not exist. Give the file `multivip backup --to` wrote.");
        }

        try
        {
            await using var connection = new SqliteConnection(FileConnection(path, SqliteOpenMode.ReadOnly));
            await connection.OpenAsync(cancellationToken);
            var integrity = await ScalarAsync(connection, "PRAGMA integrity_check", cancellationToken);
            if (!string.Equals(integrity?.ToString(), "ok", StringComparison.Ordinal))
            {
                throw new BackupRejectedException($"{path} is damaged: SQLite's integrity check says '{integrity}'. Use another backup.");
            }

            var tables = new[] { "schema_migrations", "services", "reserved_ips", "operations" };
            foreach (var table in tables)
            {
                var found = await ScalarAsync(connection, $"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '{table}'", cancellationToken);
                if (Convert.ToInt64(found, System.Globalization.CultureInfo.InvariantCulture) == 0)
                {
                    throw new BackupRejectedException($"{path} is an SQLite database but not a MultiVip backup (it has no '{table}' table).");
                }
            }

            var version = Convert.ToInt32(await ScalarAsync(connection, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
            if (version > SchemaMigrations.LatestVersion)
            {
                throw new BackupRejectedException(
                    $"{path} was made by a newer MultiVip (schema version {version}; this build knows up to {SchemaMigrations.LatestVersion}). Restore it with that version or newer.");
            }

            return new BackupSummary(
                version,
                await CountAsync(connection, "services", cancellationToken),
                await CountAsync(connection, "reserved_ips", cancellationToken),
                await CountAsync(connection, "operations", cancellationToken));
        }
        catch (SqliteException e)
        {
            throw new BackupRejectedException($"{path} is not a readable SQLite database ({e.Message}). Give the file `multivip backup --to` wrote.", e);
        }
    }

    /// <summary>
    /// Verifies <paramref name="backup"/>, then writes it as the database of the empty or new
    /// <paramref name="dataDir"/> (0700). The database appears under its real name only once it is
    /// complete, so an interrupted restore leaves nothing a server would start from.
    /// </summary>
    public static async Task<BackupSummary> RestoreAsync(string backup, string dataDir, CancellationToken cancellationToken)
    {
        var summary = await VerifyAsync(backup, cancellationToken);
        Directory.CreateDirectory(dataDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var final = Path.Combine(dataDir, SqliteStateStore.FileName);
        var partial = final + ".restoring";
        File.Delete(partial);
        CreateOwnerOnly(partial);
        try
        {
            await using (var source = new SqliteConnection(FileConnection(backup, SqliteOpenMode.ReadOnly)))
            await using (var target = new SqliteConnection(FileConnection(partial, SqliteOpenMode.ReadWrite)))
            {
                await source.OpenAsync(cancellationToken);
                await target.OpenAsync(cancellationToken);
                source.BackupDatabase(target);

                // A plain copy of a WAL database carries WAL mode along; as a rollback-journal file it
                // leaves no -wal/-shm beside the partial name. The server turns WAL on at open.
                await using var journal = target.CreateCommand();
                journal.CommandText = "PRAGMA journal_mode=DELETE";
                await journal.ExecuteScalarAsync(cancellationToken);
            }

            await VerifyAsync(partial, cancellationToken);
            File.Move(partial, final);
            return summary;
        }
        catch
        {
            foreach (var suffix in new[] { "", "-journal", "-wal", "-shm" })
            {
                File.Delete(partial + suffix);
            }

            throw;
        }
    }

    private static string FileConnection(string path, SqliteOpenMode mode) => new SqliteConnectionStringBuilder
    {
        DataSource = path,
        Mode = mode,
        // Not pooled: the file is closed when the connection is, so it can be renamed, streamed or deleted.
        Pooling = false,
    }.ToString();

    /// <summary>An empty file SQLite takes as an empty database, created 0600 before any state is written into it.</summary>
    private static void CreateOwnerOnly(string path)
    {
        using var _ = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = OperatingSystem.IsWindows() ? null : UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
    }

    private static async Task<long> CountAsync(SqliteConnection connection, string table, CancellationToken cancellationToken) =>
        Convert.ToInt64(await ScalarAsync(connection, $"SELECT count(*) FROM {table}", cancellationToken), System.Globalization.CultureInfo.InvariantCulture);

    private static async Task<object?> ScalarAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteScalarAsync(cancellationToken);
    }
}
