using System.Diagnostics;
using System.Globalization;

namespace MultiVip.Cli.Tests.Operations;

/// <summary>
/// The built multivip.dll as a child process, in a working directory of the test's choosing and
/// with extra environment variables; stdout and stderr are collected line by line.
/// </summary>
internal sealed class CliProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly SemaphoreSlim _changed = new(0);

    private CliProcess(Process process)
    {
        _process = process;
    }

    /// <summary>
    /// How long a test waits for a process event (a line, an exit): an event that never comes fails
    /// after it, one that comes ends the wait at once. Generous because a fresh server on a loaded CI
    /// machine (load 80) took more than 60 s to print its start-up lines.
    /// </summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);

    public static string Dll => Path.Combine(AppContext.BaseDirectory, "multivip.dll");

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public string Output
    {
        get
        {
            lock (_lines)
            {
                return string.Join('\n', _lines);
            }
        }
    }

    public static CliProcess Start(string workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        start.ArgumentList.Add(Dll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var process = new Process { StartInfo = start };
        var cli = new CliProcess(process);
        process.OutputDataReceived += (_, e) => cli.Append(e.Data);
        process.ErrorDataReceived += (_, e) => cli.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return cli;
    }

    /// <summary>Runs a CLI command to its end and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string workingDirectory, params string[] args)
    {
        using var process = Start(workingDirectory, null, args);
        var exit = await process.WaitForExitAsync(Bound);
        return (exit, process.Output);
    }

    /// <summary>Waits until a line contains <paramref name="text"/>; fails if the process exits first.</summary>
    public async Task<string> WaitForLineAsync(string text, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            lock (_lines)
            {
                if (_lines.FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal)) is { } line)
                {
                    return line;
                }
            }

            Assert.False(_process.HasExited && deadline.Elapsed > TimeSpan.FromMilliseconds(200), $"multivip exited ({ExitCodeText()}) before printing '{text}':\n{Output}");
            var left = timeout - deadline.Elapsed;
            Assert.True(left > TimeSpan.Zero, $"multivip did not print '{text}' within {timeout.TotalSeconds:0} s:\n{Output}");
            await _changed.WaitAsync(TimeSpan.FromMilliseconds(Math.Min(left.TotalMilliseconds, 250)));
        }
    }

    /// <summary>SIGTERM, as systemd and `kill` send it.</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        // Also waits for the redirected streams to end, so no line arrives after this.
        _process.WaitForExit();
        _process.Dispose();
        _changed.Dispose();
    }

    private string ExitCodeText() => _process.HasExited ? $"exit code {_process.ExitCode}" : "running";

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_lines)
        {
            _lines.Add(line);
        }

        _changed.Release();
    }
}
