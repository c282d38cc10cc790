using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using MultiVip.DataPlane;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Nftables;
using MultiVip.Model.Services;

namespace MultiVip.Bench;

/// <summary>
/// bench/kernel-scale: the nftables plane's update cost at scale. Inside a network namespace of its
/// own (the script makes it; every rule and probe stays there) the real <see cref="NftablesDataPlane"/>
/// renders N listeners (default 10,000: 100 load-balanced sets of two probed members, the rest single
/// endpoints), then applies single-endpoint changes through ApplyAsync (an endpoint added to a
/// listener, removed again, a listener removed, added back) and lets 2 × M set members leave and
/// rejoin rotation through their real TCP probes (M probe ports closed, then opened again). Reports
/// p50/p99/max per kind and overall and the initial commit. No bound is asserted: figures only.
/// </summary>
internal static class KernelScale
{
    public static async Task<int> RunAsync(string[] args)
    {
        var listenerCount = IntArg(args, "--listeners", 10_000);
        var changeCount = IntArg(args, "--changes", 160);
        var rotations = IntArg(args, "--rotations", 50);

        // --warmup N: changes of every kind applied (not measured) before the measured ones, on other
        // listeners. The bench is not ReadyToRun as multivip is, so without it the first change of each
        // kind waits for the JIT, and with 40 changes per kind p99 is that first, cold one.
        var warmup = IntArg(args, "--warmup", 40);
        var setCount = Math.Max(rotations, Math.Min(100, listenerCount / 10));
        var output = Arg(args, "--out");

        // --no-docs: leave docs/benchmarks.md as it is (a run for a branch's own figures).
        var docs = args.Contains("--no-docs") ? null : Arg(args, "--docs");

        // --breakdown: where each measured change's time went (lock, our diff and render, netlink batch,
        // nft's user/kernel/run-queue/sleep time, GC pauses), and the slowest changes with theirs.
        var breakdown = args.Contains("--breakdown");

        // --nft-process: one nft -f - process per commit (the fallback) instead of libnftables in this process.
        var inProcess = !args.Contains("--nft-process");

        // Probe targets: two listening sockets per set, on this namespace's loopback.
        var probes = new List<Socket[]>();
        for (var i = 0; i < setCount; i++)
        {
            probes.Add([Listen(), Listen()]);
        }

        var specs = new List<ListenerSpec>(listenerCount);
        for (var i = 0; i < listenerCount; i++)
        {
            specs.Add(i < setCount ? SetListener(i, probes[i]) : Single(i));
        }

        await using var plane = new NftablesDataPlane(
            new NftablesOptions { InProcess = inProcess },
            new DataPlaneHost(new DataPlaneOptions(), NullLoggerFactory.Instance, TimeProvider.System),
            NullLoggerFactory.Instance,
            TimeProvider.System);
        var generation = 1L;
        var started = Stopwatch.GetTimestamp();
        var first = await plane.ApplyAsync(new DesiredState(generation, [.. specs]), CancellationToken.None);
        var initial = Stopwatch.GetElapsedTime(started);
        Check(first);
        Console.WriteLine($"kernel-scale: {listenerCount} listeners ({setCount} sets of 2, {listenerCount - setCount} single endpoints) committed in {initial.TotalSeconds:F2} s");

        // Wait until every probed member is in rotation, so only the toggles below move routes.
        await WaitAsync(() => plane.GetHealth().Count(h => h.LastProbeAt is not null && h.State == HealthState.Healthy) >= 2 * setCount, "the set members never all came into rotation");

        // The plane measures its sections only while someone listens; the last change's cost is paired with its time here (listened to
        // during the warm-up too, so the measuring itself is warm).
        CommitCost? lastCost = null;
        void OnCommitted(CommitCost cost) => lastCost = cost;
        var costs = new List<ChangeCost>();
        if (breakdown)
        {
            plane.ChangeCommitted += OnCommitted;
        }

        var applied = new Dictionary<string, List<double>> { ["endpoint added"] = [], ["endpoint removed"] = [], ["listener removed"] = [], ["listener added"] = [] };
        var warmupCpuBefore = CpuMilliseconds();
        var cold = new Dictionary<string, List<double>>();
        for (var k = 0; k < warmup; k++)
        {
            await ChangeAsync(k, listenerCount - 1 - (k / 4 % (listenerCount - setCount)), cold);
        }

        var cpuWarmup = (CpuMilliseconds() - warmupCpuBefore) / Math.Max(1, warmup);
        var cpuBefore = CpuMilliseconds();
        for (var k = 0; k < changeCount; k++)
        {
            await ChangeAsync(k, setCount + (k / 4 % (listenerCount - setCount)), applied);
        }

        var cpuPerChange = (CpuMilliseconds() - cpuBefore) / Math.Max(1, changeCount);
        plane.ChangeCommitted -= OnCommitted;

        // One change of kind k % 4 to listener index, its ApplyAsync time added to times[kind].
        async Task ChangeAsync(int k, int index, Dictionary<string, List<double>> times)
        {
            var (kind, spec) = (k % 4) switch
            {
                0 => ("endpoint added", Single(index) with { Backends = [.. Single(index).Backends, new BackendSpec("vm2", "web", new IPEndPoint(IPAddress.Parse("192.0.2.200"), 8080))] }),
                1 => ("endpoint removed", Single(index)),
                2 => ("listener removed", (ListenerSpec?)null),
                _ => ("listener added", Single(index)),
            };
            if (spec is null)
            {
                specs[index] = null!;
            }
            else
            {
                specs[index] = spec;
            }

            generation++;
            var desired = new DesiredState(generation, [.. specs.Where(s => s is not null)]);
            var gcs = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
            var paused = GC.GetTotalPauseDuration();
            lastCost = null;
            var began = Stopwatch.GetTimestamp();
            var result = await plane.ApplyAsync(desired, CancellationToken.None);
            var took = Stopwatch.GetElapsedTime(began);
            (times.TryGetValue(kind, out var list) ? list : times[kind] = []).Add(took.TotalMilliseconds);
            if (ReferenceEquals(times, applied) && lastCost is { } cost)
            {
                costs.Add(new ChangeCost(kind, took, cost, GC.GetTotalPauseDuration() - paused,
                    (GC.CollectionCount(0) - gcs.Item1, GC.CollectionCount(1) - gcs.Item2, GC.CollectionCount(2) - gcs.Item3)));
            }

            Check(result);
        }

        // Members leaving and rejoining rotation through their probes: each is one route commit.
        var routed = new ConcurrentQueue<double>();
        plane.RouteCommitted += (_, took) => routed.Enqueue(took.TotalMilliseconds);
        var leaving = new List<double>();
        var rejoining = new List<double>();
        var ports = new List<int>();
        for (var i = 0; i < rotations; i++)
        {
            ports.Add(((IPEndPoint)probes[i][1].LocalEndPoint!).Port);
            probes[i][1].Dispose();
        }

        await WaitAsync(() => routed.Count >= rotations, "members never left rotation");
        while (routed.TryDequeue(out var ms))
        {
            leaving.Add(ms);
        }

        for (var i = 0; i < rotations; i++)
        {
            probes[i][1] = Listen(ports[i]);
        }

        await WaitAsync(() => routed.Count >= rotations, "members never rejoined rotation");
        while (routed.TryDequeue(out var ms))
        {
            rejoining.Add(ms);
        }

        var all = applied.Values.SelectMany(v => v).Concat(leaving).Concat(rejoining).ToList();
        var report = new StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture, $"nftables plane, {listenerCount} listeners ({setCount} load-balanced sets of 2 probed members, {listenerCount - setCount} single endpoints), nft {NftVersion()}, kernel {Environment.OSVersion.Version}, {Environment.ProcessorCount} cores, load average {Report.LoadAverage()}, commits {(inProcess ? "through libnftables in process" : "one nft -f - process each")}:");
        report.AppendLine();
        report.AppendLine("| change | count | p50 ms | p99 ms | max ms |");
        report.AppendLine("|---|---:|---:|---:|---:|");
        report.AppendLine(CultureInfo.InvariantCulture, $"| initial commit of all listeners | 1 | {initial.TotalMilliseconds:F0} | | |");
        foreach (var (kind, values) in applied)
        {
            report.AppendLine(Row($"{kind} (ApplyAsync)", values));
        }

