using System.Globalization;
using System.Net;
using System.Text;
using MultiVip.Client;
using MultiVip.Contracts;
using MultiVip.TestSupport.Network;

namespace MultiVip.Bench;

/// <summary>
/// `bench/run --kernel`: the kernel plane beside direct, the user-space plane and HAProxy, in network
/// namespaces (the kernel plane's nft rules may never go into the root namespace, where the loopback
/// bench runs): <see cref="KernelTopology"/>'s client — node — backend. The node forwards
/// (ip_forward) and runs `multivip serve --data-plane nftables` (VIPs 198.19.0.10-11, routed to the
/// node), `multivip serve --data-plane userspace` (198.19.0.20 on the node's lo) and HAProxy (198.19.0.30 on lo); the backend runs nginx (6-byte response) and iperf3.
/// The node has CPU 1 and the client and backend CPU 0: the proxies are pinned to CPU 1 and receive
/// packet steering (RPS) puts every packet the node receives on CPU 1, so the kernel plane's work
/// (softirq: forwarding, nftables, conntrack) runs on the node's core as a proxy's does.
/// </summary>
internal static class KernelBench
{
    private const string Backend = KernelTopology.BackendAddress;
    private const string NftPool = "198.19.0.10-198.19.0.11";
    private const string UserspaceVip = "198.19.0.20";
    private const string HaproxyVip = "198.19.0.30";
    private const int WebPort = 8080;
    private const int BulkPort = 5201;
    private const string NodeCpu = KernelTopology.NodeCpu;

    private static readonly Metric Rps = Measurements.RequestsPerSecond;
    private static readonly Metric Cps = Measurements.ConnectionsPerSecond;
    private static readonly Metric NodeCpuPerRequest = new("node-rps", "Node CPU per keep-alive request (proxy process + node softirq)", "µs", true);
    private static readonly Metric NodeCpuPerConnection = new("node-cps", "Node CPU per new connection (proxy process + node softirq)", "µs", true);

    // Whether the rate is the node's or the load side's: at ~100 % the client and backend's core sets
    // every target's new connections/s, and a ratio between targets says little about the planes.
    private static readonly Metric LoadSideBusy = new("load-busy-cps", "Load side's core busy during new connections (CPU 0: wrk, nginx, their softirq)", "%", false);

    private sealed record KernelTarget(string Name, string Address, bool Udp, bool Cps, ManagedProcess? Proxy);

