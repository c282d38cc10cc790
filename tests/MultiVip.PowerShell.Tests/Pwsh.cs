using System.Diagnostics;
using System.Text;

namespace MultiVip.PowerShell.Tests;

/// <summary>Result of one pwsh run.</summary>
internal sealed record PwshResult(int ExitCode, string Output, string Error)
{
    /// <summary>The text printed between <c>=== name</c> and the next marker (each block's own output).</summary>
    public string Section(string name)
    {
        var marker = "=== " + name;
        var lines = Output.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        var start = lines.IndexOf(marker);
        Assert.True(start >= 0, $"No section '{name}' in the output:\n{Output}\nstderr:\n{Error}");
        var end = lines.FindIndex(start + 1, l => l.StartsWith("=== ", StringComparison.Ordinal));
        return string.Join('\n', lines.Skip(start + 1).Take((end < 0 ? lines.Count : end) - start - 1));
    }
}

/// <summary>
/// Runs the real pwsh (the PowerShell .NET tool pinned in .config/dotnet-tools.json) with the module
/// built beside the tests. pwsh starts in about a second, so each test runs one script with many
/// assertions rather than one pwsh per check.
/// </summary>
internal static class Pwsh
{
    private static readonly Lazy<string> RepoRoot = new(FindRepoRoot);
    private static readonly SemaphoreSlim RestoreGate = new(1, 1);
    private static bool s_restored;

    /// <summary>The module manifest copied beside the test assembly by the project reference.</summary>
    public static string ModulePath => Path.Combine(AppContext.BaseDirectory, "MultiVip.psd1");

    /// <summary>
    /// Prelude of every test script. <c>Invoke-Interactive</c> runs text the way the console runs
    /// pasted input: statement by statement, each with its own formatting (one table per command,
    /// as in the seed). Out-String -Width 200 stands in for a wide terminal; redirected pwsh would
    /// otherwise format for 80 columns. A terminating error prints as "ERROR: message".
    /// </summary>
    public static string Prelude => PreludeFor(new PwshSession());

    /// <summary>The repository root (where the tool manifest and the sources are).</summary>
    public static string Root => RepoRoot.Value;

    private static string PreludeFor(PwshSession session) => $$"""
        $ErrorActionPreference = 'Continue'
        {{(session.Colors ? string.Empty : "$PSStyle.OutputRendering = 'PlainText'")}}
        {{session.BeforeImport}}
        Import-Module '{{ModulePath.Replace("'", "''", StringComparison.Ordinal)}}'
        function Invoke-Interactive([string] $Text) {
            $ast = [System.Management.Automation.Language.Parser]::ParseInput($Text, [ref] $null, [ref] $null)
            foreach ($statement in $ast.EndBlock.Statements) {
                try {
                    . ([scriptblock]::Create($statement.Extent.Text)) | Out-String -Width 200
                } catch {
                    "ERROR: " + $_.Exception.Message
                }
            }
        }

        """;

    public static Task<PwshResult> RunAsync(string script, Uri api, string token, string? input = null) =>
        RunAsync(script, api, token, new PwshSession { Input = input });

    public static async Task<PwshResult> RunAsync(string script, Uri api, string token, PwshSession session)
    {
        await EnsureRestoredAsync();
        var file = Path.Combine(Path.GetTempPath(), $"multivip-ps-{Guid.NewGuid():N}.ps1");
        await File.WriteAllTextAsync(file, PreludeFor(session) + script);
        try
        {
            // Without -NonInteractive only when the script answers prompts through stdin.
            var args = new List<string> { "tool", "run", "pwsh", "--", "-NoLogo", "-NoProfile" };
            if (session.Input is null)
            {
                args.Add("-NonInteractive");
            }

            args.AddRange(["-File", file]);
            var environment = new Dictionary<string, string?>
            {
                ["MULTIVIP_API"] = api.ToString(),
                ["MULTIVIP_TOKEN"] = token,
                ["NO_COLOR"] = "1",
            };
            if (session.Colors)
            {
                // As a user's shell: no NO_COLOR, a terminal type that supports color.
                environment["NO_COLOR"] = null;
                environment["TERM"] = "xterm-256color";
            }

            var result = await RunProcessAsync(args, session.Input ?? string.Empty, environment);
            Assert.True(result.ExitCode == 0, $"pwsh exited {result.ExitCode}\nstdout:\n{result.Output}\nstderr:\n{result.Error}");
            return result;
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>Runs a script file with arguments, as `pwsh -File`; the exit code is the caller's to check.</summary>
    public static async Task<PwshResult> RunFileAsync(string file, params string[] arguments)
    {
        await EnsureRestoredAsync();
        return await RunProcessAsync(["tool", "run", "pwsh", "--", "-NoLogo", "-NoProfile", "-NonInteractive", "-File", file, .. arguments], string.Empty, new() { ["NO_COLOR"] = "1" });
    }

    /// <summary>test.sh runs `dotnet tool restore`; a bare `dotnet test` on a fresh machine gets it here.</summary>
    private static async Task EnsureRestoredAsync()
    {
        await RestoreGate.WaitAsync();
        try
        {
            if (s_restored)
            {
                return;
            }

            var probe = await RunProcessAsync(["tool", "run", "pwsh", "--", "-NoLogo", "-NoProfile", "-Version"], string.Empty, []);
            if (probe.ExitCode != 0)
            {
                var restore = await RunProcessAsync(["tool", "restore"], string.Empty, []);
                Assert.True(restore.ExitCode == 0, $"dotnet tool restore failed:\n{restore.Output}\n{restore.Error}");
            }

            s_restored = true;
        }
        finally
        {
            RestoreGate.Release();
        }
    }

    private static async Task<PwshResult> RunProcessAsync(IEnumerable<string> args, string input, Dictionary<string, string?> environment)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            // The tool manifest is found from the working directory.
            WorkingDirectory = RepoRoot.Value,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in environment)
        {
            if (value is null)
            {
                start.Environment.Remove(key);
            }
            else
            {
                start.Environment[key] = value;
            }
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(input);
        process.StandardInput.Close();
        // A bound for a script that never ends, not a speed check: the completion test's script (module
        // import and fifteen completions against a server) ran past 3 minutes on a machine at load 80.
        var bound = TimeSpan.FromMinutes(8);
        using var timeout = new CancellationTokenSource(bound);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"pwsh did not finish within {bound.TotalMinutes:0} minutes.\nstdout so far:\n{await stdout}");
        }

        return new PwshResult(process.ExitCode, (await stdout).Replace("\r\n", "\n", StringComparison.Ordinal), await stderr);
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MultiVip.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("MultiVip.slnx not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>How one pwsh run is set up.</summary>
internal sealed record PwshSession
{
    /// <summary>Answers to prompts, fed to stdin; null runs pwsh -NonInteractive.</summary>
    public string? Input { get; init; }

    /// <summary>
    /// False (the default) forces plain text, as the seed's samples are plain. True runs pwsh as a
    /// user's shell would be: no NO_COLOR, a color terminal type, rendering left to pwsh and the module.
    /// </summary>
    public bool Colors { get; init; }

    /// <summary>Script run before Import-Module (e.g. a user's own $PSStyle choice).</summary>
    public string BeforeImport { get; init; } = string.Empty;
}
