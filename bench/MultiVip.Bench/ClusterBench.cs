using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MultiVip.Client;
using MultiVip.Contracts;
using MultiVip.TestSupport.Network;
using MultiVip.TestSupport.Postgres;

namespace MultiVip.Bench;

/// <summary>
/// bench/run --cluster: three real `multivip serve` nodes, each in a network namespace of its own,
/// sharing one throwaway PostgreSQL 15 (issue 14, item 7). It measures (1) the time from a change
/// accepted on one node (the 202 of an add-endpoint) to traffic through each of the other two (a
/// client in that node's namespace connects to the new VIP:port and gets that node's backend's
/// greeting), and (2) changes/s with all three nodes taking changes at once, every one waited for
/// until Succeeded (applied by every live node). The topology is the tests' (PostgresNode); the
/// harness's own addresses are 127.130.0.0/16: PostgreSQL on 127.130.0.10:55430, API relays on
/// 127.130.0.1-3, VIPs from 127.130.128.0/20 (on each namespace's own loopback).
/// </summary>
internal static class ClusterBench
{
    private const string DatabaseAddress = "127.130.0.10";
    private const int DatabasePort = 55430;
    private const string VipPool = "127.130.128.0/20";
    private const string BackendAddress = "127.0.0.2";
    private const int BackendPort = 8080;
    private const double GoalP99Ms = 100;
    private static readonly TimeSpan TrafficTimeout = TimeSpan.FromSeconds(30);
    private static readonly string[] NodeNames = ["a", "b", "c"];

    /// <summary>Polls fast: a change's wait for Succeeded is part of what the throughput figure measures.</summary>
    private static readonly MultiVipClientOptions FastPolling = new()
    {
        InitialPollDelay = TimeSpan.FromMilliseconds(2),
        MaxPollDelay = TimeSpan.FromMilliseconds(20),
        OperationTimeout = TimeSpan.FromSeconds(60),
    };

    private sealed record Figures(
        int Changes, List<double> AcceptMs, List<double> TrafficMs, int ParallelChanges, int Workers, double ParallelSeconds,
        double NodeCpuMsPerChange, double DatabaseCpuMsPerChange, string LoadAtStart, string LoadAtEnd);