    public static async Task<int> RunAsync(string[] args)
    {
        var smoke = args.Contains("--smoke");
        var repo = Path.GetFullPath(Arg(args, "--repo") ?? Directory.GetCurrentDirectory());
        var output = Arg(args, "--out") ?? Path.Combine(repo, smoke ? "artifacts/bench/kernel-smoke.md" : "docs/benchmarks.md");
        var rounds = int.Parse(Arg(args, "--rounds") ?? (smoke ? "1" : "3"), CultureInfo.InvariantCulture);
        var duration = TimeSpan.FromSeconds(int.Parse(Arg(args, "--duration") ?? (smoke ? "1" : "5"), CultureInfo.InvariantCulture));
        var run = Path.Combine(repo, "artifacts", "bench", "kernel-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        Directory.CreateDirectory(Path.Combine(run, "tmp"));

        var results = new BenchResults(22);
        void Record(Metric metric, KernelTarget target, double value) => results.Record(metric, target.Name, value);

        var relays = new List<NamespaceRelay>();
        List<KernelTarget> targets = [];
        double idleSoftirqPerSecond;
        var load = new List<double>();
        Console.WriteLine($"Building the namespaces (logs and configs in {run})...");
        var topology = await KernelTopology.BuildAsync("nb", clientReachesBackend: true);
        var (client, node, backend, processes) = (topology.Client, topology.Node, topology.Backend, topology.Processes);
        try
        {
            await node.AddAddressAsync("lo", UserspaceVip + "/32");
            await node.AddAddressAsync("lo", HaproxyVip + "/32");

            Console.WriteLine("Starting the backend, HAProxy and the two MultiVip planes...");
            processes.Add(Start("backend", backend, Measurements.LoadCpu, "nginx", "-c", Config(repo, run, "backend-nginx.conf", "0.0.0.0", Backend)));
            processes.Add(Start("iperf3", backend, Measurements.LoadCpu, "iperf3", "-s", "-p", BulkPort.ToString(CultureInfo.InvariantCulture)));
            await WaitAsync(client, Backend, WebPort);
            await WaitAsync(client, Backend, BulkPort);
            targets.Add(new KernelTarget("direct", Backend, Udp: true, Cps: true, null));

            var (_, nftVip, dsrVip) = await StartMultiVipAsync(repo, run, node, relays, processes, "nftables", NftPool, dsr: true);
            await backend.AddAddressAsync("lo", dsrVip + "/32");
            await WaitAsync(client, nftVip, WebPort);
            await WaitAsync(client, dsrVip, WebPort);
            targets.Add(new KernelTarget("nftables plane", nftVip, Udp: true, Cps: true, null));

            var (userspace, userspaceVip, _) = await StartMultiVipAsync(repo, run, node, relays, processes, "userspace", $"{UserspaceVip}-{UserspaceVip}", dsr: false);
            await WaitAsync(client, userspaceVip, WebPort);
            targets.Add(new KernelTarget("user-space plane", userspaceVip, Udp: true, Cps: true, userspace));

            var haproxy = Start("haproxy", node, NodeCpu, "haproxy", "-db", "-f", Config(repo, run, "haproxy.cfg", HaproxyVip, Backend));
            processes.Add(haproxy);
            await WaitAsync(client, HaproxyVip, WebPort);
            targets.Add(new KernelTarget("HAProxy", HaproxyVip, Udp: false, Cps: true, haproxy));
            targets.Add(new KernelTarget("nftables plane, DSR", dsrVip, Udp: false, Cps: true, null));

            foreach (var target in targets)
            {
                await Measurements.WrkAsync(target.Address, WebPort, TimeSpan.FromSeconds(1), close: false, client.Name); // warm-up
            }

            // The node's softirq time while nothing runs here: what neighbours on this shared
            // machine put on CPU 1, subtracted from every measured figure.
            var before = NodeSoftirqMicroseconds();
            await Task.Delay(TimeSpan.FromSeconds(3));
            idleSoftirqPerSecond = (NodeSoftirqMicroseconds() - before) / 3;
            Console.WriteLine($"  node softirq while idle: {idleSoftirqPerSecond / 1e4:F2} % of CPU {NodeCpu}");

            for (var round = 1; round <= rounds; round++)
            {
                Console.WriteLine($"Round {round}/{rounds}");
                load.Add(double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture));
                foreach (var target in targets)
                {
                    var cpu = NodeCpu_(target);
                    var started = DateTime.UtcNow;
                    var ((rps, p50, p99), requests) = await Measurements.WrkRunAsync(target.Address, WebPort, duration, close: false, client.Name);
                    Record(Rps, target, rps);
                    Record(Measurements.LatencyP50, target, p50);
                    Record(Measurements.LatencyP99, target, p99);
                    Record(NodeCpuPerRequest, target, Math.Max(0, NodeCpu_(target) - cpu - (idleSoftirqPerSecond * (DateTime.UtcNow - started).TotalSeconds)) / requests);
                }

                foreach (var target in targets.Where(t => t.Cps))
                {
                    var cpu = NodeCpu_(target);
                    var loadSide = CpuTicks(Measurements.LoadCpu);
                    var started = DateTime.UtcNow;
                    var ((cps, _, _), connections) = await Measurements.WrkRunAsync(target.Address, WebPort, duration, close: true, client.Name);
                    var loadSideAfter = CpuTicks(Measurements.LoadCpu);
                    Record(Cps, target, cps);
                    Record(LoadSideBusy, target, 100.0 * (loadSideAfter.Busy - loadSide.Busy) / Math.Max(1, loadSideAfter.Total - loadSide.Total));
                    Record(NodeCpuPerConnection, target, Math.Max(0, NodeCpu_(target) - cpu - (idleSoftirqPerSecond * (DateTime.UtcNow - started).TotalSeconds)) / connections);
                }

                foreach (var target in targets)
                {
                    await Tolerate(target, async () => Record(Measurements.Bulk1, target, await Measurements.IperfTcpAsync(target.Address, duration, 1, client.Name)));
                    await Tolerate(target, async () => Record(Measurements.Bulk8, target, await Measurements.IperfTcpAsync(target.Address, duration, 8, client.Name)));
                }

                foreach (var target in targets.Where(t => t.Udp))
                {
                    await Tolerate(target, async () => Record(Measurements.UdpDatagrams, target, await Measurements.IperfUdpAsync(target.Address, duration, client.Name)));
                }
            }
        }
        finally
        {
            foreach (var relay in relays)
            {
                await relay.DisposeAsync();
            }

            // Stops the processes and deletes the namespaces (and with them the veths, the VIPs and the nft table) even when a step failed.
            await topology.DisposeAsync();
        }

        var section = Section(repo, results, targets.Select(t => t.Name).ToList(), rounds, duration, idleSoftirqPerSecond, load, smoke);
        await GeneratedBlocks.WriteAsync(output, GeneratedBlocks.Kernel, section);
        Console.WriteLine($"Wrote {output}");
        return 0;

        // The node's CPU so far: the proxy's own processes (none for direct and the kernel plane) plus
        // the node core's softirq time (receive processing, forwarding, nftables, conntrack).
        static double NodeCpu_(KernelTarget target) => (target.Proxy?.TreeCpuMicroseconds() ?? 0) + NodeSoftirqMicroseconds();
    }

