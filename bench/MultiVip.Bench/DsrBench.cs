using System.Globalization;
using System.Text;
using MultiVip.TestSupport.Network;

namespace MultiVip.Bench;

/// <summary>
/// `bench/run --kernel-dsr`: the ways to send a DSR VIP's packets to the VM with the destination
/// unchanged, side by side on one topology (<see cref="KernelTopology"/>, KernelBench's: client — node —
/// backend, and a return link backend → client that carries every reply). Each method has a VIP of its own, all held by the
/// backend on lo, all installed at once, measured in interleaved rounds:
/// <list type="bullet">
/// <item><b>dup</b>: what the kernel plane renders today (table ip, prerouting at dstnat − 5: a
/// dispatch map → counter, <c>dup to VM</c>, drop), with conntrack active in the node as the plane's
/// inet table makes it (so every original packet meets conntrack before it is dropped);</item>
/// <item><b>dup, notrack</b>: the same rule at priority raw, before conntrack: the original never
/// gets a conntrack entry;</item>
/// <item><b>netdev fwd</b>: the node's ingress hook on its client-side device, <c>fwd ip to VM device
/// eth1</c>: out of the VM's device through the neighbour table, no IP stack, no conntrack;</item>
/// <item><b>fwmark routing</b>: <c>meta mark set</c> (and notrack) at raw, an <c>ip rule fwmark →
/// table</c> with the VM as default gateway: plain forwarding;</item>
/// <item><b>route</b> (the floor): the VIP routed to the VM by the node's main table, notrack, no rule
/// per packet besides.</item>
/// </list>
/// Figures: requests/s (keep-alive) and new connections/s through each VIP, node CPU per request and per
/// connection (softirq of the node's CPU as KernelBench measures it), bulk client → VM (iperf3, one
/// stream: the direction that crosses the node) and node CPU per GB of it.
/// </summary>
internal static class DsrBench
{
    private const string Backend = KernelTopology.BackendAddress;
    private const int WebPort = 8080;
    private const int BulkPort = 5201;

    private sealed record Method(string Name, string Vip);

    private static readonly Method[] Methods =
    [
        new("dup (product)", "198.19.0.40"),
        new("dup, notrack", "198.19.0.41"),
        new("netdev fwd", "198.19.0.42"),
        new("fwmark routing", "198.19.0.43"),
        new("route (floor)", "198.19.0.44"),
    ];

    private static readonly Metric Rps = Measurements.RequestsPerSecond;
    private static readonly Metric Cps = Measurements.ConnectionsPerSecond;
    private static readonly Metric CpuPerRequest = new("node-rps", "Node softirq per keep-alive request", "µs", true);
    private static readonly Metric CpuPerConnection = new("node-cps", "Node softirq per new connection", "µs", true);
    private static readonly Metric Bulk = new("bulk1", "Bulk client → VM, 1 stream (iperf3)", "Gbit/s", false);
    private static readonly Metric CpuPerGb = new("node-gb", "Node softirq per GB of bulk", "ms", true);

