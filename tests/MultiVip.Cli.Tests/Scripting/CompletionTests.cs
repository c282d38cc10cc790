using System.Diagnostics;
using System.Text;
using MultiVip.Cli.Tests.Cli;
using MultiVip.Server.Hosting;

namespace MultiVip.Cli.Tests.Scripting;

/// <summary>
/// Shell completion against a real server on loopback: the [suggest] entry point the scripts call,
/// the bash script in real bash, and the PowerShell script through TabExpansion2 in real pwsh.
/// </summary>
public sealed class CompletionTests : IAsyncLifetime
{
    private RunningServer _server = null!;
    private string _dataDir = null!;
    private string _bin = null!;

    private Dictionary<string, string> Environment => new()
    {
        ["MULTIVIP_API"] = _server.Api.ToString(),
        ["MULTIVIP_TOKEN"] = File.ReadAllText(Path.Combine(_dataDir, "token")).Trim(),
        // A fresh CLI process on a loaded CI machine can take more than the default 3 s to ask.
        ["MULTIVIP_COMPLETION_TIMEOUT"] = "60",
    };

    /// <summary>`multivip` as a user has it on PATH: a launcher of the built CLI next to the tests.</summary>
    private string Program => Path.Combine(_bin, "multivip");

    public async Task InitializeAsync()
    {
        _dataDir = Path.Combine(Path.GetTempPath(), "multivip-cli-completion", Guid.NewGuid().ToString("N"));
        _server = await ServerHost.StartAsync(new ServerOptions
        {
            DataDir = _dataDir,
            Api = "http://127.0.0.1:0",
            Dns = "off",
            VipPools = [$"127.74.{Random.Shared.Next(0, 200)}.0/24"],
        });

        _bin = Path.Combine(_dataDir, "bin");
        Directory.CreateDirectory(_bin);
        await File.WriteAllTextAsync(Program, $"#!/bin/sh\nexec dotnet '{Path.Combine(AppContext.BaseDirectory, "multivip.dll")}' \"$@\"\n");
        File.SetUnixFileMode(Program, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        await Ok("service", "create", "--name", "myService");
        await Ok("service", "create", "--name", "otherService");
        await Ok("vm", "add", "--service", "myService", "--name", "myVM1", "--address", "127.74.250.11");
        await Ok("vm", "add", "--service", "myService", "--name", "myVM2", "--address", "127.74.250.12");
        await Ok("vip", "add", "--service", "myService", "--name", "Vip2");
        await Ok("endpoint", "add", "--service", "myService", "--vm", "myVM1", "--name", "web", "--protocol", "tcp", "--local-port", "18080", "--vip", "Vip2", "--lb-set", "myLBSet");
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_dataDir, recursive: true);
    }

    private async Task Ok(params string[] args)
    {
        var run = await TestCli.RunAsync([.. args, "--data-dir", _dataDir]);
        Assert.True(run.ExitCode == 0, $"{string.Join(' ', args)} exited {run.ExitCode}: {run.Error}");
    }

