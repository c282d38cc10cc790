using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using MultiVip.Contracts;

namespace MultiVip.Bench;

/// <summary>One takeover during the restart run: how it was asked for and how long each side took.</summary>
internal sealed record TakeoverRun(int Number, string How, int OldPid, int NewPid, double ServingSeconds, double OldExitSeconds, int OldExitCode);

/// <summary>What the restart run measured (bench/run --restart).</summary>
internal sealed record RestartResult(
    double Seconds,
    double Connections,
    double ConnectionsPerSecond,
    long ConnectErrors,
    long ReadErrors,
    long WriteErrors,
    long Timeouts,
    long Non2xx,
    int LongOpened,
    int LongFinished,
    long LongRequests,
    IReadOnlyList<string> LongErrors,
    IReadOnlyList<TakeoverRun> Takeovers,
    int WrkThreads,
    int WrkConnections)
{
    public long Failed => ConnectErrors + ReadErrors + WriteErrors + Timeouts + Non2xx;
}

/// <summary>
/// bench/run --restart: hitless restart under as many new connections a second as the machine gives
/// (issue 17, item 3). wrk opens connection after connection (`Connection: close`) through a VIP
/// while the harness makes <c>--takeovers</c> takeovers, alternating a second `multivip serve` on the
/// same data dir and SIGUSR2 to the running one; before each takeover it opens long keep-alive
/// connections on the running server that go on exchanging requests across the takeover, so they
/// finish on the old server while it drains. It reports wrk's failed connections (refused = connect
/// errors, reset or cut = read/write errors, timeouts, non-2xx) and how many long connections
/// finished. Everything runs on 127.125.0.0/16 on loopback; only processes it started are stopped.
/// </summary>
internal static partial class RestartBench
{
    private const string Backend = "127.125.0.10";
    private const string Vip = "127.125.1.1";
    private const int FrontPort = 18000;

