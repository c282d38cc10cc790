using System.Security.Cryptography;

namespace MultiVip.Server.Hosting;

/// <summary>
/// The files `multivip serve` keeps next to its database: the API token (mode 0600, generated at
/// first start) and the endpoint file that tells local clients where the API listens.
/// </summary>
internal sealed class DataDirectory : IDisposable
{
    public const string TokenFile = "token";
    public const string EndpointFile = "endpoint";
    public const string LockFile = "lock";

    private readonly FileStream _lock;

    private DataDirectory(string path, FileStream lockStream)
    {
        Path = path;
        _lock = lockStream;
    }

    public string Path { get; }

    /// <summary>Creates the directory (0700) and takes an exclusive lock so two servers never share one database.</summary>
    public static DataDirectory Open(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        if (!Directory.Exists(full))
        {
            Directory.CreateDirectory(full, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        try
        {
            var stream = new FileStream(System.IO.Path.Combine(full, LockFile), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            return new DataDirectory(full, stream);
        }
        catch (IOException ex)
        {
            throw new InvalidOperationException(
                $"The data dir {full} is in use by another multivip server ({ex.Message}). Stop it, or give this one its own --data-dir.", ex);
        }
    }

    /// <summary>Reads the token, or generates 256 random bits at first start. Written with mode 0600 from the first byte.</summary>
    public string LoadOrCreateToken()
    {
        var path = System.IO.Path.Combine(Path, TokenFile);
        if (File.Exists(path))
        {
            var existing = File.ReadAllText(path).Trim();
            if (existing.Length >= 16)
            {
                EnsureOwnerOnly(path);
                return existing;
            }
        }

        var token = Base64Url(RandomNumberGenerator.GetBytes(32));
        WriteOwnerOnly(path, token + "\n");
        return token;
    }

    public void WriteToken(string token) => WriteOwnerOnly(System.IO.Path.Combine(Path, TokenFile), token + "\n");

    public void WriteEndpoint(string url) => WriteOwnerOnly(System.IO.Path.Combine(Path, EndpointFile), url + "\n");

    private static void WriteOwnerOnly(string path, string content)
    {
        // Write a sibling then rename: readers never see a half-written file, and the mode is 0600
        // before any secret byte is written.
        var temp = path + ".tmp";
        File.Delete(temp);
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        };
        using (var stream = new FileStream(temp, options))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(content);
            writer.Flush();
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
    }

    private static void EnsureOwnerOnly(string path)
    {
        if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & ~(UnixFileMode.UserRead | UnixFileMode.UserWrite)) != 0)
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public void Dispose() => _lock.Dispose();
}