        report.AppendLine(Row("member left rotation (probe; route commit)", leaving));
        report.AppendLine(Row("member rejoined rotation (probe; route commit)", rejoining));
        report.AppendLine(Row("**all single-endpoint changes**", all));
        if (breakdown)
        {
            report.AppendLine();
            Breakdown(report, costs);
        }

        report.AppendLine();
        report.AppendLine(CultureInfo.InvariantCulture, $"CPU per ApplyAsync change (this process and its nft/conntrack children, user + system, /proc/self/stat): {cpuPerChange:F1} ms, after {warmup} warm-up changes (not in the table) that cost {cpuWarmup:F1} ms each (the first of each kind waits for the JIT: max {(cold.Count == 0 ? 0 : cold.Values.Max(v => v.Max())):F1} ms)");
        Console.WriteLine();
        Console.Write(report);
        if (output is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
            await File.WriteAllTextAsync(output, report.ToString(), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
            Console.WriteLine($"Wrote {output}");
        }

        if (docs is not null)
        {
            await WriteBlockAsync(docs, report.ToString());
            Console.WriteLine($"Updated the kernel-scale block of {docs}");
        }

        foreach (var pair in probes)
        {
            foreach (var socket in pair)
            {
                socket.Dispose();
            }
        }

        return 0;
    }

