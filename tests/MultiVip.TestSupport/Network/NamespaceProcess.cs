using System.Diagnostics;
using System.Text;

namespace MultiVip.TestSupport.Network;

/// <summary>A program started inside a namespace, with its output captured for assertion messages.</summary>
public sealed class NamespaceProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private NamespaceProcess(Process process, string description)
    {
        _process = process;
        Description = description;
    }

    public string Description { get; }

    public int Pid => _process.Id;

    private bool _disposed;

    public bool HasExited => _disposed || _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Everything the program wrote to stdout and stderr so far.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    internal static NamespaceProcess Start(NetworkNamespace ns, string file, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment)
    {
        var start = new ProcessStartInfo("ip")
        {
            ArgumentList = { "netns", "exec", ns.Name, file },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file} in {ns.Name}");
        var started = new NamespaceProcess(process, $"{file} in {ns.Name} (pid {process.Id})");
        process.OutputDataReceived += (_, e) => started.Append(e.Data);
        process.ErrorDataReceived += (_, e) => started.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return started;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    /// <summary>SIGTERM: the program's orderly stop.</summary>
    public void Terminate()
    {
        if (!_process.HasExited)
        {
            _ = Native.kill(_process.Id, Native.SigTerm);
        }
    }

    /// <summary>SIGKILL, and wait until it is gone: no shutdown code of the program runs.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
        }

        _process.WaitForExit();
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{Description} did not exit within {timeout.TotalSeconds:0} s. Output:\n{Output}");
        }

        return _process.ExitCode;
    }

    /// <summary>Waits (bounded) until the output contains <paramref name="text"/>; fails early if the program exits.</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        await Eventually.TrueAsync(
            () =>
            {
                if (Output.Contains(text, StringComparison.Ordinal))
                {
                    return Task.FromResult(true);
                }

                return _process.HasExited
                    ? throw new InvalidOperationException($"{Description} exited with {_process.ExitCode} before printing '{text}'. Output:\n{Output}")
                    : Task.FromResult(false);
            },
            timeout,
            () => $"{Description} did not print '{text}'. Output:\n{Output}");
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        Kill();
        _disposed = true;
        _process.Dispose();
    }
}
