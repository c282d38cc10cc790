using System.Diagnostics;
using MultiVip.Contracts;

namespace MultiVip.Cli.Tests.EndToEnd;

/// <summary>
/// Bad or missing state fails closed: `multivip serve` refuses to start, prints ONE line on stderr
/// (what is wrong, where, what to do; no stack trace), exits non-zero, leaves no token.tmp, and
/// never starts with an empty state beside a token that says the data dir was used.
/// </summary>
public sealed class BadStateStartupTests : IClassFixture<BadStateStartupTests.UsedDataDir>
{
    private readonly UsedDataDir _used;

    public BadStateStartupTests(UsedDataDir used) => _used = used;

    [Theory]
    [InlineData("empty")]
    [InlineData("missing")]
    public async Task Empty_or_missing_database_beside_a_token_refuses_to_start(string kind)
    {
        var dataDir = NewDir();
        try
        {
            _used.CopyTo(dataDir);
            var db = Path.Combine(dataDir, "multivip.db");
            if (kind == "empty")
            {
                File.WriteAllBytes(db, []);
            }
            else
            {
                File.Delete(db);
            }

            var run = await ServeToExitAsync(dataDir);

            var line = run.AssertOneLineFailure();
            Assert.Contains(db, line);
            Assert.Contains(kind == "empty" ? "empty" : "missing", line);
            Assert.Contains("backup", line);
            Assert.Contains("move the data dir", line);
            // Nothing was created in its place: the evidence stays as it was.
            Assert.Equal(kind == "empty", File.Exists(db));
            if (kind == "empty")
            {
                Assert.Equal(0, new FileInfo(db).Length);
            }

            Assert.False(File.Exists(db + "-wal"));
        }
        finally
        {
            DeleteDir(dataDir);
        }
    }

    [Fact]
    public async Task New_data_dir_with_an_empty_database_file_starts()
    {
        // No token and no endpoint: nothing was ever acknowledged here (a first start that died
        // while creating the file), so an empty database is a new one.
        var dataDir = NewDir();
        try
        {
            Directory.CreateDirectory(dataDir);
            File.WriteAllBytes(Path.Combine(dataDir, "multivip.db"), []);
            using var server = await ServerProcess.StartAsync(dataDir, "127.63.1.0/24");
            using var client = server.Client();
            Assert.Empty(await client.ListServicesAsync());
        }
        finally
        {
            DeleteDir(dataDir);
        }
    }

    [Theory]
    [InlineData("truncated")]
    [InlineData("garbage")]
    [InlineData("damaged-page")]
    public async Task Damaged_database_gives_one_clear_line(string kind)
    {
        var dataDir = NewDir();
        try
        {
            _used.CopyTo(dataDir);
            var db = Path.Combine(dataDir, "multivip.db");
            var bytes = File.ReadAllBytes(db);
            Assert.True(bytes.Length >= 4 * 4096, $"the fixture database is only {bytes.Length} bytes");
            switch (kind)
            {
                case "truncated":
                    File.WriteAllBytes(db, bytes[..(bytes.Length / 2 + 100)]);
                    break;
                case "garbage":
                    File.WriteAllBytes(db, System.Text.Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("not a database at all\n", 1000))));
                    break;
                default:
                    // Page 1 (the header and schema) intact, every later page overwritten.
                    var random = new Random(11);
                    random.NextBytes(bytes.AsSpan(4096));
                    File.WriteAllBytes(db, bytes);
                    break;
            }

            var run = await ServeToExitAsync(dataDir);

