using System.Diagnostics;

namespace MultiVip.Server.Tests.OpenApi;

/// <summary>
/// Redocly CLI (the OpenAPI linter, from npm), installed at test time into a cache directory
/// outside the repository (nothing fetched is committed), once per version: a later run finds it.
/// Parallel test processes take a file lock so only one of them runs npm.
/// </summary>
internal static class RedoclyCli
{
    /// <summary>Pinned so a new release's new rules cannot turn the suite red on their own.</summary>
    public const string Version = "2.77.0";

    private static readonly SemaphoreSlim s_gate = new(1, 1);

    public static string CacheDirectory =>
        Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg : Path.Combine(Path.GetTempPath(), "multivip-tools"), "redocly-" + Version);

    /// <summary>The redocly executable, installing it first when needed.</summary>
    public static async Task<string> EnsureAsync()
    {
        var executable = Path.Combine(CacheDirectory, "node_modules", ".bin", "redocly");
        await s_gate.WaitAsync();
        try
        {
            if (File.Exists(executable))
            {
                return executable;
            }

            Directory.CreateDirectory(CacheDirectory);
            await using var lockFile = await LockAsync(Path.Combine(CacheDirectory, ".lock"));
            if (File.Exists(executable))
            {
                return executable;
            }

            var (code, output) = await RunAsync("npm", ["install", "--no-audit", "--no-fund", "--no-save", "--prefix", CacheDirectory, "@redocly/cli@" + Version], CacheDirectory, TimeSpan.FromMinutes(5));
            Assert.True(code == 0 && File.Exists(executable), $"npm install @redocly/cli@{Version} failed ({code}): {output}");
            return executable;
        }
        finally
        {
            s_gate.Release();
        }
    }

    public static async Task<(int ExitCode, string Output)> RunAsync(string file, IEnumerable<string> arguments, string workingDirectory, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // No telemetry and no update check: the test reaches only the registry, and only to install.
        start.Environment["REDOCLY_TELEMETRY"] = "off";
        start.Environment["REDOCLY_SUPPRESS_UPDATE_NOTICE"] = "true";
        start.Environment["NO_COLOR"] = "1";
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} did not finish within {timeout}: {await stdout}{await stderr}");
        }

        return (process.ExitCode, await stdout + await stderr);
    }

    private static async Task<FileStream> LockAsync(string path)
    {
        var deadline = DateTime.UtcNow.AddMinutes(6);
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                // Another test process is installing: bounded wait for its lock.
                await Task.Delay(200);
            }
        }
    }
}