    /// <summary>What `multivip [suggest:N] "LINE"` prints for the line typed so far.</summary>
    private async Task<string[]> SuggestAsync(string line)
    {
        var run = await TestCli.RunAsync([$"[suggest:{line.Length}]", line], env: Environment);
        Assert.True(run.ExitCode == 0, $"[suggest] exited {run.ExitCode}: {run.Error}");
        return run.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    [Fact]
    public async Task Names_come_from_the_server()
    {
        Assert.Equal(["myService", "otherService"], await SuggestAsync("vm list --service "));
        Assert.Equal(["myService"], await SuggestAsync("vm list --service my"));
        Assert.Equal(["myVM1", "myVM2"], await SuggestAsync("vm show --service myService --name "));
        Assert.Equal(["myVM1", "myVM2"], await SuggestAsync("endpoint list --service myService --vm "));
        Assert.Equal(["Vip1", "Vip2"], await SuggestAsync("vip remove --service myService --name "));
        Assert.Equal(["Vip1", "Vip2"], await SuggestAsync("endpoint add --service myService --vip "));
        Assert.Equal(["myLBSet"], await SuggestAsync("lbset set --service myService --name "));
        Assert.Equal(["web"], await SuggestAsync("endpoint remove --service myService --vm myVM1 --name "));
        Assert.Equal(["myService", "otherService"], await SuggestAsync("service delete --name "));
    }

    [Fact]
    public async Task New_names_and_unknown_scopes_complete_nothing()
    {
        Assert.Empty(await SuggestAsync("vm add --service myService --name "));
        Assert.Empty(await SuggestAsync("vip add --service myService --name "));
        Assert.Empty(await SuggestAsync("vm show --name "));
        Assert.Empty(await SuggestAsync("vm show --service nope --name "));
    }

    [Fact]
    public async Task Verbs_options_and_fixed_values_complete()
    {
        Assert.Contains("completion", await SuggestAsync(""));
        Assert.Contains("vm", await SuggestAsync("v"));
        Assert.Equal(["add", "disable", "drain", "enable", "list", "remove", "show"], (await SuggestAsync("vm ")).Where(s => char.IsLetter(s[0])));
        Assert.Contains("--service", await SuggestAsync("vm show --s"));
        Assert.Equal(["tcp", "udp"], await SuggestAsync("endpoint add --protocol "));
        Assert.Equal(["json", "text"], await SuggestAsync("vm list -o "));
        Assert.Equal(["bash", "fish", "pwsh", "zsh"], (await SuggestAsync("completion ")).Where(s => char.IsLetter(s[0])));
    }

    [Fact]
    public async Task Commands_without_a_server_complete_only_their_own_options()
    {
        var serve = await SuggestAsync("serve --");
        Assert.Contains("--drain-timeout", serve);
        Assert.Contains("--api", serve);
        Assert.DoesNotContain("--token", serve);
        Assert.DoesNotContain("--output", serve);
        Assert.DoesNotContain("--api", await SuggestAsync("completion --"));
        Assert.Contains("--token", await SuggestAsync("vm list --"));
    }

    [Fact]
    public async Task Without_a_server_nothing_completes_and_nothing_is_printed_to_the_line()
    {
        var run = await TestCli.RunAsync(["[suggest:18]", "vm list --service "], env: new Dictionary<string, string> { ["MULTIVIP_API"] = "http://127.0.0.1:1/", ["MULTIVIP_TOKEN"] = "x" });

        Assert.Equal(0, run.ExitCode);
        Assert.Equal(string.Empty, run.Out.Trim());
        Assert.Equal(string.Empty, run.Error);
    }

    [Fact]
    public async Task Bash_completes_names_from_the_server()
    {
        // What bash sets before it calls a completion function: the line, the cursor, the words.
        var script = $$"""
            set -eu
            source <("{{Program}}" completion bash)
            complete -p multivip
            complete_line() {
                COMP_LINE="$1"
                COMP_POINT=${#COMP_LINE}
                read -ra COMP_WORDS <<< "$COMP_LINE"
                if [[ "$COMP_LINE" == *" " ]]; then COMP_WORDS+=(""); fi
                COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
                _multivip_complete
                echo "=== $2"
                if (( ${#COMPREPLY[@]} )); then printf '%s\n' "${COMPREPLY[@]}"; fi
            }
            complete_line "{{Program}} vm show --service myService --name " vms
            complete_line "{{Program}} vm list --service " services
            complete_line "{{Program}} vip remove --service myService --name V" vips
            complete_line "{{Program}} lbset set --service myService --name " sets
            complete_line "{{Program}} vm sh" verbs
            echo "=== end"
            """;

        var output = await RunAsync("bash", ["-c", script], Environment);

        Assert.Contains("-F _multivip_complete multivip", output, StringComparison.Ordinal);
        Assert.Equal(["myVM1", "myVM2"], Section(output, "vms"));
        Assert.Equal(["myService", "otherService"], Section(output, "services"));
        Assert.Equal(["Vip1", "Vip2"], Section(output, "vips"));
        Assert.Equal(["myLBSet"], Section(output, "sets"));
        Assert.Equal(["show"], Section(output, "verbs"));
    }

    [Fact]
    public async Task Zsh_completes_names_from_the_server()
    {
        // As compsys calls it: words and CURRENT set, compadd receiving the matches (stubbed to print
        // them; a function wins over the builtin). test.sh installs zsh.
        var script = $$"""
            compdef() { print -r -- "compdef $*" }
            compadd() { [[ $1 == -- ]] && shift; print -rl -- "$@" }
            _files() { print -r -- "(files)" }
            source <("{{Program}}" completion zsh)
            words=("{{Program}}" vm show --service myService --name ""); CURRENT=7; print "=== vms"; _multivip
            words=("{{Program}}" vm list --service ""); CURRENT=5; print "=== services"; _multivip
            words=("{{Program}}" vip remove --service myService --name V); CURRENT=7; print "=== vips"; _multivip
            words=("{{Program}}" serve --tls-cert ""); CURRENT=4; print "=== files"; _multivip
            print "=== end"
            """;

        var output = await RunAsync("zsh", ["-f", "-c", script], Environment);

        Assert.Contains("compdef _multivip multivip", output, StringComparison.Ordinal);
        Assert.Equal(["myVM1", "myVM2"], Section(output, "vms"));
        Assert.Equal(["myService", "otherService"], Section(output, "services"));
        Assert.Equal(["Vip1", "Vip2"], Section(output, "vips"));
        Assert.Equal(["(files)"], Section(output, "files"));
    }

    [Fact]
    public async Task Fish_completes_names_from_the_server()
    {
        // `complete -C LINE` is fish's own completion of a command line. test.sh installs fish.
        var script = """
            multivip completion fish | source
            echo "=== vms"; complete -C 'multivip vm show --service myService --name '
            echo "=== services"; complete -C 'multivip vm list --service '
            echo "=== vips"; complete -C 'multivip vip remove --service myService --name V'
            echo "=== end"
            """;
        var env = Environment;
        env["PATH"] = _bin + Path.PathSeparator + System.Environment.GetEnvironmentVariable("PATH");

        var output = await RunAsync("fish", ["--no-config", "-c", script], env);

        Assert.Equal(["myVM1", "myVM2"], Section(output, "vms"));
        Assert.Equal(["myService", "otherService"], Section(output, "services"));
        Assert.Equal(["Vip1", "Vip2"], Section(output, "vips"));
    }

    [Fact]
    public async Task Pwsh_completes_names_from_the_server()
    {
        var script = """
            $ErrorActionPreference = 'Stop'
            multivip completion pwsh | Out-String | Invoke-Expression
            function Complete-Line([string] $Line, [string] $Name) {
                "=== $Name"
                (TabExpansion2 -inputScript $Line -cursorColumn $Line.Length).CompletionMatches | ForEach-Object CompletionText
            }
            Complete-Line 'multivip vm show --service myService --name ' vms
            Complete-Line 'multivip vm list --service ' services
            Complete-Line 'multivip vip remove --service myService --name V' vips
            "=== end"
            """;
        var env = Environment;
        env["PATH"] = _bin + Path.PathSeparator + System.Environment.GetEnvironmentVariable("PATH");
        await EnsurePwshAsync();

        var output = await RunAsync("dotnet", ["tool", "run", "pwsh", "--", "-NoLogo", "-NoProfile", "-NonInteractive", "-Command", script], env, RepoRoot());

        Assert.Equal(["myVM1", "myVM2"], Section(output, "vms"));
        Assert.Equal(["myService", "otherService"], Section(output, "services"));
        Assert.Equal(["Vip1", "Vip2"], Section(output, "vips"));
    }

    private static string[] Section(string output, string name)
    {
        var lines = output.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        var start = lines.IndexOf("=== " + name);
        Assert.True(start >= 0, $"no section {name} in:\n{output}");
        return [.. lines.Skip(start + 1).TakeWhile(l => !l.StartsWith("=== ", StringComparison.Ordinal)).Where(l => l.Length > 0)];
    }

    private static async Task<string> RunAsync(string file, IEnumerable<string> args, Dictionary<string, string> env, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in env)
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        // A bound for a shell that never ends, not a speed check: pwsh's start, its module import and
        // the completions ran past 3 minutes on a machine at load 80.
        var bound = TimeSpan.FromMinutes(8);
        using var timeout = new CancellationTokenSource(bound);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} did not finish within {bound.TotalMinutes:0} minutes.\nstdout so far:\n{await stdout}");
        }

        Assert.True(process.ExitCode == 0, $"{file} exited {process.ExitCode}\nstdout:\n{await stdout}\nstderr:\n{await stderr}");
        return await stdout;
    }

    /// <summary>test.sh restores the pwsh tool; a bare `dotnet test` on a fresh machine does it here.</summary>
    private static async Task EnsurePwshAsync()
    {
        try
        {
            await RunAsync("dotnet", ["tool", "run", "pwsh", "--", "-NoLogo", "-NoProfile", "-Version"], [], RepoRoot());
        }
        catch (Xunit.Sdk.XunitException)
        {
            await RunAsync("dotnet", ["tool", "restore"], [], RepoRoot());
        }
    }

    private static string RepoRoot()
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
