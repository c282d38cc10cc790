using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace MultiVip.TestSupport.Postgres;

/// <summary>
/// A throwaway PostgreSQL 15 cluster (Debian's /usr/lib/postgresql/15/bin) for tests: initdb in a
/// fresh temporary directory owned by the <c>postgres</c> user (initdb refuses root), the server
/// run as that user through setpriv — which execs, so the PID we hold is the postmaster's own and
/// stopping it stops exactly what we started. It listens on 127.110.0.1 (the test suite's loopback
/// share; the benchmark passes its own address and port) on a free port, and on a Unix socket in <see cref="SocketDirectory"/>, which crosses
/// network namespaces. fsync is off: the tests stop it cleanly (fast shutdown) and never measure
/// PostgreSQL's own durability. A server that cannot start is an exception, never a skipped test.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    public const string User = "multivip";
    public const string Password = "pg-test-secret";
    public const string DefaultListenAddress = "127.110.0.1";
    private const string Bin = "/usr/lib/postgresql/15/bin";
    private const int SigInt = 2;
    private const int SigKill = 9;

    private readonly string _root;
    private readonly StringBuilder _log = new();
    private Process? _postmaster;
    private int _databases;

    private PostgresServer(string root, string listenAddress, int port)
    {
        _root = root;
        ListenAddress = listenAddress;
        Port = port;
    }

    /// <summary>The loopback address its TCP listener binds.</summary>
    public string ListenAddress { get; }

    public int Port { get; }

    /// <summary>The directory of the Unix socket (0777, so any user in any namespace may connect).</summary>
    public string SocketDirectory => Path.Combine(_root, "sock");

    private string DataDirectory => Path.Combine(_root, "data");

    /// <summary>The postmaster's PID while it runs.</summary>
    public int? ProcessId => _postmaster is { HasExited: false } p ? p.Id : null;

    /// <summary>
    /// Creates and starts a cluster on <paramref name="listenAddress"/> and <paramref name="port"/> (a
    /// free one when null); throws with initdb's or the server's output when it cannot.
    /// </summary>
    public static async Task<PostgresServer> StartAsync(string listenAddress = DefaultListenAddress, int? port = null)
    {
        if (!File.Exists(Path.Combine(Bin, "postgres")))
        {
            throw new InvalidOperationException($"PostgreSQL 15 is not installed ({Bin}/postgres is missing): install the Debian package postgresql (test.sh does).");
        }

        var root = Directory.CreateTempSubdirectory("multivip-pg-").FullName;
        var server = new PostgresServer(root, listenAddress, port ?? FreePort(listenAddress));
        try
        {
            Directory.CreateDirectory(server.SocketDirectory);
            File.SetUnixFileMode(root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
            File.SetUnixFileMode(server.SocketDirectory, (UnixFileMode)0x1FF);
            var passwordFile = Path.Combine(root, "pwfile");
            await File.WriteAllTextAsync(passwordFile, Password + "\n");
            await RunAsync("chown", "-R", "postgres:postgres", root);
            await RunAsync("setpriv", AsPostgres(Path.Combine(Bin, "initdb"), "-D", server.DataDirectory, "-U", User, "--pwfile", passwordFile,
                "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"));
            await server.StartPostmasterAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>A connection string to <paramref name="database"/> over TCP with the password.</summary>
    public string ConnectionString(string database = "postgres") =>
        $"Host={ListenAddress};Port={Port};Username={User};Password={Password};Database={database};Pooling=true;Timeout=5;Command Timeout=30";

    /// <summary>The same as a postgresql:// URL, the way an operator gives --store.</summary>
    public string Url(string database) => $"postgresql://{User}:{Password}@{ListenAddress}:{Port}/{database}";

    /// <summary>A connection string through the Unix socket (no password: local connections are trusted).</summary>
    public string SocketConnectionString(string database) =>
        $"Host={SocketDirectory};Port={Port};Username={User};Database={database};Pooling=true;Timeout=5";

    /// <summary>Creates an empty database with a name of its own and returns the name.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = $"test_{Environment.ProcessId}_{Interlocked.Increment(ref _databases)}";
        await PsqlAsync("postgres", $"CREATE DATABASE {name}");
        return name;
    }

    /// <summary>Runs SQL through psql over the socket; throws with its output when it fails.</summary>
    public Task<string> PsqlAsync(string database, string sql) =>
        RunAsync(Path.Combine(Bin, "psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", SocketDirectory, "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", User, "-d", database, "-c", sql);

    /// <summary>Stops the server (fast shutdown) and waits for it; the data stays for <see cref="RestartAsync"/>.</summary>
    public async Task StopAsync()
    {
        if (_postmaster is not { } postmaster)
        {
            return;
        }

        _postmaster = null;
        if (!postmaster.HasExited)
        {
            _ = Network.Native.kill(postmaster.Id, SigInt);
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await postmaster.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                _ = Network.Native.kill(postmaster.Id, SigKill);
                await postmaster.WaitForExitAsync();
            }
        }

        postmaster.Dispose();
    }

    /// <summary>Starts the stopped server again on the same port and data.</summary>
    public Task RestartAsync() => StartPostmasterAsync();

    private async Task StartPostmasterAsync()
    {
        var port = Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var start = new ProcessStartInfo("setpriv")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in AsPostgres(Path.Combine(Bin, "postgres"), "-D", DataDirectory, "-p", port, "-k", SocketDirectory,
                     "-c", $"listen_addresses={ListenAddress}", "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=200",
                     "-c", "unix_socket_permissions=0777", "-c", "logging_collector=off"))
        {
            start.ArgumentList.Add(arg);
        }

        var postmaster = Process.Start(start) ?? throw new InvalidOperationException("setpriv did not start");
        postmaster.OutputDataReceived += (_, e) => Append(e.Data);
        postmaster.ErrorDataReceived += (_, e) => Append(e.Data);
        postmaster.BeginOutputReadLine();
        postmaster.BeginErrorReadLine();
        _postmaster = postmaster;

        // Bounded wait for the server to accept connections (it answers psql once recovery is done).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            if (postmaster.HasExited)
            {
                throw new InvalidOperationException($"PostgreSQL exited with {postmaster.ExitCode} while starting:\n{LogText()}");
            }

            try
            {
                await PsqlAsync("postgres", "SELECT 1");
                return;
            }
            catch (InvalidOperationException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
            catch (InvalidOperationException ex)
            {
                throw new InvalidOperationException($"PostgreSQL did not accept connections within 60 s: {ex.Message}\n{LogText()}", ex);
            }
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            _log.AppendLine(line);
        }
    }

    private string LogText()
    {
        lock (_log)
        {
            return _log.ToString();
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        finally
        {
            try
            {
                Directory.Delete(_root, recursive: true);
            }
            catch (IOException)
            {
                // A temp dir left behind is not a test failure.
            }
        }
    }

    private static string[] AsPostgres(string program, params string[] args) =>
        ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", program, .. args];

    private static int FreePort(string listenAddress)
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Parse(listenAddress), 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    private static async Task<string> RunAsync(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} exited with {process.ExitCode}: {await stderr}{await stdout}");
        }

        return (await stdout).Trim();
    }
}