    public static async Task<int> RunAsync(string[] args)
    {
        var smoke = args.Contains("--smoke");
        var repo = Path.GetFullPath(Arg(args, "--repo") ?? Directory.GetCurrentDirectory());
        var rounds = int.Parse(Arg(args, "--rounds") ?? (smoke ? "1" : "3"), CultureInfo.InvariantCulture);
        var duration = TimeSpan.FromSeconds(int.Parse(Arg(args, "--duration") ?? (smoke ? "1" : "5"), CultureInfo.InvariantCulture));
        var run = Path.Combine(repo, "artifacts", "bench", "kernel-dsr-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        var output = Arg(args, "--out") ?? Path.Combine(run, "kernel-dsr.md");
        Directory.CreateDirectory(Path.Combine(run, "tmp"));

        var results = new BenchResults(16);
        void Record(Metric metric, Method method, double value) => results.Record(metric, method.Name, value);

        var load = new List<double>();
        double idle;
        Console.WriteLine($"Building the namespaces (logs in {run})...");
        var topology = await KernelTopology.BuildAsync("d6", clientReachesBackend: false);
        var (client, node, backend, processes) = (topology.Client, topology.Node, topology.Backend, topology.Processes);
        try
        {
            foreach (var method in Methods)
            {
                await backend.AddAddressAsync("lo", method.Vip + "/32");
            }

            // The methods' rules. fwmark: its own routing table with the VM as gateway; route: the main table.
            await node.IpAsync("rule", "add", "fwmark", "0x4d0000aa", "lookup", "170");
            await node.IpAsync("route", "add", "default", "via", Backend, "dev", "eth1", "table", "170");
            await node.IpAsync("route", "add", Methods[4].Vip + "/32", "via", Backend, "dev", "eth1");
            var rules = Path.Combine(run, "dsr-methods.nft");
            await File.WriteAllTextAsync(rules, Ruleset());
            (await node.ExecAsync("nft", "-f", rules)).ThrowIfFailed();

            Console.WriteLine("Starting the backend (nginx, iperf3)...");
            processes.Add(KernelBench.Start("backend", backend, Measurements.LoadCpu, "nginx", "-c", KernelBench.Config(repo, run, "backend-nginx.conf", "0.0.0.0", Backend)));
            processes.Add(KernelBench.Start("iperf3", backend, Measurements.LoadCpu, "iperf3", "-s", "-p", BulkPort.ToString(CultureInfo.InvariantCulture)));
            foreach (var method in Methods)
            {
                await KernelBench.WaitAsync(client, method.Vip, WebPort);
                await KernelBench.WaitAsync(client, method.Vip, BulkPort);
                await Measurements.WrkAsync(method.Vip, WebPort, TimeSpan.FromSeconds(1), close: false, client.Name); // warm-up
            }

            var before = KernelBench.NodeSoftirqMicroseconds();
            await Task.Delay(TimeSpan.FromSeconds(3));
            idle = (KernelBench.NodeSoftirqMicroseconds() - before) / 3;
            Console.WriteLine($"  node softirq while idle: {idle / 1e4:F2} % of CPU 1");
            double Spent(double since, DateTime started) => Math.Max(0, KernelBench.NodeSoftirqMicroseconds() - since - (idle * (DateTime.UtcNow - started).TotalSeconds));

            for (var round = 1; round <= rounds; round++)
            {
                Console.WriteLine($"Round {round}/{rounds}");
                load.Add(double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture));
                foreach (var method in Methods)
                {
                    var cpu = KernelBench.NodeSoftirqMicroseconds();
                    var started = DateTime.UtcNow;
                    var ((rps, _, _), requests) = await Measurements.WrkRunAsync(method.Vip, WebPort, duration, close: false, client.Name);
                    Record(Rps, method, rps);
                    Record(CpuPerRequest, method, Spent(cpu, started) / requests);
                }

                foreach (var method in Methods)
                {
                    var cpu = KernelBench.NodeSoftirqMicroseconds();
                    var started = DateTime.UtcNow;
                    var ((cps, _, _), connections) = await Measurements.WrkRunAsync(method.Vip, WebPort, duration, close: true, client.Name);
                    Record(Cps, method, cps);
                    Record(CpuPerConnection, method, Spent(cpu, started) / connections);
                }

                foreach (var method in Methods)
                {
                    var cpu = KernelBench.NodeSoftirqMicroseconds();
                    var started = DateTime.UtcNow;
                    try
                    {
                        var gbits = await Measurements.IperfTcpAsync(method.Vip, duration, 1, client.Name);
                        var seconds = (DateTime.UtcNow - started).TotalSeconds;
                        Record(Bulk, method, gbits);
                        Record(CpuPerGb, method, Spent(cpu, started) / 1000 / (gbits / 8 * seconds));
                    }
                    catch (InvalidOperationException ex)
                    {
                        Console.WriteLine($"  {method.Name}: round lost ({ex.Message.Split('\n')[0]})");
                    }
                }
            }

            // Each method's counter proves its traffic took that path (and no other method's).
            await File.WriteAllTextAsync(Path.Combine(run, "counters.txt"), (await node.ExecAsync("nft", "list", "ruleset")).StandardOutput);
        }
        finally
        {
            await topology.DisposeAsync();
        }

        var md = Table(results, rounds, duration, idle, load, smoke);
        await File.WriteAllTextAsync(output, md, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        Console.WriteLine(md);
        Console.WriteLine($"Wrote {output}");
        return 0;
    }

    /// <summary>The node's rules for every method at once; each VIP meets only its own (the others' lookups miss).</summary>
    private static string Ruleset()
    {
        var m = Methods;
        return $$"""
            # conntrack active in the node, as the kernel plane's inet table makes it (ct expressions register its hooks)
            table inet mvbench-ct {
            	chain forward {
            		type filter hook forward priority filter; policy accept;
            		ct state invalid counter
            	}
            }
            # dup as the plane renders a DSR listener (NftRuleset: table ip multivip, dsr-prerouting → be-B)
            table ip mvbench-dup {
            	map dsr {
            		type ipv4_addr . inet_proto . inet_service : verdict
            		elements = { {{m[0].Vip}} . tcp . {{WebPort}} : goto be-1, {{m[0].Vip}} . tcp . {{BulkPort}} : goto be-1 }
            	}
            	chain be-1 {
            		counter dup to {{Backend}} drop
            	}
            	chain dsr-prerouting {
            		type filter hook prerouting priority dstnat - 5; policy accept;
            		ip daddr . meta l4proto . th dport vmap @dsr
            	}
            }
            # the same at priority raw, before conntrack; fwmark and route skip conntrack there too
            table ip mvbench-raw {
            	map dsr {
            		type ipv4_addr . inet_proto . inet_service : verdict
            		elements = { {{m[1].Vip}} . tcp . {{WebPort}} : goto be-2, {{m[1].Vip}} . tcp . {{BulkPort}} : goto be-2,
            			{{m[3].Vip}} . tcp . {{WebPort}} : goto mark-4, {{m[3].Vip}} . tcp . {{BulkPort}} : goto mark-4,
            			{{m[4].Vip}} . tcp . {{WebPort}} : goto route-5, {{m[4].Vip}} . tcp . {{BulkPort}} : goto route-5 }
            	}
            	chain be-2 {
            		counter dup to {{Backend}} drop
            	}
            	chain mark-4 {
            		counter notrack meta mark set 0x4d0000aa
            	}
            	chain route-5 {
            		counter notrack
            	}
            	chain dsr-raw {
            		type filter hook prerouting priority raw; policy accept;
            		ip daddr . meta l4proto . th dport vmap @dsr
            	}
            }
            # netdev ingress on the client-side device: straight out of eth1 to the VM's MAC
            table netdev mvbench-fwd {
            	map dsr {
            		type ipv4_addr . inet_proto . inet_service : verdict
            		elements = { {{m[2].Vip}} . tcp . {{WebPort}} : goto be-3, {{m[2].Vip}} . tcp . {{BulkPort}} : goto be-3 }
            	}
            	chain be-3 {
            		counter fwd ip to {{Backend}} device "eth1"
            	}
            	chain ingress {
            		type filter hook ingress device "eth0" priority 0; policy accept;
            		ip daddr . meta l4proto . th dport vmap @dsr
            	}
            }

            """;
    }

    private static string Table(BenchResults results, int rounds, TimeSpan duration, double idle, List<double> load, bool smoke)
    {
        double Median(Metric metric, string method) => results.Median(metric, method);
        string Cell(double value) => double.IsNaN(value) ? "n/a" : value switch
        {
            >= 1000 => value.ToString("N0", CultureInfo.InvariantCulture),
            >= 10 => value.ToString("F1", CultureInfo.InvariantCulture),
            _ => value.ToString("F2", CultureInfo.InvariantCulture),
        };
        var md = new StringBuilder();
        md.AppendLine($"DSR methods, `bench/run --kernel-dsr`{(smoke ? " (**smoke run: figures are not meaningful**)" : "")}: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, " +
            $"{rounds} interleaved round(s) of {duration.TotalSeconds:0} s per method, medians; load average at each round's start: " +
            $"{string.Join(", ", load.Select(l => l.ToString("F1", CultureInfo.InvariantCulture)))}; node softirq while idle {idle / 1e4:F2} % (subtracted).");
        md.AppendLine();
        md.AppendLine("| metric | " + string.Join(" | ", Methods.Select(m => m.Name)) + " |");
        md.AppendLine("|---|" + string.Concat(Enumerable.Repeat("---:|", Methods.Length)));
        foreach (var metric in new[] { Rps, Cps, CpuPerRequest, CpuPerConnection, Bulk, CpuPerGb })
        {
            md.AppendLine($"| {metric.Title} ({metric.Unit}{(metric.LowerIsBetter ? ", lower is better" : "")}) | " +
                string.Join(" | ", Methods.Select(m => Cell(Median(metric, m.Name)))) + " |");
        }

        return md.ToString();
    }

    private static string? Arg(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }
}
