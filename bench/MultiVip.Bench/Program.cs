using System.Globalization;
using System.Text;
using MultiVip.Bench;

// bench/failover: failover between nodes in network namespaces (Failover.cs), its own signal handling.
if (args.Length > 0 && args[0] == "failover")
{
    return await Failover.RunAsync(args);
}

// An interrupted run still stops the processes it started (by PID) before it exits.
using var stopOnSignal = ManagedProcess.StopAllOnSignal();

// bench/soak: a different command, not a benchmark (see Soak.cs).
if (args.Length > 0 && args[0] == "soak")
{
    return await Soak.RunAsync(args);
}

// bench/run --kernel-dsr: the DSR methods (dup, netdev fwd, fwmark routing) side by side in namespaces (DsrBench.cs).
if (args.Contains("--kernel-dsr"))
{
    return await DsrBench.RunAsync(args);
}

// bench/run --kernel: the kernel plane in network namespaces (KernelBench.cs).
if (args.Contains("--kernel"))
{
    return await KernelBench.RunAsync(args);
}

// bench/run --checks --allocs: only the managed bytes the proxy allocates per connection, per engine.
if (args.Contains("--allocs"))
{
    foreach (var result in await Checks.AllocationsAsync())
    {
        Console.WriteLine($"  {result.Name}: {result.Measured} ({result.Scenario})");
    }

    return 0;
}

// bench/run --restart: takeovers under new-connection load (RestartBench.cs); --cores: one epoll loop against two (CoreScaling.cs).
if (args.Contains("--restart") || args.Contains("--cores"))
{
    var root = Path.GetFullPath(Arg("--repo") ?? Directory.GetCurrentDirectory());
    return args.Contains("--restart") ? await RestartBench.RunAsync(root, args) : await CoreScaling.RunAsync(root, args);
}

// bench/run --cluster: three nodes in namespaces on one PostgreSQL (ClusterBench.cs).
if (args.Contains("--cluster"))
{
    return await ClusterBench.RunAsync(Path.GetFullPath(Arg("--repo") ?? Directory.GetCurrentDirectory()), args);
}

// bench/run --bulk: splice on against off, bulk only (BulkBench.cs).
if (args.Contains("--bulk"))
{
    return await BulkBench.RunAsync(Path.GetFullPath(Arg("--repo") ?? Directory.GetCurrentDirectory()), args);
}

// bench/kernel-scale: the nftables plane's update cost at 10,000 listeners, run inside a namespace (KernelScale.cs).
if (args.Contains("--kernel-scale"))
{
    return await KernelScale.RunAsync(args);
}

