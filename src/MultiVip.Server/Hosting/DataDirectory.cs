using System.Security.Cryptography;
using MultiVip.Control.State;
using MultiVip.Model.Errors;

namespace MultiVip.Server.Hosting;

/// <summary>
/// The files `multivip serve` keeps next to its database: the API token (generated at first start)
/// and the endpoint file that tells local clients where the API listens. The directory is 0700 and
/// every file in it 0600 whatever the umask; anything it cannot use stops the start with one line.
/// </summary>
internal sealed partial class DataDirectory : IDisposable
{
    public const string TokenFile = "token";
    public const string EndpointFile = "endpoint";
    public const string LockFile = "lock";

    private const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>errno of a lock held by another process (flock LOCK_NB), as .NET reports it on Linux.</summary>
    private const int Ewouldblock = 11;

    private readonly FileStream _lock;
    private readonly List<(string Path, UnixFileMode From, UnixFileMode To)> _tightened;

    private DataDirectory(string path, FileStream lockStream, List<(string, UnixFileMode, UnixFileMode)> tightened)
    {
        Path = path;
        _lock = lockStream;
        _tightened = tightened;
    }

    public string Path { get; }

    private string Database => System.IO.Path.Combine(Path, SqliteStateStore.FileName);

    /// <summary>
    /// Creates the directory (0700), takes an exclusive lock so two servers never share one
    /// database, and refuses a data dir whose database is gone while its token says it was used.
    /// </summary>
    /// <param name="noTakeover">Why this server did not take over from one already running here; said when the lock refuses it.</param>
    public static DataDirectory Open(string path, string? noTakeover = null, bool embeddedDatabase = true)
    {
        var full = System.IO.Path.GetFullPath(path);
        var tightened = new List<(string, UnixFileMode, UnixFileMode)>();
        try
        {
            if (!Directory.Exists(full))
            {
                Directory.CreateDirectory(full, OwnerOnlyDirectory);

                // mkdir's mode passes through the umask; chmod's does not.
                File.SetUnixFileMode(full, OwnerOnlyDirectory);
            }
            else
            {
                Tighten(full, OwnerOnlyDirectory, tightened);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw StorageFailures.AtStart(ex, full, full);
        }

        var lockPath = System.IO.Path.Combine(full, LockFile);
        FileStream stream;
        try
        {
            stream = new FileStream(lockPath, new FileStreamOptions
            {
                Mode = FileMode.OpenOrCreate,
                Access = FileAccess.ReadWrite,
                Share = FileShare.None,
                UnixCreateMode = OwnerOnlyFile,
            });
        }
        catch (IOException ex) when (ex.HResult == Ewouldblock)
        {
            throw new InvalidOperationException(
                $"The data dir {full} is in use by another multivip server (it holds the lock on {lockPath}). Stop it, or give this one its own --data-dir."
                + (noTakeover is null ? "" : $" No takeover: {noTakeover}; a server started without --no-takeover offers one once it serves."), ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Not the lock of another server: the file could not be opened at all (read-only, full, no permission).
            throw StorageFailures.AtStart(ex, full, lockPath);
        }

        var directory = new DataDirectory(full, stream, tightened);
        try
        {
            // With the state in PostgreSQL (--store) the data dir holds only the token and endpoint.
            if (embeddedDatabase)
            {
                directory.RefuseLostDatabase();
                directory.PrepareDatabaseFile();
            }

            directory.TightenFiles();
        }
        catch
        {
            directory.Dispose();
            throw;
        }

        return directory;
    }

    /// <summary>
    /// A token or endpoint file is written only after the database was created (ServerHost opens
    /// the store first), so either one beside a missing or empty database means the state was lost:
    /// starting empty would hand out addresses that are still in use.
    /// </summary>
    private void RefuseLostDatabase()
    {
        var evidence = new[] { TokenFile, EndpointFile }.Where(f => File.Exists(System.IO.Path.Combine(Path, f))).ToList();
        if (evidence.Count == 0)
        {
            return;
        }

        var database = new FileInfo(Database);
        var state = !database.Exists ? "missing" : database.Length == 0 ? "empty (0 bytes)" : null;
        if (state is not null)
        {
            throw new StateStorageException(Messages.DatabaseLost(Path, Database, state, string.Join(" and ", evidence)));
        }
    }

    /// <summary>
    /// A new data dir gets an empty 0600 database file before SQLite opens it: SQLite gives the
    /// -wal and -shm files it creates the database file's mode, so none is ever readable by others.
    /// </summary>
    private void PrepareDatabaseFile()
    {
        try
        {
            if (!File.Exists(Database))
            {
                using var created = new FileStream(Database, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = OwnerOnlyFile });
                File.SetUnixFileMode(created.SafeFileHandle, OwnerOnlyFile);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw StorageFailures.AtStart(ex, Path, Database);
        }
    }

    /// <summary>
    /// Makes every file of the data dir 0600 (an older version, a copy by hand or a loose umask may
    /// have left them readable by others) and logs each one it had to change, with the directory
    /// itself if Open tightened it. Called again once the store is open and the token written.
    /// </summary>
    public void TightenModes(ILogger logger)
    {
        TightenFiles();
        foreach (var (path, from, to) in _tightened)
        {
            Log.ModeTightened(logger, path, Octal(from), Octal(to));
        }

        _tightened.Clear();
    }

    private void TightenFiles()
    {
        try
        {
            foreach (var name in new[] { SqliteStateStore.FileName, SqliteStateStore.FileName + "-wal", SqliteStateStore.FileName + "-shm", TokenFile, EndpointFile, LockFile })
            {
                var path = System.IO.Path.Combine(Path, name);
                if (File.Exists(path))
                {
                    Tighten(path, OwnerOnlyFile, _tightened);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw StorageFailures.AtStart(ex, Path, Path);
        }
    }

    private static void Tighten(string path, UnixFileMode ownerOnly, List<(string, UnixFileMode, UnixFileMode)> tightened)
    {
        var mode = File.GetUnixFileMode(path);
        if ((mode & ~ownerOnly) != 0)
        {
            var to = mode & ownerOnly;
            File.SetUnixFileMode(path, to);
            tightened.Add((path, mode, to));
        }
    }

    private static string Octal(UnixFileMode mode) => Convert.ToString((int)mode, 8).PadLeft(3, '0');

    /// <summary>Reads the token, or generates 256 random bits at first start. Written with mode 0600 from the first byte.</summary>
    public string LoadOrCreateToken()
    {
        var path = System.IO.Path.Combine(Path, TokenFile);
        string? existing;
        try
        {
            existing = File.Exists(path) ? File.ReadAllText(path).Trim() : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw StorageFailures.AtStart(ex, Path, path);
        }

        if (existing is { Length: >= 16 })
        {
            return existing;
        }

        var token = Base64Url(RandomNumberGenerator.GetBytes(32));
        WriteOwnerOnly(path, token + "\n");
        return token;
    }

    public void WriteToken(string token) => WriteOwnerOnly(System.IO.Path.Combine(Path, TokenFile), token + "\n");

    public void WriteEndpoint(string url) => WriteOwnerOnly(System.IO.Path.Combine(Path, EndpointFile), url + "\n");

    /// <summary>Start-up writes only: a failure is worded as a reason not to start.</summary>
    private void WriteOwnerOnly(string path, string content)
    {
        // Write a sibling then rename: readers never see a half-written file, and the mode is 0600
        // before any secret byte is written.
        var temp = path + ".tmp";
        try
        {
            File.Delete(temp);
            var options = new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = OwnerOnlyFile,
            };
            using (var stream = new FileStream(temp, options))
            {
                // The create mode passes through the umask (0600 may become 0400); fchmod does not.
                File.SetUnixFileMode(stream.SafeFileHandle, OwnerOnlyFile);
                using var writer = new StreamWriter(stream);
                writer.Write(content);
                writer.Flush();
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A full disk fails the write half-way: leave no temp file behind.
            TryDelete(temp);
            throw StorageFailures.AtStart(ex, Path, path);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public void Dispose() => _lock.Dispose();

    private static partial class Log
    {
        [LoggerMessage(EventId = 4101, EventName = "DataDirModeTightened", Level = LogLevel.Warning,
            Message = "Data dir mode tightened: {Path} from {From} to {To}; it was open to other users of this machine")]
        public static partial void ModeTightened(ILogger logger, string path, string from, string to);
    }
}