    public static async Task<int> RunAsync(string repo, string[] args)
    {
        var smoke = args.Contains("--smoke");
        var changes = IntArg(args, "--changes", smoke ? 9 : 150);
        var perNode = IntArg(args, "--parallel", smoke ? 2 : 4);
        var parallelChanges = IntArg(args, "--throughput", smoke ? 24 : 300);
        var cli = Path.Combine(repo, "artifacts", "multivip", "multivip.dll");
        var run = Path.Combine(repo, "artifacts", "bench", "cluster-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        Directory.CreateDirectory(run);
        var loadAtStart = Report.LoadAverage();

        Console.WriteLine($"Three nodes on one PostgreSQL (logs and data dirs in {run})");
        await using var cluster = await PostgresCluster.StartAsync(new PostgresClusterOptions
        {
            Cli = cli,
            Root = run,
            VipPool = VipPool,
            RelayAddress = i => IPAddress.Parse($"127.130.0.{i + 1}"),
            NodeNames = NodeNames,
            NamespacePrefix = "cl-",
            Backends = (ns, name) => [NamespaceEchoBackend.Start(ns, new IPEndPoint(IPAddress.Parse(BackendAddress), BackendPort), "backend-" + name)],
            DatabaseAddress = DatabaseAddress,
            DatabasePort = DatabasePort,
            CleanLeftoverNamespaces = false,
            DeleteRoot = false,
        });
        var (database, nodes) = (cluster.Database, cluster.Nodes);

        // (1) Change to traffic: service lat-i with its VM (and so its VIP) is made first; the
        // timed change is its first endpoint, through node i mod 3, measured at the other two.
        Console.WriteLine($"Change accepted on one node -> traffic through each other node: {changes} changes");
        var services = await CreateServicesAsync(nodes, Enumerable.Range(0, changes).Select(i => Name("lat", i)).ToList(), perNode);
        var acceptMs = new List<double>();
        var trafficMs = new List<double>();
        for (var i = 0; i < changes; i++)
        {
            var origin = nodes[i % nodes.Count];
            var (service, vip) = services[i];
            using var client = origin.Client(FastPolling);
            var sent = Stopwatch.GetTimestamp();
            await client.AddEndpointAsync(service, "vm", new EndpointRequest { Name = "web", Protocol = "tcp", LocalPort = BackendPort, PublicPort = 80 }, waitForCompletion: false);
            var accepted = Stopwatch.GetTimestamp();
            acceptMs.Add(Stopwatch.GetElapsedTime(sent, accepted).TotalMilliseconds);
            var reached = await Task.WhenAll(nodes.Where(n => n != origin).Select(n => UntilTrafficAsync(n, vip, accepted)));
            trafficMs.AddRange(reached);
            if ((i + 1) % 25 == 0 || i + 1 == changes)
            {
                Console.WriteLine(FormattableString.Invariant($"  {i + 1} changes: traffic p50 {ScaleBench.Percentile(trafficMs, 50):F1} ms, p99 {ScaleBench.Percentile(trafficMs, 99):F1} ms"));
            }
        }

        // (2) Changes at once: perNode workers on every node, each adding endpoints to a service
        // of its own, one change at a time, each waited for until Succeeded.
        var workers = nodes.SelectMany(n => Enumerable.Range(0, perNode).Select(w => (Node: n, Service: Name("tp-" + n.Name, w)))).ToList();
        await CreateServicesAsync(nodes, [.. workers.Select(w => w.Service)], perNode);
        var each = Math.Max(1, parallelChanges / workers.Count);
        Console.WriteLine($"Changes at once: {workers.Count} workers ({perNode} per node) x {each} add-endpoint changes, each waited for until Succeeded");
        var cpuBefore = nodes.Sum(n => ManagedProcess.TreeCpuMicroseconds(n.Process!.Pid));
        var databaseBefore = ManagedProcess.TreeCpuMicroseconds(database.ProcessId!.Value);
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(workers.Select(w => Task.Run(async () =>
        {
            using var client = w.Node.Client(FastPolling);
            for (var j = 0; j < each; j++)
            {
                var port = 10_000 + j;
                var done = await client.AddEndpointAsync(w.Service, "vm", new EndpointRequest { Name = "e" + port.ToString(CultureInfo.InvariantCulture), Protocol = "tcp", LocalPort = port, PublicPort = port });
                // The client throws when the operation Failed; anything but Succeeded is not counted as done.
                if (done.OperationStatus != MultiVip.Model.Operations.OperationStatus.Succeeded)
                {
                    throw new InvalidOperationException($"a change through node {w.Node.Name} ended {done.OperationStatus}: {done.ErrorMessage}");
                }
            }
        })));
        clock.Stop();
        var total = each * workers.Count;
        var nodeCpu = (nodes.Sum(n => ManagedProcess.TreeCpuMicroseconds(n.Process!.Pid)) - cpuBefore) / 1000.0 / total;
        var databaseCpu = (ManagedProcess.TreeCpuMicroseconds(database.ProcessId!.Value) - databaseBefore) / 1000.0 / total;
        Console.WriteLine(FormattableString.Invariant($"  {total} changes in {clock.Elapsed.TotalSeconds:F2} s: {total / clock.Elapsed.TotalSeconds:F1} changes/s; CPU per change: nodes {nodeCpu:F1} ms, PostgreSQL {databaseCpu:F1} ms"));

        var figures = new Figures(changes, acceptMs, trafficMs, total, workers.Count, clock.Elapsed.TotalSeconds, nodeCpu, databaseCpu, loadAtStart, Report.LoadAverage());
        var markdown = Markdown(figures);
        Console.WriteLine(markdown);
        var artifact = Path.Combine(repo, "artifacts", "bench", smoke ? "cluster-smoke.md" : "cluster.md");
        await File.WriteAllTextAsync(artifact, markdown, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        if (!smoke && !args.Contains("--no-docs"))
        {
            var docs = Path.Combine(repo, "docs", "benchmarks.md");
            await GeneratedBlocks.WriteAsync(docs, GeneratedBlocks.Cluster, markdown);
            Console.WriteLine($"Wrote {artifact} and the cluster block of {docs}");
        }
        else
        {
            Console.WriteLine($"Wrote {artifact}");
        }

        return ScaleBench.Percentile(trafficMs, 99) < GoalP99Ms ? 0 : 1;
    }

    /// <summary>Each service with a VM on the backend address (which gives it a deployment and a VIP), spread over the nodes; returns the names and VIPs.</summary>
    private static async Task<List<(string Service, string Vip)>> CreateServicesAsync(IReadOnlyList<PostgresNode> nodes, List<string> names, int parallel)
    {
        var made = new (string, string)[names.Count];
        using var gate = new SemaphoreSlim(parallel * nodes.Count);
        await Task.WhenAll(names.Select(async (name, i) =>
        {
            await gate.WaitAsync();
            try
            {
                using var client = nodes[i % nodes.Count].Client(FastPolling);
                await client.CreateServiceAsync(new CreateServiceRequest { Name = name });
                await client.AddVmAsync(name, new AddVmRequest { Name = "vm", Address = BackendAddress });
                made[i] = (name, (await client.ListVirtualIpsAsync(name)).Single().Address!);
            }
            finally
            {
                gate.Release();
            }
        }));
        return [.. made];
    }

    /// <summary>
    /// Milliseconds from <paramref name="accepted"/> until a client in <paramref name="node"/>'s
    /// namespace gets that node's backend's greeting through <paramref name="vip"/>:80. Until the
    /// node listens there a connect is refused at once; it tries again every millisecond.
    /// </summary>
    private static async Task<double> UntilTrafficAsync(PostgresNode node, string vip, long accepted)
    {
        var target = new IPEndPoint(IPAddress.Parse(vip), 80);
        var expected = "backend-" + node.Name;
        while (Stopwatch.GetElapsedTime(accepted) < TrafficTimeout)
        {
            try
            {
                if (await NamespaceEchoBackend.HelloAsync(node.Ns, target) == expected)
                {
                    return Stopwatch.GetElapsedTime(accepted).TotalMilliseconds;
                }
            }
            catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
            {
                // Not listening yet (refused), or the listener is being set up: try again.
            }

            await Task.Delay(1);
        }

        var output = node.Process?.Output ?? "";
        throw new TimeoutException($"no traffic through node {node.Name} to {target} within {TrafficTimeout.TotalSeconds:F0} s of the change:\n{(output.Length > 3000 ? output[^3000..] : output)}");
    }

    private static string Markdown(Figures f)
    {
        var md = new StringBuilder();
        md.AppendLine("## Several nodes on PostgreSQL");
        md.AppendLine();
        md.AppendLine(FormattableString.Invariant($"Generated by `bench/run --cluster` — do not edit by hand. Run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Report.Machine()}; {PostgresVersion()}; load average {f.LoadAtStart} at the start, {f.LoadAtEnd} at the end (the machine is shared: other work runs beside the nodes)."));
        md.AppendLine();
        md.AppendLine("Three `multivip serve` nodes, each in a network namespace of its own with its own backend, sharing one throwaway PostgreSQL 15 " +
            "(fsync off; reached through its Unix socket) — the topology of `tests/MultiVip.Network.Tests/EndToEnd/PostgresNodesTests.cs` " +
            "(set-up: [cluster.md](cluster.md)). **Change to traffic**: each change is the first endpoint of a service (its VIP already allocated), " +
            "sent to the nodes in turn; the clock starts when the node's 202 arrives and stops, for each of the other two nodes, when a client in " +
            "that node's namespace connecting to the new VIP:port every millisecond gets that node's backend's greeting. **Changes at once**: " +
            "add-endpoint changes through all three nodes at the same time, each worker one change at a time and each change waited for until " +
            "Succeeded (applied by every live node; the client polls the operation every 2-20 ms).");
        md.AppendLine();
        md.AppendLine("| measure | changes | p50 | p99 | max | goal |");
        md.AppendLine("|---|---:|---:|---:|---:|---|");
        md.AppendLine(FormattableString.Invariant($"| change accepted on one node → traffic through each other node | {f.Changes} ({f.TrafficMs.Count} node arrivals) | {Ms(f.TrafficMs, 50)} | {Ms(f.TrafficMs, 99)} | {Ms(f.TrafficMs, 100)} | p99 < {GoalP99Ms:F0} ms: {(ScaleBench.Percentile(f.TrafficMs, 99) < GoalP99Ms ? "met" : "**not met**")} |"));
        md.AppendLine(FormattableString.Invariant($"| the 202 itself (request sent → accepted) | {f.Changes} | {Ms(f.AcceptMs, 50)} | {Ms(f.AcceptMs, 99)} | {Ms(f.AcceptMs, 100)} | |"));
        md.AppendLine();
        md.AppendLine("| changes at once | workers | seconds | changes/s | CPU per change, three nodes | CPU per change, PostgreSQL |");
        md.AppendLine("|---:|---:|---:|---:|---:|---:|");
        md.AppendLine(FormattableString.Invariant($"| {f.ParallelChanges}, all Succeeded | {f.Workers} ({f.Workers / 3} per node) | {f.ParallelSeconds:F2} | {f.ParallelChanges / f.ParallelSeconds:F1} | {f.NodeCpuMsPerChange:F1} ms | {f.DatabaseCpuMsPerChange:F1} ms |"));
        md.AppendLine();
        md.AppendLine("CPU per change (user + system time of the node processes and of PostgreSQL with its backends, from /proc) barely moves with the machine's load; the rates and times do.");
        return md.ToString();
    }

    private static string Ms(List<double> values, double percentile) =>
        values.Count == 0 ? "n/a" : ScaleBench.Percentile(values, percentile).ToString("F1", CultureInfo.InvariantCulture) + " ms";

    private static string Name(string prefix, int i) => prefix + "-" + i.ToString(CultureInfo.InvariantCulture);

    private static string PostgresVersion()
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("/usr/lib/postgresql/15/bin/postgres", "--version") { RedirectStandardOutput = true })!;
            var text = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit();
            return text;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "PostgreSQL (version unknown)";
        }
    }

    private static int IntArg(string[] args, string name, int fallback)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