// bench/run --checks: only the timing and memory bounds moved out of the test suite (Checks.cs).
if (args.Contains("--checks"))
{
    Console.WriteLine("Timing and memory checks (bounds the test suite no longer asserts):");
    var only = await Checks.RunAsync();
    var repoRoot = Path.GetFullPath(Arg("--repo") ?? Directory.GetCurrentDirectory());
    var checksOut = Arg("--out") ?? Path.Combine(repoRoot, "artifacts", "bench", "checks.md");
    Directory.CreateDirectory(Path.GetDirectoryName(checksOut)!);
    await File.WriteAllTextAsync(checksOut, Report.Checks(only), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
    Console.WriteLine($"Wrote {checksOut}");
    return only.All(c => c.Passed) ? 0 : 1;
}

// bench/run: MultiVip side by side with a direct connection, HAProxy (TCP mode) and nginx stream,
// every metric measured in interleaved rounds (direct, HAProxy, nginx, MultiVip, then again) so
// that drift on a shared machine hits every target alike; medians are reported.
var smoke = args.Contains("--smoke");
// --quick: only requests/s, latency and connections/s, one round: for trying a change.
var quick = args.Contains("--quick");
var repo = Path.GetFullPath(Arg("--repo") ?? Directory.GetCurrentDirectory());
var output = Arg("--out") ?? Path.Combine(repo, smoke || quick ? "artifacts/bench/benchmarks-" + (smoke ? "smoke" : "quick") + ".md" : "docs/benchmarks.md");
var rounds = int.Parse(Arg("--rounds") ?? (smoke ? "1" : "3"), CultureInfo.InvariantCulture);
var duration = TimeSpan.FromSeconds(int.Parse(Arg("--duration") ?? (smoke ? "1" : "5"), CultureInfo.InvariantCulture));
// The sandbox's hard limit is 20,000 open files per process; a proxy holds two per proxied connection,
// and MultiVip's descriptor budget then caps a listener at about 7,500 (the rest is held for its
// other listeners, the API and the database): 7,000 stays under every proxy's limit.
var idle = int.Parse(Arg("--idle") ?? (smoke ? "200" : "7000"), CultureInfo.InvariantCulture);
var services = int.Parse(Arg("--services") ?? (smoke ? "10" : "1000"), CultureInfo.InvariantCulture);
var samples = int.Parse(Arg("--samples") ?? (smoke ? "5" : "100"), CultureInfo.InvariantCulture);
AppContext.SetData("MultiVipRepo", repo);
var run = Path.Combine(repo, "artifacts", "bench", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
Directory.CreateDirectory(run);

var results = new Dictionary<(string Metric, string Target), List<double>>();
void Record(Metric metric, Target target, double value)
{
    if (!results.TryGetValue((metric.Key, target.Name), out var list))
    {
        results[(metric.Key, target.Name)] = list = [];
    }

    list.Add(value);
    Console.WriteLine($"  {metric.Key,-6} {target.Name,-13} {value,12:F3} {metric.Unit}");
}

var lab = new Lab(repo, run);
var syscalls = new Dictionary<string, Dictionary<string, double>>();
ScaleResult? scale = null;
IReadOnlyList<CheckResult> checks = [];
try
{
    Console.WriteLine($"Starting backend and proxies (logs and configs in {run})...");
    await lab.StartAsync(maxConnections: 19_000, extraRows: !args.Contains("--no-extra"), compareBuilds: Args("--compare").Select(Path.GetFullPath).ToList());
    foreach (var target in lab.Targets)
    {
        // Warm-up: JIT, connection pools, page cache. Both kinds of load: the new-connection path
        // (accept, connect, FIN, close) is code the keep-alive load never runs, and a proxy that
        // compiles it at run time would otherwise pay for that inside the first measured round.
        await Measurements.WrkAsync(target.Address, Port(target), TimeSpan.FromSeconds(1), close: false);
        await Measurements.WrkAsync(target.Address, Port(target), TimeSpan.FromSeconds(1), close: true);
    }

    for (var round = 1; round <= rounds; round++)
    {
        Console.WriteLine($"Round {round}/{rounds}");
        foreach (var target in lab.Targets)
        {
            var cpu = target.Proxy?.TreeCpuMicroseconds();
            var ((rps, p50, p99), requests) = await Measurements.WrkRunAsync(target.Address, Port(target), duration, close: false);
            Record(Measurements.RequestsPerSecond, target, rps);
            Record(Measurements.LatencyP50, target, p50);
            Record(Measurements.LatencyP99, target, p99);
            if (cpu is { } before)
            {
                Record(Measurements.CpuPerRequest, target, (target.Proxy!.TreeCpuMicroseconds() - before) / requests);
            }
        }

        foreach (var target in lab.Targets)
        {
            var cpu = target.Proxy?.TreeCpuMicroseconds();
            var ((cps, _, _), connections) = await Measurements.WrkRunAsync(target.Address, Port(target), duration, close: true);
            Record(Measurements.ConnectionsPerSecond, target, cps);
            if (cpu is { } before)
            {
                Record(Measurements.CpuPerConnection, target, (target.Proxy!.TreeCpuMicroseconds() - before) / connections);
            }
        }

        if (quick)
        {
            continue;
        }

        foreach (var target in lab.Targets.Where(t => !t.Extra))
        {
            await Tolerate(target, async () => Record(Measurements.Bulk1, target, await Measurements.IperfTcpAsync(target.Address, duration, 1)));
            await Tolerate(target, async () => Record(Measurements.Bulk8, target, await Measurements.IperfTcpAsync(target.Address, duration, 8)));
        }

        foreach (var target in lab.Targets.Where(t => t.SupportsUdp && !t.Extra))
        {
            await Tolerate(target, async () => Record(Measurements.UdpDatagrams, target, await Measurements.IperfUdpAsync(target.Address, duration)));
        }
    }

    // System calls per proxied connection, counted by strace over a short Connection: close load
    // (strace slows every proxy alike; the count per connection does not depend on the rate).
    Console.WriteLine("System calls per new connection (strace -c -f):");
    foreach (var target in lab.Targets.Where(t => t.Proxy is not null && (!t.Extra || t.Name.Contains("dotnet", StringComparison.Ordinal))))
    {
        var counted = await Measurements.SyscallsPerConnectionAsync(target.Address, Port(target), target.Proxy!.Pid, run);
        if (counted is not null)
        {
            syscalls[target.Name] = counted;
            Console.WriteLine($"  {target.Name,-26} {counted.Values.Sum(),6:F1} per connection");
        }
    }

    if (!quick)
    {
    Console.WriteLine($"Idle connections: {idle} per proxy");
    foreach (var target in lab.Targets.Where(t => t.Proxy is not null && !t.Extra))
    {
        Record(Measurements.IdleRss, target, await Measurements.IdleRssAsync(target.Address, Port(target), idle, target.Proxy!.TreeRssBytes));
    }

    Console.WriteLine($"Control plane at scale: {services} services x 5 VIPs x 20 endpoints");
    scale = await ScaleBench.RunAsync(repo, run, services, samples);
    Console.WriteLine($"  created {scale.Operations} operations in {scale.CreateSeconds:F1} s; change live p50 {scale.LiveP50Ms:F1} ms p99 {scale.LiveP99Ms:F1} ms; deployment show p50 {scale.ShowP50Ms:F2} ms p99 {scale.ShowP99Ms:F2} ms");

    Console.WriteLine("Timing and memory checks (bounds the test suite no longer asserts):");
    checks = await Checks.RunAsync();
    }
}
finally
{
    lab.Dispose();
}

var report = Report.Write(results, lab.Targets.Where(t => !t.Extra).Select(t => t.Name).ToList(), lab.Targets.Where(t => t.Extra).Select(t => t.Name).ToList(), syscalls, scale, checks, new Report.Settings(rounds, duration, idle, smoke, quick));
// The kernel, failover, restart, kernel-scale and cluster blocks are measured by runs of their own: kept as they are.
report = GeneratedBlocks.KeepFrom(output, report);
Directory.CreateDirectory(Path.GetDirectoryName(output)!);
await File.WriteAllTextAsync(output, report, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
Console.WriteLine($"Wrote {output}");
return checks.All(c => c.Passed) ? 0 : 1;

// One failed iperf3 round (on a loaded machine its control connection can time out or be reset)
// loses that round's figure, not the whole run: the median is taken over the rounds that finished.
static async Task Tolerate(Target target, Func<Task> measure)
{
    try
    {
        await measure();
    }
    catch (InvalidOperationException ex)
    {
        Console.WriteLine($"  {target.Name}: round lost ({ex.Message.Split('\n')[0]})");
    }
}

static int Port(Target target) => target.Proxy is null ? Lab.BackendPort : Lab.FrontPort;

string? Arg(string name)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
}

// Every value of an option that may be repeated (--compare A --compare B).
IEnumerable<string> Args(string name) =>
    args.Select((arg, index) => (arg, index)).Where(a => a.arg == name && a.index + 1 < args.Length).Select(a => args[a.index + 1]);
