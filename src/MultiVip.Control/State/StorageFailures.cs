using Microsoft.Data.Sqlite;
using MultiVip.Model.Errors;

namespace MultiVip.Control.State;

/// <summary>
/// The data dir cannot be used as it is: its disk is full, it is read-only, the database is damaged
/// or gone. The message is one line for the operator (what is wrong, where, what to do); `multivip
/// serve` prints it and exits non-zero instead of starting with an empty or half-read state.
/// </summary>
public sealed class StateStorageException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Recognises storage failures in what the file system (errno, as <see cref="IOException.HResult"/>
/// on Linux) and SQLite (result codes) report, and words them for the operator.
/// </summary>
public static class StorageFailures
{
    private const int Eperm = 1;
    private const int Eacces = 13;
    private const int Enospc = 28;
    private const int Erofs = 30;
    private const int Edquot = 122;

    // SQLite primary result codes (https://sqlite.org/rescode.html).
    private const int SqlitePerm = 3;
    private const int SqliteReadOnly = 8;
    private const int SqliteIoErr = 10;
    private const int SqliteCorrupt = 11;
    private const int SqliteFull = 13;
    private const int SqliteNotADatabase = 26;

    /// <summary>
    /// Below this, an I/O error on the data dir's disk is taken for a full disk: SQLite reports a
    /// full disk as SQLITE_IOERR, not SQLITE_FULL, when it happens while growing the WAL index.
    /// </summary>
    private const long NearlyFullBytes = 64 * 1024;

    /// <summary>True when <paramref name="error"/> means the disk holding <paramref name="dataDir"/> has no room left.</summary>
    public static bool IsDiskFull(Exception error, string dataDir)
    {
        for (var e = error; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case SqliteException s when Primary(s) == SqliteFull:
                case IOException io when io.HResult is Enospc or Edquot:
                    return true;
                case SqliteException s when Primary(s) == SqliteIoErr && AvailableBytes(dataDir) < NearlyFullBytes:
                    return true;
            }
        }

        return false;
    }

    /// <summary>The error a change answers when the disk filled up under it: 507, and the change was not made.</summary>
    public static MultiVipException DiskFull(string dataDir, Exception cause) =>
        new(ErrorCode.InsufficientStorage, Messages.DiskFull(dataDir), cause);

    /// <summary>
    /// Words a failure to open or write <paramref name="file"/> in the data dir at start as one line
    /// that says what is wrong, where and what to do.
    /// </summary>
    public static StateStorageException AtStart(Exception error, string dataDir, string file)
    {
        if (error is StateStorageException already)
        {
            return already;
        }

        if (IsDiskFull(error, dataDir))
        {
            return new StateStorageException(Messages.DiskFullAtStart(dataDir, file), error);
        }

        return error switch
        {
            IOException { HResult: Erofs } => new StateStorageException(Messages.DataDirReadOnly(dataDir, file), error),
            UnauthorizedAccessException or IOException { HResult: Eacces or Eperm } => new StateStorageException(Messages.DataDirNoPermission(dataDir, file), error),
            SqliteException s when Primary(s) is SqliteReadOnly or SqlitePerm => new StateStorageException(Messages.DataDirNoPermission(dataDir, file), error),
            SqliteException s when Primary(s) is SqliteCorrupt or SqliteNotADatabase => new StateStorageException(Messages.DatabaseDamaged(dataDir, file, Detail(error)), error),
            _ => new StateStorageException(Messages.DataDirUnusable(dataDir, file, Detail(error)), error),
        };
    }

    /// <summary>The cause in a few words, on one line: "SQLite: database disk image is malformed".</summary>
    public static string Detail(Exception error)
    {
        var text = error switch
        {
            SqliteException s => $"SQLite: {SqliteMessage(s)}",
            _ => error.Message,
        };
        text = string.Join(' ', text.Split(['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).TrimEnd('.');
        return text.Length > 300 ? text[..300] + "…" : text;
    }

    private static string SqliteMessage(SqliteException error)
    {
        // "SQLite Error 11: 'database disk image is malformed'." → the quoted part.
        var message = error.Message;
        var open = message.IndexOf('\'', StringComparison.Ordinal);
        var close = message.LastIndexOf('\'');
        return open >= 0 && close > open ? message[(open + 1)..close] : message;
    }

    private static int Primary(SqliteException error) => error.SqliteErrorCode & 0xFF;

    private static long AvailableBytes(string path)
    {
        try
        {
            // statvfs of the nearest directory that exists: the data dir may not have been created yet.
            var existing = Path.GetFullPath(path);
            while (!Directory.Exists(existing) && Path.GetDirectoryName(existing) is { } parent)
            {
                existing = parent;
            }

            return new DriveInfo(existing).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return long.MaxValue;
        }
    }
}