    /// <summary>One measured ApplyAsync: its kind, time, where the plane says it went, and the GC pauses and collections while it ran.</summary>
    private sealed record ChangeCost(string Kind, TimeSpan Took, CommitCost Plane, TimeSpan GcPause, (int Gen0, int Gen1, int Gen2) Collections);

    /// <summary>
    /// The medians per kind of each section and the slowest changes with theirs, in ms. The sections are the
    /// plane's (<see cref="CommitCost"/>): lock wait, diff (desired against rendered, routes), netlink batch,
    /// render (nft text), nft (libnftables' parse and cache dump and the kernel commit, split by the kernel's
    /// accounting of the committing thread into user, kernel, waiting for a CPU and asleep), finish
    /// (bookkeeping); "other" is the rest of ApplyAsync's time (awaits, the user-space plane). "run queue" adds
    /// up the time the thread waited for a CPU over all sections, "KB allocated" the managed bytes they allocated: a tail that is mostly run queue waited for
    /// another process or thread, not for our work or the kernel.
    /// </summary>
    private static void Breakdown(StringBuilder report, List<ChangeCost> costs)
    {
        const string header = "| ms | total | lock wait | diff (on CPU) | netlink batch (kernel, asleep) | render | nft | nft user | nft kernel | nft asleep | finish | other | run queue, all sections | KB allocated | GC pause | GCs 0/1/2 |";
        const string rule = "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|";
        static double[] Values(ChangeCost c)
        {
            var p = c.Plane;
            var sections = new[] { p.Diff, p.Netlink, p.Render, p.Nft, p.Finish };
            var other = c.Took - p.LockWait - sections.Aggregate(TimeSpan.Zero, (sum, x) => sum + x.Elapsed);
            TimeSpan[] values =
            [
                c.Took, p.LockWait, p.Diff.Elapsed, p.Diff.Thread.OnCpu, p.Netlink.Elapsed, p.Netlink.Thread.System, p.Netlink.Slept, p.Render.Elapsed, p.Nft.Elapsed, p.Nft.Thread.User, p.Nft.Thread.System,
                p.Nft.Slept, p.Finish.Elapsed, other, sections.Aggregate(TimeSpan.Zero, (sum, x) => sum + x.Thread.RunQueue), c.GcPause,
            ];
            return [.. values.Select(v => v.TotalMilliseconds), sections.Sum(x => x.Thread.Allocated) / 1024.0];
        }

        static string Cells(double[] v, (int Gen0, int Gen1, int Gen2) gcs) => string.Create(
            CultureInfo.InvariantCulture,
            $"{v[0]:F1} | {v[1]:F1} | {v[2]:F1} ({v[3]:F1}) | {v[4]:F1} ({v[5]:F1}, {v[6]:F1}) | {v[7]:F1} | {v[8]:F1} | {v[9]:F1} | {v[10]:F1} | {v[11]:F1} | {v[12]:F1} | {v[13]:F1} | {v[14]:F1} | {v[16]:F0} | {v[15]:F1} | {gcs.Gen0}/{gcs.Gen1}/{gcs.Gen2}");

        report.AppendLine("Where the time went, ms: median per kind (each column its own median; GCs: all collections of the kind's changes):");
        report.AppendLine();
        report.AppendLine(header);
        report.AppendLine(rule);
        foreach (var kind in costs.GroupBy(c => c.Kind))
        {
            var rows = kind.Select(Values).ToList();
            var median = Enumerable.Range(0, rows[0].Length).Select(i => rows.Select(r => r[i]).Order().ElementAt((rows.Count - 1) / 2)).ToArray();
            var gcs = (kind.Sum(c => c.Collections.Gen0), kind.Sum(c => c.Collections.Gen1), kind.Sum(c => c.Collections.Gen2));
            report.AppendLine(CultureInfo.InvariantCulture, $"| {kind.Key} ({rows.Count}) | {Cells(median, gcs)} |");
        }

        report.AppendLine();
        report.AppendLine("The slowest changes:");
        report.AppendLine();
        report.AppendLine(header);
        report.AppendLine(rule);
        foreach (var c in costs.OrderByDescending(c => c.Took).Take(8))
        {
            report.AppendLine(CultureInfo.InvariantCulture, $"| {c.Kind} | {Cells(Values(c), c.Collections)} |");
        }
    }

