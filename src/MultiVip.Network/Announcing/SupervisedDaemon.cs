using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace MultiVip.Network.Announcing;

/// <summary>
/// A routing daemon (keepalived, BIRD) run as MultiVip's child: started through a tiny watchdog,
/// restarted with a bounded back-off when it dies, stopped with MultiVip — and never left running for
/// a dead MultiVip. The watchdog is a POSIX shell that starts the daemon and reads its own standard
/// input, a pipe whose other end only MultiVip holds: when MultiVip exits, however it exits (kill -9
/// included), the kernel closes that end, the read sees end-of-file and the watchdog sends the
/// daemon SIGTERM, which makes keepalived send a priority-0 advert and BIRD close its sessions, so a
/// peer takes over at once. Not PR_SET_PDEATHSIG: it fires when the parent *thread* exits, and .NET
/// starts processes from thread-pool threads that come and go, so it would kill the daemon spuriously.
/// </summary>
internal sealed partial class SupervisedDaemon : IAsyncDisposable
{
    /// <summary>
    /// $0 is the daemon, the rest its arguments. fd 3 keeps the pipe for the watcher; the daemon
    /// gets neither it nor the pipe (stdin /dev/null), so only MultiVip's death or its explicit close
    /// ends the read. The daemon writes to its log file, not to a pipe to MultiVip: after MultiVip's
    /// death a write to that pipe would raise SIGPIPE in the middle of the daemon's clean shutdown. The watcher is a subshell running the `read` builtin (no extra process to leak);
    /// when the daemon exits by itself, the shell ends the watcher and exits with the daemon's status.
    /// </summary>
    private const string Watchdog = """
        exec 3<&0 </dev/null
        "$0" "$@" 3<&- >>"$MULTIVIP_DAEMON_LOG" 2>&1 &
        child=$!
        echo "multivip-daemon-pid $child"
        ( while read -r _ <&3; do :; done; kill -TERM "$child" 2>/dev/null ) &
        watcher=$!
        exec 3<&-
        wait "$child"
        status=$?
        kill "$watcher" 2>/dev/null
        exit "$status"
        """;

    private const string PidMarker = "multivip-daemon-pid ";

    private readonly string _name;
    private readonly string _executable;
    private readonly Func<IReadOnlyList<string>> _arguments;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private Process? _process;
    private int _daemonPid;
    private Task? _supervision;
    private TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public SupervisedDaemon(string name, string executable, Func<IReadOnlyList<string>> arguments, string logFile, TimeProvider time, ILogger logger)
    {
        LogFile = logFile;
        _name = name;
        _executable = executable;
        _arguments = arguments;
        _time = time;
        _logger = logger;
    }