    public static async Task<int> RunAsync(string repo, string[] args)
    {
        var takeovers = int.Parse(Arg(args, "--takeovers") ?? "6", CultureInfo.InvariantCulture);
        var seconds = int.Parse(Arg(args, "--duration") ?? "60", CultureInfo.InvariantCulture);
        var wrkConnections = int.Parse(Arg(args, "--connections") ?? "64", CultureInfo.InvariantCulture);
        var longPerTakeover = int.Parse(Arg(args, "--long") ?? "8", CultureInfo.InvariantCulture);
        var run = Path.Combine(repo, "artifacts", "bench", "restart-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        Directory.CreateDirectory(Path.Combine(run, "tmp"));
        var dataDir = Path.Combine(run, "data");
        var multivip = Path.Combine(repo, "artifacts", "multivip", "multivip.dll");
        string[] serve =
        [
            multivip, "serve", "--data-dir", dataDir, "--api", "http://127.0.0.1:0", "--dns", "off",
            "--vip-pool", $"{Vip}-{Vip}", "--max-connections-per-listener", "19000",
            // Long enough for every long connection to finish on the server that accepted it.
            "--drain-timeout", "60",
        ];

        var processes = new List<ManagedProcess>();
        var current = 0;
        try
        {
            Console.WriteLine($"Restart under load: {takeovers} takeovers in {seconds} s of wrk (Connection: close, {wrkConnections} connections), {longPerTakeover} long connections per takeover; logs in {run}");
            processes.Add(await Lab.StartBothCpuBackendAsync(repo, run, Backend));

            var first = ManagedProcess.Start("multivip-0", Lab.BothCpus, "dotnet", serve);
            processes.Add(first);
            await WaitForEndpointAsync(dataDir, first, previous: null);
            current = first.Pid;
            using (var client = Lab.Client(dataDir))
            {
                await client.CreateServiceAsync(new CreateServiceRequest { Name = "restart" });
                await client.AddVmAsync("restart", new AddVmRequest { Name = "backend", Address = Backend });
                await client.AddEndpointAsync("restart", "backend", new EndpointRequest { Name = "web", Protocol = "tcp", LocalPort = 8080, PublicPort = FrontPort });
            }

            await Lab.WaitTcpAsync(Vip, FrontPort);

            // Warm-up: the JIT and the backend's first connections, outside the measured run.
            await Tool.RunAsync(Lab.BothCpus, "wrk", "-t2", $"-c{wrkConnections}", "-d2s", "-H", "Connection: close", $"http://{Vip}:{FrontPort}/");

            var wrkThreads = Math.Max(1, Environment.ProcessorCount);
            var clock = Stopwatch.StartNew();
            var wrk = Tool.RunAsync(Lab.BothCpus, "wrk", $"-t{wrkThreads}", $"-c{wrkConnections}", $"-d{seconds}s", "--timeout", "10s",
                "-H", "Connection: close", $"http://{Vip}:{FrontPort}/");
            var longs = new LongConnections(IPAddress.Parse(Vip), FrontPort);
            var runs = new List<TakeoverRun>();
            var exits = new List<Task>();
            var interval = TimeSpan.FromSeconds(seconds) / (takeovers + 1);
            for (var i = 1; i <= takeovers; i++)
            {
                await Task.Delay(interval * i - clock.Elapsed is { } wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero);

                // Established on the running server, still exchanging while it hands over and drains.
                await longs.OpenAsync(longPerTakeover, TimeSpan.FromSeconds(Math.Max(3, interval.TotalSeconds * 0.8)));
                var old = current;
                var oldProcess = processes.FirstOrDefault(p => p.Pid == old);
                var oldLog = oldProcess?.Log.Length ?? 0;
                var started = Stopwatch.StartNew();
                int successor;
                string how;
                ManagedProcess? log;
                if (i % 2 == 1)
                {
                    how = "second multivip serve";
                    var next = ManagedProcess.Start($"multivip-{i}", Lab.BothCpus, "dotnet", serve);
                    processes.Add(next);
                    await WaitForOutputAsync(next, $"Took over from the server with PID {old}", TimeSpan.FromSeconds(120));
                    successor = next.Pid;
                    log = next;
                }
                else
                {
                    how = "SIGUSR2";
                    Signal("USR2", old);

                    // The successor is the old server's child and writes to the same output.
                    log = oldProcess ?? processes.Last(p => p.Log.Contains($"(PID {old})", StringComparison.Ordinal));
                    successor = await WaitForSuccessorAsync(log, old, oldLog, TimeSpan.FromSeconds(120));
                    await WaitForOutputAsync(log, $"Took over from the server with PID {old}", TimeSpan.FromSeconds(120));
                }

                var serving = started.Elapsed.TotalSeconds;
                current = successor;
                Console.WriteLine($"  takeover {i} ({how}): PID {old} -> {successor}, serving after {serving:F1} s");
                var number = i;
                exits.Add(Task.Run(async () =>
                {
                    var code = await WaitForExitAsync(old, oldProcess, TimeSpan.FromSeconds(180));
                    lock (runs)
                    {
                        runs.Add(new TakeoverRun(number, how, old, successor, serving, started.Elapsed.TotalSeconds, code));
                    }
                }));
            }

            var output = await wrk;
            await longs.WaitAsync();
            await Task.WhenAll(exits);
            var result = Parse(output, clock.Elapsed.TotalSeconds, longs, [.. runs.OrderBy(r => r.Number)], wrkThreads, wrkConnections);
            Console.WriteLine(output);
            var markdown = Markdown(result, takeovers);
            Console.WriteLine(markdown);
            var artifact = Path.Combine(repo, "artifacts", "bench", "restart.md");
            await File.WriteAllTextAsync(artifact, markdown, new UTF8Encoding(false));
            if (!args.Contains("--no-docs"))
            {
                var docs = Path.Combine(repo, "docs", "benchmarks.md");
                await GeneratedBlocks.WriteAsync(docs, GeneratedBlocks.Restart, markdown);
                Console.WriteLine($"Wrote {artifact} and the restart block of {docs}");
            }

            return result.Failed == 0 && result.LongFinished == result.LongOpened ? 0 : 1;
        }
        finally
        {
            // The last server may be a SIGUSR2 successor (not our child): stopped by its PID.
            if (current != 0 && processes.All(p => p.Pid != current))
            {
                Signal("TERM", current);
                await WaitForExitAsync(current, null, TimeSpan.FromSeconds(90));
            }

            foreach (var process in Enumerable.Reverse(processes))
            {
                process.Dispose();
            }
        }
    }

    private static RestartResult Parse(string wrk, double seconds, LongConnections longs, IReadOnlyList<TakeoverRun> runs, int threads, int connections)
    {
        var requests = double.Parse(Regex.Match(wrk, @"(\d+) requests in").Groups[1].Value, CultureInfo.InvariantCulture);
        var rate = double.Parse(Regex.Match(wrk, @"Requests/sec:\s+([\d.]+)").Groups[1].Value, CultureInfo.InvariantCulture);
        var errors = Regex.Match(wrk, @"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)");
        long Error(int group) => errors.Success ? long.Parse(errors.Groups[group].Value, CultureInfo.InvariantCulture) : 0;
        var non2xx = Regex.Match(wrk, @"Non-2xx or 3xx responses: (\d+)");
        return new RestartResult(seconds, requests, rate, Error(1), Error(2), Error(3), Error(4),
            non2xx.Success ? long.Parse(non2xx.Groups[1].Value, CultureInfo.InvariantCulture) : 0,
            longs.Opened, longs.Finished, longs.Requests, longs.Errors, runs, threads, connections);
    }

    private static string Markdown(RestartResult r, int takeovers)
    {
        var md = new StringBuilder();
        md.AppendLine("## Restart under load (`bench/run --restart`)");
        md.AppendLine();
        md.AppendLine(FormattableString.Invariant($"Run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} cores (shared; load average {Report.LoadAverage()} at the end). wrk (`-t{r.WrkThreads} -c{r.WrkConnections}`, `Connection: close`: one new connection per request) through one VIP to nginx, MultiVip and wrk unpinned, while {takeovers} takeovers alternate a second `multivip serve` on the same data dir and SIGUSR2. Before each takeover a few long keep-alive connections open on the running server and go on sending a request every 100 ms until after it handed over; they must finish on the old server while it drains."));
        md.AppendLine();
        md.AppendLine("| new connections | new connections/s | refused (connect errors) | reset or cut (read + write errors) | timeouts | non-2xx | long connections finished | requests on them |");
        md.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|");
        md.AppendLine(CultureInfo.InvariantCulture, $"| {r.Connections:N0} | {r.ConnectionsPerSecond:N0} | {r.ConnectErrors} | {r.ReadErrors + r.WriteErrors} | {r.Timeouts} | {r.Non2xx} | {r.LongFinished} of {r.LongOpened} | {r.LongRequests:N0} |");
        md.AppendLine();
        md.AppendLine("| takeover | how | old PID → new PID | new server serving after (s) | old server exited after (s) | old exit code (0 also for gone when it was a SIGUSR2 successor, not the harness's child) |");
        md.AppendLine("|---:|---|---|---:|---:|---:|");
        foreach (var t in r.Takeovers)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| {t.Number} | {t.How} | {t.OldPid} → {t.NewPid} | {t.ServingSeconds:F1} | {t.OldExitSeconds:F1} | {t.OldExitCode} |");
        }

        if (r.LongErrors.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("Long connection errors: " + string.Join("; ", r.LongErrors.Take(5)));
        }

        return md.ToString();
    }