    /// <summary>User + system CPU of this process and its waited-for children (nft, conntrack), from /proc/self/stat, in ms.</summary>
    private static double CpuMilliseconds()
    {
        var stat = File.ReadAllText("/proc/self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');

        // After the command name: state is field 3, so utime..cstime (14-17) are at 11..14 here.
        var ticks = fields[11..15].Sum(f => long.Parse(f, CultureInfo.InvariantCulture));
        return ticks * 1000.0 / 100; // USER_HZ is 100 on Linux
    }

    private static Task WriteBlockAsync(string path, string table) =>
        GeneratedBlocks.WriteAsync(path, GeneratedBlocks.KernelScale, $"## Kernel plane: update cost at scale\n\n{table.TrimEnd()}\n\n"
            + "Measured by `bench/kernel-scale` (in a namespace of its own; what each row is: docs/kernel-plane.md, \"Update cost at scale\").\n");

    private static ListenerSpec Single(int i) => new()
    {
        Key = new ListenerKey(Vip(i), TransportProtocol.Tcp, 80),
        ServiceName = "svc" + i.ToString(CultureInfo.InvariantCulture),
        VirtualIpName = "Vip1",
        Backends = [new BackendSpec("vm1", "web", new IPEndPoint(IPAddress.Parse("192.0.2.11"), 8080))],
    };

    private static ListenerSpec SetListener(int i, Socket[] probes) => new()
    {
        Key = new ListenerKey(Vip(i), TransportProtocol.Tcp, 80),
        ServiceName = "svc" + i.ToString(CultureInfo.InvariantCulture),
        VirtualIpName = "Vip1",
        LoadBalancedSetName = "web",
        Probe = new LoadBalancerProbe { Protocol = ProbeProtocol.Tcp, Port = 8080, IntervalInSeconds = LoadBalancerProbe.MinimumIntervalInSeconds, TimeoutInSeconds = LoadBalancerProbe.MinimumTimeoutInSeconds },
        Backends =
        [
            new BackendSpec("vm1", "web", new IPEndPoint(IPAddress.Parse("192.0.2.11"), 8080)) { ProbeTarget = (IPEndPoint)probes[0].LocalEndPoint! },
            new BackendSpec("vm2", "web", new IPEndPoint(IPAddress.Parse("192.0.2.12"), 8080)) { ProbeTarget = (IPEndPoint)probes[1].LocalEndPoint! },
        ],
    };

    /// <summary>198.18.0.0/15 (benchmarking range), one VIP per listener.</summary>
    private static IPAddress Vip(int i) => new([198, (byte)(18 + (i >> 16)), (byte)(i >> 8), (byte)i]);

    private static Socket Listen(int port = 0)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
        socket.Listen(512);

        // Probes connect and close; accepting keeps the backlog from filling (a full one fails probes).
        _ = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    (await socket.AcceptAsync()).Dispose();
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        });
        return socket;
    }

    private static void Check(ApplyResult result)
    {
        if (result.Faults.Count > 0)
        {
            throw new InvalidOperationException($"kernel-scale: {result.Faults.Count} faults, first: {result.Faults[0].Message}");
        }
    }

    private static async Task WaitAsync(Func<bool> condition, string failure)
    {
        var deadline = Stopwatch.GetTimestamp() + (Stopwatch.Frequency * 180);
        while (!condition())
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException("kernel-scale: " + failure);
            }

            await Task.Delay(100);
        }
    }

    private static string Row(string label, List<double> values)
    {
        if (values.Count == 0)
        {
            return $"| {label} | 0 | | | |";
        }

        var sorted = values.Order().ToArray();
        var at = (double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
        return string.Create(CultureInfo.InvariantCulture, $"| {label} | {sorted.Length} | {at(0.5):F1} | {at(0.99):F1} | {sorted[^1]:F1} |");
    }

    private static string NftVersion()
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo("nft", "--version") { RedirectStandardOutput = true })!;
            var text = process.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit();
            return text.Split(' ').ElementAtOrDefault(1) ?? text;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "?";
        }
    }

    private static int IntArg(string[] args, string name, int fallback) =>
        Arg(args, name) is { } value ? int.Parse(value, CultureInfo.InvariantCulture) : fallback;

    private static string? Arg(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }
}