    /// <summary>The first restart waits this long, then twice as long each time, up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan FirstBackoff { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A daemon that ran this long before it died is restarted after <see cref="FirstBackoff"/> again.</summary>
    public TimeSpan StableAfter { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Where the daemon's own output goes (appended; in the data dir).</summary>
    public string LogFile { get; }

    /// <summary>The daemon's PID while it runs (0 otherwise).</summary>
    public int Pid => Volatile.Read(ref _daemonPid);

    public bool IsRunning => Pid != 0;

    /// <summary>How often the daemon was restarted after dying.</summary>
    public int Restarts { get; private set; }

    /// <summary>Raised when the daemon exited (by itself or killed), before any restart.</summary>
    public event Action? Exited;

    /// <summary>Raised after each start (also a restart), once the daemon's PID is known.</summary>
    public event Action? Started;

    /// <summary>Starts the daemon and the supervision loop; returns once its PID is known.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _supervision = Task.Run(() => SuperviseAsync(_stopping.Token), CancellationToken.None);
        var started = _started.Task;
        await started.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);
    }

    /// <summary>SIGHUP to the daemon: keepalived and BIRD re-read their configuration. False when it is not running.</summary>
    public bool Signal(int signal)
    {
        var pid = Pid;
        return pid != 0 && kill(pid, signal) == 0;
    }

    private async Task SuperviseAsync(CancellationToken cancellationToken)
    {
        var backoff = FirstBackoff;
        while (!cancellationToken.IsCancellationRequested)
        {
            var startedAt = _time.GetUtcNow();
            Process process;
            try
            {
                process = Launch();
            }
            catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
            {
                Log.StartFailed(_logger, _name, e.Message);
                _started.TrySetException(new InvalidOperationException($"could not start {_name}: {e.Message}"));
                return;
            }

            var exit = await WaitForExitAsync(process, cancellationToken);
            Volatile.Write(ref _daemonPid, 0);
            Exited?.Invoke();
            if (cancellationToken.IsCancellationRequested)
            {
                return;
            }

            var ran = _time.GetUtcNow() - startedAt;
            if (ran >= StableAfter)
            {
                backoff = FirstBackoff;
            }

            Log.DaemonExited(_logger, _name, exit, ran.TotalSeconds, backoff.TotalSeconds);
            try
            {
                await Task.Delay(backoff, _time, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            backoff = TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, backoff.Ticks * 2));
            Restarts++;
        }
    }

    private Process Launch()
    {
        var start = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["MULTIVIP_DAEMON_LOG"] = LogFile;
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(Watchdog);
        start.ArgumentList.Add(_executable);
        foreach (var argument in _arguments())
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {_executable}");
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        lock (_gate)
        {
            _process = process;
        }

        return process;
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        if (line.StartsWith(PidMarker, StringComparison.Ordinal)
            && int.TryParse(line.AsSpan(PidMarker.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
        {
            Volatile.Write(ref _daemonPid, pid);
            Log.DaemonStarted(_logger, _name, pid);
            Started?.Invoke();
            _started.TrySetResult();
            return;
        }

        Log.DaemonOutput(_logger, _name, line);
    }

    private static async Task<string> WaitForExitAsync(Process process, CancellationToken cancellationToken)
    {
        try
        {
            await process.WaitForExitAsync(cancellationToken);
            await process.WaitForExitAsync(CancellationToken.None); // the output readers too
            return process.ExitCode > 128 ? $"signal {process.ExitCode - 128}" : $"exit code {process.ExitCode}";
        }
        catch (OperationCanceledException)
        {
            return "stopped";
        }
    }

    /// <summary>
    /// Stops the daemon the way MultiVip's death would (closing the watchdog's pipe: SIGTERM, a clean
    /// goodbye to the peers) and waits for it; after <paramref name="timeout"/> it is killed.
    /// </summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        await _stopping.CancelAsync();
        Process? process;
        lock (_gate)
        {
            process = _process;
        }

        if (process is not null)
        {
            var pid = Pid;
            try
            {
                process.StandardInput.Close();
            }
            catch (IOException)
            {
            }

            try
            {
                using var wait = new CancellationTokenSource(timeout);
                await process.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                if (pid != 0)
                {
                    _ = kill(pid, 9);
                }

                process.Kill();
                Log.StopTimedOut(_logger, _name, timeout.TotalSeconds);
            }
            catch (InvalidOperationException)
            {
                // Never started.
            }

            Volatile.Write(ref _daemonPid, 0);
        }

        if (_supervision is not null)
        {
            await _supervision.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopping.IsCancellationRequested)
        {
            await StopAsync(TimeSpan.FromSeconds(10));
        }

        lock (_gate)
        {
            _process?.Dispose();
            _process = null;
        }

        _stopping.Dispose();
    }

    public const int SigHup = 1;

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    private static partial class Log
    {
        [LoggerMessage(EventId = 5200, EventName = "DaemonStarted", Level = LogLevel.Information, Message = "{Daemon} started (pid {Pid})")]
        public static partial void DaemonStarted(ILogger logger, string daemon, int pid);

        [LoggerMessage(EventId = 5201, EventName = "DaemonExited", Level = LogLevel.Warning, Message = "{Daemon} exited ({Exit}) after {Seconds:0.0} s; restarting it in {Backoff:0} s")]
        public static partial void DaemonExited(ILogger logger, string daemon, string exit, double seconds, double backoff);

        [LoggerMessage(EventId = 5202, EventName = "DaemonStartFailed", Level = LogLevel.Error, Message = "{Daemon} could not be started: {Reason}")]
        public static partial void StartFailed(ILogger logger, string daemon, string reason);

        [LoggerMessage(EventId = 5203, EventName = "DaemonOutput", Level = LogLevel.Information, Message = "{Daemon}: {Line}")]
        public static partial void DaemonOutput(ILogger logger, string daemon, string line);

        [LoggerMessage(EventId = 5204, EventName = "DaemonStopTimedOut", Level = LogLevel.Warning, Message = "{Daemon} did not stop within {Seconds:0} s of SIGTERM; killed it")]
        public static partial void StopTimedOut(ILogger logger, string daemon, double seconds);
    }
}