            var line = run.AssertOneLineFailure();
            Assert.Contains(db, line);
            Assert.Contains("backup", line);
            Assert.Contains("move the data dir", line);
        }
        finally
        {
            DeleteDir(dataDir);
        }
    }

    [RequiresRootTheory]
    [InlineData("existing")]
    [InlineData("new")]
    public async Task Read_only_data_dir_gives_one_line_that_does_not_blame_another_server(string kind)
    {
        using var disk = Tmpfs.Mount(4096);
        var dataDir = Path.Combine(disk.Path, "data");
        if (kind == "existing")
        {
            _used.CopyTo(dataDir);
        }

        disk.RemountReadOnly();

        var run = await ServeToExitAsync(dataDir);

        var line = run.AssertOneLineFailure();
        Assert.Contains("read-only", line);
        Assert.Contains(dataDir, line);
        Assert.DoesNotContain("another", line);
    }

    [RequiresRootTheory]
    [InlineData("existing")]
    [InlineData("new")]
    public async Task Full_disk_at_start_gives_one_line_and_leaves_no_temp_file(string kind)
    {
        using var disk = Tmpfs.Mount(1024);
        var dataDir = Path.Combine(disk.Path, "data");
        if (kind == "existing")
        {
            _used.CopyTo(dataDir);
        }

        disk.Fill();

        var run = await ServeToExitAsync(dataDir);

        var line = run.AssertOneLineFailure();
        Assert.Contains($"the disk holding {dataDir} is full", line, StringComparison.OrdinalIgnoreCase);
        Assert.False(File.Exists(Path.Combine(dataDir, "token.tmp")), "token.tmp was left behind");
        Assert.False(File.Exists(Path.Combine(dataDir, "endpoint.tmp")), "endpoint.tmp was left behind");

        // Space back: the same data dir starts, with its state.
        disk.Free();
        using var server = await ServerProcess.StartAsync(dataDir, "127.63.2.0/24");
        using var client = server.Client();
        Assert.Equal(kind == "existing" ? 3 : 0, (await client.ListServicesAsync()).Count);
        server.Terminate();
        Assert.Equal(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Files_are_owner_only_whatever_the_umask()
    {
        var dataDir = NewDir();
        try
        {
            var first = await ServeWithUmaskAsync(dataDir, "000");
            AssertOwnerOnly(dataDir, "multivip.db", "multivip.db-wal", "multivip.db-shm", "token", "endpoint", "lock");
            Assert.Equal(0, await first.StopAsync());

            // An existing data dir with loose modes (copied by hand, an older version) is tightened
            // at start, and the log says which files.
            File.SetUnixFileMode(dataDir, (UnixFileMode)0b111_101_101);
            foreach (var file in Directory.GetFiles(dataDir))
            {
                File.SetUnixFileMode(file, (UnixFileMode)0b110_100_100);
            }

            var second = await ServeWithUmaskAsync(dataDir, "000");
            AssertOwnerOnly(dataDir, "multivip.db", "multivip.db-wal", "multivip.db-shm", "token", "endpoint", "lock");
            Assert.Equal(0, await second.StopAsync());
            Assert.Contains("tightened", second.Output);
            Assert.Contains($"{Path.Combine(dataDir, "token")} from 644 to 600", second.Output);
            Assert.Contains($"{dataDir} from 755 to 700", second.Output);
        }
        finally
        {
            DeleteDir(dataDir);
        }
    }

    private static void AssertOwnerOnly(string dataDir, params string[] files)
    {
        Assert.Equal("700", Octal(File.GetUnixFileMode(dataDir)));
        foreach (var file in files)
        {
            var path = Path.Combine(dataDir, file);
            Assert.True(File.Exists(path), $"{file} does not exist");
            Assert.True(Octal(File.GetUnixFileMode(path)) == "600", $"{file} has mode {Octal(File.GetUnixFileMode(path))}, not 600");
        }
    }

    private static string Octal(UnixFileMode mode) => Convert.ToString((int)mode, 8);

    private static string NewDir() => Path.Combine(Path.GetTempPath(), "multivip-badstate", Guid.NewGuid().ToString("N"));

    private static void DeleteDir(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Runs `multivip serve` on the data dir and waits for it to exit; a server that starts instead fails the test.</summary>
    private static async Task<ServeRun> ServeToExitAsync(string dataDir)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "multivip.dll"), "serve", "--data-dir", dataDir, "--api", "http://127.0.0.1:0", "--vip-pool", "127.63.9.0/24", "--dns", "off" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var endpoint = Path.Combine(dataDir, "endpoint");
        var startedBefore = File.Exists(endpoint) ? File.GetLastWriteTimeUtc(endpoint) : (DateTime?)null;
        var deadline = Stopwatch.StartNew();
        while (!process.HasExited)
        {
            var started = File.Exists(endpoint) && File.GetLastWriteTimeUtc(endpoint) != startedBefore;
            if (started || deadline.Elapsed > TimeSpan.FromSeconds(60))
            {
                process.Kill();
                await process.WaitForExitAsync();
                Assert.Fail($"multivip serve {(started ? "started" : "neither started nor exited within 60 s")} on {dataDir} instead of refusing to start. Output: {await stdout}{await stderr}");
            }

            await Task.Delay(25);
        }

        await process.WaitForExitAsync();
        return new ServeRun(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>`multivip serve` under a shell that set the umask first; returns once the API listens.</summary>
    private static async Task<RunningServe> ServeWithUmaskAsync(string dataDir, string umask)
    {
        var endpoint = Path.Combine(dataDir, "endpoint");
        if (File.Exists(endpoint))
        {
            File.Delete(endpoint);
        }

        var start = new ProcessStartInfo("sh")
        {
            ArgumentList =
            {
                "-c", $"umask {umask} && exec dotnet \"$0\" serve --data-dir \"$1\" --api http://127.0.0.1:0 --vip-pool 127.63.3.0/24 --dns off",
                Path.Combine(AppContext.BaseDirectory, "multivip.dll"), dataDir,
            },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        var deadline = Stopwatch.StartNew();
        while (!File.Exists(endpoint))
        {
            if (process.HasExited || deadline.Elapsed > TimeSpan.FromSeconds(60))
            {
                process.Kill();
                await process.WaitForExitAsync();
                Assert.Fail($"multivip serve did not start on {dataDir}: {await output}{await errors}");
            }

            await Task.Delay(25);
        }

        return new RunningServe(process, output, errors);
    }

    private sealed class RunningServe(Process process, Task<string> output, Task<string> errors)
    {
        public string Output { get; private set; } = "";

        /// <summary>SIGTERM, wait for the exit, collect the output.</summary>
        public async Task<int> StopAsync()
        {
            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!)
            {
                await kill.WaitForExitAsync();
            }

            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(cts.Token);
            Output = await output + await errors;
            var code = process.ExitCode;
            process.Dispose();
            return code;
        }
    }

    private sealed record ServeRun(int ExitCode, string Stdout, string Stderr)
    {
        /// <summary>Non-zero exit, exactly one line on stderr (the reason), no stack trace anywhere.</summary>
        public string AssertOneLineFailure()
        {
            var all = $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
            Assert.True(ExitCode != 0, all);
            Assert.DoesNotContain("   at ", Stdout + Stderr);
            Assert.DoesNotContain("Unhandled exception", Stdout + Stderr);
            var lines = Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Assert.True(lines.Length == 1, $"expected one line on stderr; {all}");
            Assert.StartsWith("multivip: ", lines[0]);
            return lines[0];
        }
    }

    /// <summary>A data dir a real server used: token, endpoint and a database with three services.</summary>
    public sealed class UsedDataDir : IAsyncLifetime
    {
        private readonly string _dir = NewDir();

        public async Task InitializeAsync()
        {
            using var server = await ServerProcess.StartAsync(_dir, "127.63.0.0/24");
            using (var client = server.Client())
            {
                foreach (var name in new[] { "one", "two", "three" })
                {
                    await client.CreateServiceAsync(new CreateServiceRequest { Name = name, Description = new string('d', 200) });
                }
            }

            server.Terminate();
            Assert.Equal(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(30)));
            File.Delete(Path.Combine(_dir, "lock"));
        }

        public void CopyTo(string target)
        {
            Directory.CreateDirectory(target);
            foreach (var file in Directory.GetFiles(_dir))
            {
                File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
            }
        }

        public Task DisposeAsync()
        {
            DeleteDir(_dir);
            return Task.CompletedTask;
        }
    }
}