    private static void Signal(string signal, int pid)
    {
        using var kill = Process.Start("kill", [$"-{signal}", pid.ToString(CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
    }

    private static async Task WaitForEndpointAsync(string dataDir, ManagedProcess process, string? previous)
    {
        var endpoint = Path.Combine(dataDir, "endpoint");
        for (var i = 0; !File.Exists(endpoint) || (previous is not null && File.ReadAllText(endpoint) == previous); i++)
        {
            if (process.HasExited || i > 1200)
            {
                throw new InvalidOperationException("multivip serve did not start: " + process.Log);
            }

            await Task.Delay(100);
        }
    }

    private static async Task WaitForOutputAsync(ManagedProcess process, string text, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (!process.Log.Contains(text, StringComparison.Ordinal))
        {
            if (deadline.Elapsed > timeout)
            {
                throw new InvalidOperationException($"'{text}' did not appear within {timeout.TotalSeconds:0} s:\n{process.Log}");
            }

            await Task.Delay(20);
        }
    }

    /// <summary>The PID the old server says it handed over to ("handed over to the new server (PID n)"), in its log after <paramref name="from"/>.</summary>
    private static async Task<int> WaitForSuccessorAsync(ManagedProcess log, int old, int from, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var text = log.Log;
            var match = Regex.Match(text[Math.Min(from, text.Length)..], @"handed over to the new server \(PID (\d+)\)");
            if (match.Success)
            {
                return int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
            }

            if (deadline.Elapsed > timeout)
            {
                throw new InvalidOperationException($"PID {old} did not hand over within {timeout.TotalSeconds:0} s after SIGUSR2:\n{text}");
            }

            await Task.Delay(20);
        }
    }

    /// <summary>Waits for <paramref name="pid"/> to exit; its exit code when it is our child, else 0 once /proc says it is gone.</summary>
    private static async Task<int> WaitForExitAsync(int pid, ManagedProcess? process, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (process is not null ? !process.HasExited : Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal))
        {
            if (deadline.Elapsed > timeout)
            {
                return -1;
            }

            await Task.Delay(50);
        }

        return process?.ExitCode ?? 0;
    }

    private static string? Arg(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }

    /// <summary>
    /// Keep-alive HTTP connections that each send `GET /` every 100 ms for a while and then close:
    /// opened on the running server before a takeover, so they finish on the old server as it drains.
    /// </summary>
    private sealed class LongConnections(IPAddress vip, int port)
    {
        private static readonly byte[] Request = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: bench\r\n\r\n");
        private readonly List<Task> _running = [];
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _errors = new();
        private int _opened;
        private int _finished;
        private long _requests;

        public int Opened => Volatile.Read(ref _opened);

        public int Finished => Volatile.Read(ref _finished);

        public long Requests => Interlocked.Read(ref _requests);

        public IReadOnlyList<string> Errors => [.. _errors];

        /// <summary>Opens <paramref name="count"/> connections and returns once each answered its first request.</summary>
        public async Task OpenAsync(int count, TimeSpan life)
        {
            var ready = new List<Task>();
            for (var i = 0; i < count; i++)
            {
                var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                ready.Add(first.Task);
                _running.Add(Task.Run(() => RunAsync(life, first)));
            }

            await Task.WhenAll(ready);
        }

        public Task WaitAsync() => Task.WhenAll(_running);

        private async Task RunAsync(TimeSpan life, TaskCompletionSource first)
        {
            Interlocked.Increment(ref _opened);
            try
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                using var timeout = new CancellationTokenSource(life + TimeSpan.FromSeconds(30));
                await socket.ConnectAsync(vip, port, timeout.Token);
                var buffer = new byte[4096];
                var clock = Stopwatch.StartNew();
                while (true)
                {
                    await socket.SendAsync(Request, SocketFlags.None, timeout.Token);
                    await ReadResponseAsync(socket, buffer, timeout.Token);
                    Interlocked.Increment(ref _requests);
                    first.TrySetResult();
                    if (clock.Elapsed >= life)
                    {
                        break;
                    }

                    await Task.Delay(100, timeout.Token);
                }

                socket.Shutdown(SocketShutdown.Send);
                if (await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token) != 0)
                {
                    throw new IOException("bytes after the last response");
                }

                Interlocked.Increment(ref _finished);
            }
            catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
            {
                _errors.Enqueue($"{e.GetType().Name} {(e as SocketException)?.SocketErrorCode} {e.Message}");
            }
            finally
            {
                first.TrySetResult();
            }
        }

        /// <summary>Reads one response of the backend ("hello\n" with Content-Length) off a keep-alive connection.</summary>
        private static async Task ReadResponseAsync(Socket socket, byte[] buffer, CancellationToken cancellationToken)
        {
            var length = 0;
            while (true)
            {
                var n = await socket.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, cancellationToken);
                if (n == 0)
                {
                    throw new IOException($"the connection ended after {length} byte(s) of a response");
                }

                length += n;
                var text = Encoding.ASCII.GetString(buffer, 0, length);
                var headers = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
                if (headers < 0)
                {
                    continue;
                }

                var match = Regex.Match(text[..headers], @"Content-Length: (\d+)", RegexOptions.IgnoreCase);
                if (!text.StartsWith("HTTP/1.1 200", StringComparison.Ordinal) || !match.Success)
                {
                    throw new IOException($"unexpected response '{text.Split('\r')[0]}'");
                }

                if (length >= headers + 4 + int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture))
                {
                    return;
                }
            }
        }
    }
}