    /// <summary>
    /// Softirq time of the node's CPU so far (/proc/stat, the cpuN line's seventh field, in USER_HZ
    /// ticks of 10 ms). Without CONFIG_IRQ_TIME_ACCOUNTING the kernel samples it at each tick: a
    /// tick that lands in softirq (ksoftirqd included) counts as softirq.
    /// </summary>
    internal static double NodeSoftirqMicroseconds() => CpuStat(NodeCpu)[6] * 10_000.0;

    /// <summary>A CPU's ticks so far (/proc/stat): all of them, and those not idle or waiting for I/O.</summary>
    private static (long Busy, long Total) CpuTicks(string cpu)
    {
        var ticks = CpuStat(cpu);
        var total = ticks.Sum();
        return (total - ticks[3] - ticks[4], total);
    }

    /// <summary>The cpuN line of /proc/stat in USER_HZ ticks: user, nice, system, idle, iowait, irq, softirq, steal.</summary>
    private static long[] CpuStat(string cpu)
    {
        var line = File.ReadLines("/proc/stat").First(l => l.StartsWith("cpu" + cpu + " ", StringComparison.Ordinal));
        return [.. line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8).Select(f => long.Parse(f, CultureInfo.InvariantCulture))];
    }

    internal static async Task SteerAsync(NetworkNamespace ns, string device, string cpu)
    {
        var mask = (1 << int.Parse(cpu, CultureInfo.InvariantCulture)).ToString("x", CultureInfo.InvariantCulture);
        // `ip netns exec` mounts the namespace's own /sys, where its devices are.
        (await ns.ExecAsync("sh", "-c", $"echo {mask} > /sys/class/net/{device}/queues/rx-0/rps_cpus")).ThrowIfFailed();
    }

    internal static ManagedProcess Start(string name, NetworkNamespace ns, string cpus, string command, params string[] args) =>
        ManagedProcess.Start(name, cpus, "ip", ["netns", "exec", ns.Name, command, .. args]);

    private static async Task<(ManagedProcess Process, string Vip, string DsrVip)> StartMultiVipAsync(
        string repo, string run, NetworkNamespace node, List<NamespaceRelay> relays, List<ManagedProcess> processes, string plane, string pool, bool dsr)
    {
        var dataDir = Path.Combine(run, "multivip-" + plane);
        Directory.CreateDirectory(dataDir);
        var relayAddress = IPAddress.Parse($"127.123.{Random.Shared.Next(1, 250)}.{Random.Shared.Next(1, 250)}");
        var process = Start("multivip-" + plane, node, NodeCpu, "dotnet",
            Path.Combine(repo, "artifacts", "multivip", "multivip.dll"), "serve",
            "--data-dir", dataDir, "--api", "http://127.0.0.1:0", "--dns", "off", "--allowed-host", relayAddress.ToString(),
            "--vip-pool", pool, "--data-plane", plane);
        processes.Add(process);
        var endpointFile = Path.Combine(dataDir, "endpoint");
        for (var i = 0; !File.Exists(endpointFile); i++)
        {
            if (process.HasExited || i > 600)
            {
                throw new InvalidOperationException($"multivip serve --data-plane {plane} did not start: " + process.Log);
            }

            await Task.Delay(100);
        }

        var api = new Uri((await File.ReadAllTextAsync(endpointFile)).Trim());
        var relay = NamespaceRelay.Start(node, new IPEndPoint(IPAddress.Loopback, api.Port), relayAddress);
        relays.Add(relay);
        var token = (await File.ReadAllTextAsync(Path.Combine(dataDir, "token"))).Trim();
        using var client = new MultiVipClient(new ClientConnection(new Uri($"http://{relay.LocalEndPoint}"), token), new MultiVipClientOptions { OperationTimeout = TimeSpan.FromSeconds(60) });
        await client.CreateServiceAsync(new CreateServiceRequest { Name = "bench" });
        await client.AddVmAsync("bench", new AddVmRequest { Name = "backend", Address = Backend });
        await client.AddEndpointAsync("bench", "backend", new EndpointRequest { Name = "web", Protocol = "tcp", LocalPort = WebPort, PublicPort = WebPort });
        await client.AddEndpointAsync("bench", "backend", new EndpointRequest { Name = "bulk", Protocol = "tcp", LocalPort = BulkPort, PublicPort = BulkPort });
        await client.AddEndpointAsync("bench", "backend", new EndpointRequest { Name = "bulk-udp", Protocol = "udp", LocalPort = BulkPort, PublicPort = BulkPort });
        var dsrVip = "";
        if (dsr)
        {
            // Floating IP on a second VIP: the backend holds it on lo and answers the client directly.
            await client.AddVirtualIpAsync("bench", new AddVirtualIpRequest { Name = "dsr" });
            await client.AddEndpointAsync("bench", "backend", new EndpointRequest { Name = "web-dsr", Protocol = "tcp", LocalPort = WebPort, PublicPort = WebPort, VirtualIpName = "dsr", DirectServerReturn = true });
            await client.AddEndpointAsync("bench", "backend", new EndpointRequest { Name = "bulk-dsr", Protocol = "tcp", LocalPort = BulkPort, PublicPort = BulkPort, VirtualIpName = "dsr", DirectServerReturn = true });
        }

        var vips = (await client.GetDeploymentAsync("bench")).Value.VirtualIps;
        var vip = vips.First(v => !string.Equals(v.Name, "dsr", StringComparison.OrdinalIgnoreCase)).Address!;
        if (dsr)
        {
            dsrVip = vips.First(v => string.Equals(v.Name, "dsr", StringComparison.OrdinalIgnoreCase)).Address!;
        }

        return (process, vip, dsrVip);
    }

    internal static async Task WaitAsync(NetworkNamespace client, string address, int port)
    {
        var endpoint = new IPEndPoint(IPAddress.Parse(address), port);
        for (var i = 0; ; i++)
        {
            try
            {
                using var socket = await client.ConnectAsync(endpoint, TimeSpan.FromSeconds(2));
                return;
            }
            catch (Exception) when (i < 150)
            {
                await Task.Delay(200);
            }
        }
    }

    internal static string Config(string repo, string run, string name, string front, string backend)
    {
        var text = File.ReadAllText(Path.Combine(repo, "bench", "configs", name))
            .Replace("{{RUN}}", run, StringComparison.Ordinal)
            .Replace("{{BACKEND}}", name == "backend-nginx.conf" ? front : backend, StringComparison.Ordinal)
            .Replace("{{FRONT}}", front, StringComparison.Ordinal)
            .Replace("{{THREADS}}", "1", StringComparison.Ordinal)
            .Replace("{{FRONT_PORT}}", WebPort.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{{BACKEND_PORT}}", WebPort.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        var path = Path.Combine(run, "kernel-" + name);
        File.WriteAllText(path, text);
        return path;
    }

    private static async Task Tolerate(KernelTarget target, Func<Task> measure)
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

    private static string Section(
        string repo, BenchResults results, List<string> targets, int rounds, TimeSpan duration,
        double idleSoftirqPerSecond, IReadOnlyList<double> load, bool smoke)
    {
        double Median(Metric metric, string target) => results.Median(metric, target);
        string Cell(double value) => double.IsNaN(value) ? "n/a" : value switch
        {
            >= 1000 => value.ToString("N0", CultureInfo.InvariantCulture),
            >= 10 => value.ToString("F1", CultureInfo.InvariantCulture),
            _ => value.ToString("F3", CultureInfo.InvariantCulture),
        };
        string Ratio(double a, double b) => double.IsNaN(a) || double.IsNaN(b) || b == 0 ? "n/a" : (a / b).ToString("F2", CultureInfo.InvariantCulture);

        var md = new StringBuilder();
        md.AppendLine("## Kernel plane (namespaces)");
        md.AppendLine();
        md.AppendLine("Generated by `bench/run --kernel` — do not edit by hand; run it again (`bench/run` keeps this section as it is). " +
            (smoke ? "**Smoke run: figures are not meaningful.** " : "") +
            $"Run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {rounds} interleaved round(s) of {duration.TotalSeconds:0} s per target, medians; " +
            $"load average at the start of each round: {string.Join(", ", load.Select(l => l.ToString("F1", CultureInfo.InvariantCulture)))} " +
            "(the machine's 2 cores were shared with other builds and tests).");
        md.AppendLine();
        md.AppendLine("Three network namespaces on veth pairs (198.18.0.0/15): **client** (wrk, iperf3 client) — **node** — **backend** " +
            "(nginx, one worker, 6-byte response; iperf3 server). The node forwards (ip_forward) and runs `multivip serve --data-plane nftables`, " +
            "`multivip serve --data-plane userspace` and HAProxy (TCP mode, `nbthread 1`), each on its own VIP. **direct**: the client talks to " +
            "the backend's own address, routed through the node with plain forwarding, no proxy and no NAT. **nftables plane, DSR**: the same " +
            "plane with `enableDirectServerReturn` on a second VIP that the backend holds on lo; its replies go straight to the client over a " +
            "link of their own. The node has CPU 1: HAProxy and both MultiVip servers are pinned to it, and receive packet steering " +
            "(`rps_cpus`) processes every packet the node receives on it, so the kernel plane's work (softirq: forwarding, nftables, conntrack) " +
            "runs on the node's core as a proxy's does; client and backend have CPU 0 (their packets steered there too). The nftables table " +
            "is loaded in the node for every target, so conntrack tracks the direct and proxied flows as well.");
        md.AppendLine();
        md.AppendLine("| metric | " + string.Join(" | ", targets) + " | nftables / direct | nftables / HAProxy | nftables / user space |");
        md.AppendLine("|---|" + string.Concat(Enumerable.Repeat("---:|", targets.Count + 3)));
        Metric[] order = [Rps, Measurements.LatencyP50, Measurements.LatencyP99, Cps, LoadSideBusy, NodeCpuPerRequest, NodeCpuPerConnection, Measurements.Bulk1, Measurements.Bulk8, Measurements.UdpDatagrams];
        foreach (var metric in order)
        {
            var nft = Median(metric, "nftables plane");
            md.AppendLine($"| {metric.Title} ({metric.Unit}{(metric.LowerIsBetter ? ", lower is better" : "")}) | " +
                string.Join(" | ", targets.Select(t => Cell(Median(metric, t)))) +
                $" | {Ratio(nft, Median(metric, "direct"))} | {Ratio(nft, Median(metric, "HAProxy"))} | {Ratio(nft, Median(metric, "user-space plane"))} |");
        }

        md.AppendLine();
        md.AppendLine("**Node CPU** per request or connection: the user + system time of the proxy's processes (/proc/PID/stat; none for direct " +
            "and the kernel plane, which have no process on the path) plus the softirq time of the node's CPU 1 over the run (/proc/stat, " +
            "`cpu1` field 7, sampled per tick: this kernel has no IRQ time accounting), minus what that core spent in softirq " +
            $"while the bench was idle ({idleSoftirqPerSecond / 1e4:F2} % of it: other work on the machine), divided by what wrk completed. " +
            "For direct it is the cost of forwarding alone. Tick sampling is coarse (10 ms ticks over a 5 s run) and neighbours' softirq on that core " +
            "varies: read it as an order of magnitude, rates as figures of this shared machine. **Load side's core busy**: the share of CPU 0's " +
            "ticks (/proc/stat) that were not idle while wrk made new connections; near 100 % the client and backend, not the node, set that rate.");
        md.AppendLine();
        md.AppendLine("Goals of issue 16, from this run:");
        md.AppendLine();
        md.AppendLine("| goal | measured | met |");
        md.AppendLine("|---|---:|---|");
        void Goal(string name, double measured, double bound)
        {
            md.AppendLine($"| {name} ≥ {bound.ToString("0.##", CultureInfo.InvariantCulture)} | {(double.IsNaN(measured) ? "n/a" : measured.ToString("F2", CultureInfo.InvariantCulture))} | {(double.IsNaN(measured) ? "not measured" : measured >= bound ? "yes" : "**no**")} |");
        }

        Goal("nftables / direct, requests/s", Median(Rps, "nftables plane") / Median(Rps, "direct"), 0.95);
        Goal("nftables / direct, bulk 1 stream", Median(Measurements.Bulk1, "nftables plane") / Median(Measurements.Bulk1, "direct"), 0.95);
        Goal("nftables / direct, bulk 8 streams", Median(Measurements.Bulk8, "nftables plane") / Median(Measurements.Bulk8, "direct"), 0.95);
        Goal("nftables / direct, new connections/s", Median(Cps, "nftables plane") / Median(Cps, "direct"), 0.9);
        Goal("nftables / HAProxy, new connections/s", Median(Cps, "nftables plane") / Median(Cps, "HAProxy"), 2);
        md.AppendLine();

        // The hand-written reading of these figures (why a goal is or is not met) is kept beside the
        // harness and carried into every regenerated section, as bench/ANALYSIS.md is for bench/run.
        var analysis = Path.Combine(repo, "bench", "KERNEL-ANALYSIS.md");
        if (File.Exists(analysis))
        {
            md.Append(File.ReadAllText(analysis));
            md.AppendLine();
        }

        return md.ToString();
    }

    private static string? Arg(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }
}
