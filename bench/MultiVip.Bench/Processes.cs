using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace MultiVip.Bench;

/// <summary>
/// A process the harness started; killed (with its children) on dispose. The harness stops only
/// what it started, by PID, never by name: on a user's machine an nginx or HAProxy of the same
/// name may well be theirs.
/// </summary>
internal sealed class ManagedProcess : IDisposable
{
    // Everything started and not yet disposed, so an interrupted run (Ctrl+C, SIGTERM) still stops
    // its own processes instead of leaving them holding the benchmark's addresses.
    private static readonly HashSet<ManagedProcess> Running = [];

    // What else an interrupted run must undo once its processes are gone (the kernel benchmark's
    // network namespaces: a namespace with a process in it outlives `ip netns del`).
    private static readonly List<Action> AfterStop = [];

    private readonly Process _process;
    private readonly System.Text.StringBuilder _log = new();

    private ManagedProcess(Process process, string name)
    {
        _process = process;
        Name = name;
    }

    public string Name { get; }

    public int Pid => _process.Id;

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    public bool HasExited => _process.HasExited;

    /// <summary>The exit code, once <see cref="HasExited"/>.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Starts <paramref name="command"/> pinned to <paramref name="cpus"/> with taskset.</summary>
    public static ManagedProcess Start(string name, string cpus, string command, IEnumerable<string> args, IDictionary<string, string>? env = null)
    {
        var info = new ProcessStartInfo("taskset")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(cpus);
        info.ArgumentList.Add(command);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in env ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {command}");
        var managed = new ManagedProcess(process, name);
        lock (Running)
        {
            Running.Add(managed);
        }

        process.OutputDataReceived += (_, e) => managed.Append(e.Data);
        process.ErrorDataReceived += (_, e) => managed.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return managed;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            if (_log.Length < 1_000_000)
            {
                _log.AppendLine(line);
            }
        }
    }

    /// <summary>
    /// CPU time (user + system, every thread) the process and its descendants have used, in
    /// microseconds: /proc/PID/stat fields 14 and 15, in clock ticks (USER_HZ, 100 on Linux).
    /// Unlike a rate, CPU per request barely moves when other work on a shared machine takes cores away.
    /// </summary>
    public double TreeCpuMicroseconds() => TreeCpuMicroseconds(Pid);

    /// <summary>The same for any process by its PID (one the harness did not start through this class, such as a node in a namespace).</summary>
    public static double TreeCpuMicroseconds(int pid) => Tree(pid).Sum(CpuTicks) * 10_000.0;

    private static long CpuTicks(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name (field 2) is in parentheses and may hold spaces: count from after it.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>Resident memory of the process and all its descendants, in bytes.</summary>
    public long TreeRssBytes() => Tree(Pid).Sum(RssBytes);

    private static IEnumerable<int> Tree(int pid)
    {
        yield return pid;
        var children = $"/proc/{pid}/task/{pid}/children";
        if (!File.Exists(children))
        {
            yield break;
        }

        foreach (var child in File.ReadAllText(children).Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (var descendant in Tree(int.Parse(child, CultureInfo.InvariantCulture)))
            {
                yield return descendant;
            }
        }
    }

    private static long RssBytes(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>
    /// On SIGINT/SIGTERM/SIGHUP, stops every process the harness started (by PID) before the
    /// harness itself exits; the signal then takes its default course.
    /// </summary>
    public static IDisposable StopAllOnSignal()
    {
        var registrations = new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP }
            .Select(signal => PosixSignalRegistration.Create(signal, _ => StopAll()))
            .ToList();
        return new Registrations(registrations);
    }

    private static void StopAll()
    {
        List<ManagedProcess> running;
        lock (Running)
        {
            running = [.. Running];
        }

        foreach (var process in running)
        {
            process.Dispose();
        }

        List<Action> after;
        lock (AfterStop)
        {
            after = [.. AfterStop];
        }

        foreach (var action in after)
        {
            action();
        }
    }

    /// <summary>Runs <paramref name="action"/> on SIGINT/SIGTERM/SIGHUP after every process is stopped; dispose to withdraw it.</summary>
    public static IDisposable OnInterrupt(Action action)
    {
        lock (AfterStop)
        {
            AfterStop.Add(action);
        }

        return new Withdraw(() =>
        {
            lock (AfterStop)
            {
                AfterStop.Remove(action);
            }
        });
    }

    private sealed class Withdraw(Action withdraw) : IDisposable
    {
        public void Dispose() => withdraw();
    }

    public void Dispose()
    {
        lock (Running)
        {
            if (!Running.Remove(this))
            {
                return;
            }
        }

        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }

    private sealed class Registrations(List<PosixSignalRegistration> registrations) : IDisposable
    {
        public void Dispose() => registrations.ForEach(r => r.Dispose());
    }
}

/// <summary>Runs a tool to completion and returns its output.</summary>
internal static class Tool
{
    public static async Task<string> RunAsync(string cpus, string command, params string[] args)
    {
        var info = new ProcessStartInfo("taskset") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(cpus);
        info.ArgumentList.Add(command);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        var output = await stdout + await stderr;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{command} {string.Join(' ', args)} exited {process.ExitCode}: {output}");
        }

        return output;
    }
}
