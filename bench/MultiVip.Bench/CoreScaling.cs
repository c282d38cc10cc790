using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using MultiVip.Contracts;

namespace MultiVip.Bench;

/// <summary>One measured round of one loop count.</summary>
internal sealed record CoreRound(int Loops, double ConnectionsPerSecond, double CpuMicrosecondsPerConnection, double[] LoopCpuShare, double[] LoopAccepts);

/// <summary>
/// bench/run --cores: how new connections spread over the epoll loops and what each costs, with one
/// loop and with two (issue 17, item 2). The same MultiVip on both cores, once with
/// DOTNET_PROCESSOR_COUNT=1 (one epoll loop, the runtime sized for one core) and once as it starts
/// by default (one loop per core), wrk `Connection: close` through each in interleaved rounds. On a
/// machine whose load generator shares the cores a rate cannot show scaling, so it reports CPU time
/// per connection (connections per CPU-second), each loop thread's share of the CPU, and each loop's
/// successful accept4 calls (perf stat, when perf can count them).
/// </summary>
internal static class CoreScaling
{
    private const string Backend = "127.125.0.20";

    public static async Task<int> RunAsync(string repo, string[] args)
    {
        var rounds = int.Parse(Arg(args, "--rounds") ?? "3", CultureInfo.InvariantCulture);
        var seconds = int.Parse(Arg(args, "--duration") ?? "5", CultureInfo.InvariantCulture);
        var run = Path.Combine(repo, "artifacts", "bench", "cores-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        Directory.CreateDirectory(Path.Combine(run, "tmp"));
        var processes = new List<ManagedProcess>();
        try
        {
            processes.Add(await Lab.StartBothCpuBackendAsync(repo, run, Backend));

            var targets = new List<(int Loops, string Vip, ManagedProcess Process)>();
            foreach (var (loops, vip) in new[] { (1, "127.125.2.1"), (2, "127.125.2.2") })
            {
                var dataDir = Path.Combine(run, $"data-{loops}");
                var env = loops == 1 ? new Dictionary<string, string> { ["DOTNET_PROCESSOR_COUNT"] = "1" } : null;
                var process = ManagedProcess.Start($"multivip-{loops}-loops", Lab.BothCpus, "dotnet",
                [
                    Path.Combine(repo, "artifacts", "multivip", "multivip.dll"), "serve", "--data-dir", dataDir, "--api", "http://127.0.0.1:0",
                    "--dns", "off", "--vip-pool", $"{vip}-{vip}", "--max-connections-per-listener", "19000",
                ], env);
                processes.Add(process);
                for (var i = 0; !File.Exists(Path.Combine(dataDir, "endpoint")); i++)
                {
                    if (process.HasExited || i > 1200)
                    {
                        throw new InvalidOperationException("multivip serve did not start: " + process.Log);
                    }

                    await Task.Delay(100);
                }

                using var client = Lab.Client(dataDir);
                await client.CreateServiceAsync(new CreateServiceRequest { Name = "cores" });
                await client.AddVmAsync("cores", new AddVmRequest { Name = "backend", Address = Backend });
                await client.AddEndpointAsync("cores", "backend", new EndpointRequest { Name = "web", Protocol = "tcp", LocalPort = 8080, PublicPort = 18000 });
                await Lab.WaitTcpAsync(vip, 18000);
                await Tool.RunAsync(Lab.BothCpus, "wrk", "-t2", "-c50", "-d2s", "-H", "Connection: close", $"http://{vip}:18000/");
                targets.Add((loops, vip, process));
            }

            var results = new List<CoreRound>();
            for (var round = 1; round <= rounds; round++)
            {
                foreach (var (loops, vip, process) in targets)
                {
                    var result = await MeasureAsync(loops, vip, process, seconds);
                    results.Add(result);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  round {round} {loops} loop(s): {result.ConnectionsPerSecond:F0} conn/s, {result.CpuMicrosecondsPerConnection:F1} µs CPU per connection, " +
                        $"loop CPU shares {string.Join(" / ", result.LoopCpuShare.Select(s => s.ToString("P0", CultureInfo.InvariantCulture)))}, " +
                        $"accepts per loop {string.Join(" / ", result.LoopAccepts.Select(a => a.ToString("N0", CultureInfo.InvariantCulture)))}"));
                }
            }

            var markdown = Markdown(results, rounds, seconds);
            Console.WriteLine(markdown);
            var artifact = Path.Combine(repo, "artifacts", "bench", "cores.md");
            await File.WriteAllTextAsync(artifact, markdown, new UTF8Encoding(false));
            Console.WriteLine($"Wrote {artifact}");
            return 0;
        }
        finally
        {
            foreach (var process in Enumerable.Reverse(processes))
            {
                process.Dispose();
            }
        }
    }

    private static async Task<CoreRound> MeasureAsync(int loops, string vip, ManagedProcess process, int seconds)
    {
        var threads = LoopThreads(process.Pid);
        var cpuBefore = process.TreeCpuMicroseconds();
        var loopBefore = threads.Select(ThreadCpuTicks).ToArray();
        var perf = CountAcceptsAsync(process.Pid, threads, seconds + 1);
        var output = await Tool.RunAsync(Lab.BothCpus, "wrk", "-t2", "-c50", $"-d{seconds}s", "--timeout", "5s", "-H", "Connection: close", $"http://{vip}:18000/");
        var accepts = await perf;
        var cpu = process.TreeCpuMicroseconds() - cpuBefore;
        var loopCpu = threads.Select((t, i) => (double)(ThreadCpuTicks(t) - loopBefore[i])).ToArray();
        var connections = Measurements.Completed(output);
        var rate = double.Parse(Regex.Match(output, @"Requests/sec:\s+([\d.]+)").Groups[1].Value, CultureInfo.InvariantCulture);
        var totalLoop = Math.Max(1, loopCpu.Sum());
        return new CoreRound(loops, rate, cpu / connections, [.. loopCpu.Select(c => c / totalLoop)], accepts);
    }

    /// <summary>The epoll loop threads of <paramref name="pid"/> ("mv-epoll-N"), in loop order.</summary>
    private static int[] LoopThreads(int pid) =>
    [
        .. Directory.GetDirectories($"/proc/{pid}/task")
            .Select(d => (Tid: int.Parse(Path.GetFileName(d), CultureInfo.InvariantCulture), Name: File.ReadAllText(Path.Combine(d, "comm")).Trim()))
            .Where(t => t.Name.StartsWith("mv-epoll-", StringComparison.Ordinal))
            .OrderBy(t => t.Name, StringComparer.Ordinal)
            .Select(t => t.Tid),
    ];

    private static long ThreadCpuTicks(int tid)
    {
        var stat = File.ReadAllText($"/proc/{tid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    }

    /// <summary>Successful accept4 calls of each loop thread (perf stat on the syscall exit tracepoint, returns ≥ 0); NaN when perf cannot count.</summary>
    private static async Task<double[]> CountAcceptsAsync(int pid, int[] threads, int seconds)
    {
        try
        {
            var output = await Tool.RunAsync(Lab.BothCpus, "perf", "stat", "-x", ",", "--per-thread", "-e", "syscalls:sys_exit_accept4", "--filter", "ret >= 0",
                "-t", string.Join(',', threads), "--", "sleep", seconds.ToString(CultureInfo.InvariantCulture));
            var counts = new double[threads.Length];
            foreach (var line in output.Split('\n'))
            {
                // "<comm>-<tid>,<count>,,syscalls:sys_exit_accept4,..."
                var match = Regex.Match(line, @"-(\d+),(\d+),");
                if (match.Success && Array.IndexOf(threads, int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture)) is var index and >= 0)
                {
                    counts[index] = double.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture);
                }
            }

            return counts;
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return [.. threads.Select(_ => double.NaN)];
        }
    }

    private static string Markdown(List<CoreRound> results, int rounds, int seconds)
    {
        var md = new StringBuilder();
        md.AppendLine("## Epoll loops: one against two (`bench/run --cores`)");
        md.AppendLine();
        md.AppendLine(FormattableString.Invariant($"Run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} cores shared with wrk, the backend and other work; {rounds} interleaved rounds of {seconds} s, medians. The same MultiVip unpinned, with `DOTNET_PROCESSOR_COUNT=1` (one epoll loop) and without (one per core); wrk `-t2 -c50`, `Connection: close`."));
        md.AppendLine();
        md.AppendLine("| loops | new connections/s | CPU per connection (µs) | connections per CPU-second | loop threads' CPU shares | successful accept4 per loop |");
        md.AppendLine("|---:|---:|---:|---:|---|---|");
        foreach (var loops in results.Select(r => r.Loops).Distinct())
        {
            var of = results.Where(r => r.Loops == loops).ToList();
            var cpu = ScaleBench.Percentile([.. of.Select(r => r.CpuMicrosecondsPerConnection)], 50);
            var shares = Enumerable.Range(0, of[0].LoopCpuShare.Length).Select(i => ScaleBench.Percentile([.. of.Select(r => r.LoopCpuShare[i])], 50).ToString("P0", CultureInfo.InvariantCulture));
            var accepts = Enumerable.Range(0, of[0].LoopAccepts.Length).Select(i => ScaleBench.Percentile([.. of.Select(r => r.LoopAccepts[i])], 50).ToString("N0", CultureInfo.InvariantCulture));
            md.AppendLine(CultureInfo.InvariantCulture, $"| {loops} | {ScaleBench.Percentile([.. of.Select(r => r.ConnectionsPerSecond)], 50):N0} | {cpu:F1} | {1_000_000 / cpu:N0} | {string.Join(" / ", shares)} | {string.Join(" / ", accepts)} |");
        }

        return md.ToString();
    }

    private static string? Arg(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }
}
