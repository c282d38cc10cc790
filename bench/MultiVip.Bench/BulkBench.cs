using System.Globalization;
using System.Text;
using MultiVip.Contracts;

namespace MultiVip.Bench;

/// <summary>
/// bench/run --bulk: bulk throughput and proxy CPU per GB through MultiVip with splice(2) on (the
/// default, `--splice auto`) against the same build with `--splice never` (and, with --compare DIR,
/// another build), iperf3 with 1 and 8 streams, interleaved rounds, medians. CPU per GB is the proxy
/// process tree's CPU time (/proc) over the bytes iperf3 received: a figure that holds while the
/// neighbours on this shared machine change the Gbit/s. Proxies on core 1, iperf3 on core 0, as in
/// the full run. Backend and VIPs on 127.135.0.0/16 (loopback).
/// </summary>
internal static class BulkBench
{
    private const string Backend = "127.135.0.20";
    private const int Port = 5201;

    public static async Task<int> RunAsync(string repo, string[] args)
    {
        var rounds = int.Parse(Arg(args, "--rounds") ?? "3", CultureInfo.InvariantCulture);
        var duration = TimeSpan.FromSeconds(int.Parse(Arg(args, "--duration") ?? "5", CultureInfo.InvariantCulture));
        var compareBuild = Arg(args, "--compare") is { } dir ? Path.GetFullPath(dir) : null;
        var run = Path.Combine(repo, "artifacts", "bench", "bulk-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        Directory.CreateDirectory(run);
        var processes = new List<ManagedProcess>();
        var results = new Dictionary<(string Target, int Streams), List<(double Gbps, double CpuSecondsPerGb)>>();
        try
        {
            processes.Add(ManagedProcess.Start("iperf3", Lab.BackendCpu, "iperf3", ["-s", "-B", Backend, "-p", Port.ToString(CultureInfo.InvariantCulture)]));
            await Lab.WaitTcpAsync(Backend, Port);
            var build = Path.Combine(repo, "artifacts", "multivip");
            var targets = new List<(string Name, string Vip, ManagedProcess Process)>
            {
                ("splice auto", "127.135.2.1", await StartAsync(run, build, "127.135.2.1", ["--splice", "auto"])),
                ("splice never", "127.135.2.2", await StartAsync(run, build, "127.135.2.2", ["--splice", "never"])),
            };
            if (compareBuild is not null)
            {
                targets.Add(("compared build", "127.135.2.3", await StartAsync(run, compareBuild, "127.135.2.3", [])));
            }

            processes.AddRange(targets.Select(t => t.Process));
            foreach (var (_, vip, _) in targets)
            {
                // Warm-up: JIT, pools. iperf3's server runs one test at a time and can reset the next
                // control connection right after the readiness probe's empty one went through the VIP
                // to it: a few tries, then the failure is real.
                for (var attempt = 1; ; attempt++)
                {
                    try
                    {
                        await Measurements.IperfTcpAsync(vip, TimeSpan.FromSeconds(1), 1);
                        break;
                    }
                    catch (InvalidOperationException e) when (attempt < 5)
                    {
                        Console.WriteLine($"  warm-up through {vip}: {e.Message}; again");
                        await Task.Delay(TimeSpan.FromMilliseconds(500));
                    }
                }
            }

            for (var round = 1; round <= rounds; round++)
            {
                Console.WriteLine($"Round {round}/{rounds}");
                foreach (var streams in new[] { 1, 8 })
                {
                    foreach (var (name, vip, process) in targets)
                    {
                        var before = process.TreeCpuMicroseconds();
                        double gbps;
                        try
                        {
                            gbps = await Measurements.IperfTcpAsync(vip, duration, streams);
                        }
                        catch (InvalidOperationException ex)
                        {
                            Console.WriteLine($"  {name}, {streams} stream(s): round lost ({ex.Message})");
                            continue;
                        }

                        var cpuSeconds = (process.TreeCpuMicroseconds() - before) / 1e6;
                        var gigabytes = gbps * duration.TotalSeconds / 8;
                        var perGb = cpuSeconds / gigabytes;
                        if (!results.TryGetValue((name, streams), out var list))
                        {
                            results[(name, streams)] = list = [];
                        }

                        list.Add((gbps, perGb));
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name,-15} {streams} stream(s): {gbps,7:F2} Gbit/s, {perGb:F3} CPU s per GB"));
                    }
                }
            }
        }
        finally
        {
            foreach (var process in Enumerable.Reverse(processes))
            {
                process.Dispose();
            }
        }

        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"Bulk through MultiVip (bench/run --bulk): iperf3 {duration.TotalSeconds:F0} s per figure, {rounds} interleaved rounds, medians (min-max). Proxy CPU per GB from /proc over the bytes received.");
        md.AppendLine();
        md.AppendLine("| target | streams | Gbit/s | proxy CPU s per GB |");
        md.AppendLine("|---|---|---|---|");
        foreach (var ((target, streams), list) in results.OrderBy(r => r.Key.Streams))
        {
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {target} | {streams} | {Median(list.Select(x => x.Gbps)):F2} ({list.Min(x => x.Gbps):F2}-{list.Max(x => x.Gbps):F2}) | {Median(list.Select(x => x.CpuSecondsPerGb)):F3} ({list.Min(x => x.CpuSecondsPerGb):F3}-{list.Max(x => x.CpuSecondsPerGb):F3}) |");
        }

        var output = Path.Combine(repo, "artifacts", "bench", "bulk.md");
        await File.WriteAllTextAsync(output, md.ToString(), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        Console.Write(md);
        Console.WriteLine($"Wrote {output}");
        return 0;
    }

    private static async Task<ManagedProcess> StartAsync(string run, string build, string vip, string[] extra)
    {
        var dataDir = Path.Combine(run, "multivip-" + vip);
        var process = ManagedProcess.Start("multivip-" + vip, Lab.ProxyCpu, "dotnet",
        [
            Path.Combine(build, "multivip.dll"), "serve", "--data-dir", dataDir, "--api", "http://127.0.0.1:0", "--dns", "off",
            "--vip-pool", $"{vip}-{vip}", "--socket-engine", "epoll", .. extra,
        ]);
        for (var i = 0; !File.Exists(Path.Combine(dataDir, "endpoint")); i++)
        {
            if (process.HasExited || i > 1200)
            {
                throw new InvalidOperationException("multivip serve did not start: " + process.Log);
            }

            await Task.Delay(100);
        }

        using var client = Lab.Client(dataDir);
        await client.CreateServiceAsync(new CreateServiceRequest { Name = "bulk" });
        await client.AddVmAsync("bulk", new AddVmRequest { Name = "backend", Address = Backend });
        await client.AddEndpointAsync("bulk", "backend", new EndpointRequest { Name = "bulk", Protocol = "tcp", LocalPort = Port, PublicPort = Port });
        await Lab.WaitTcpAsync(vip, Port);
        return process;
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static string? Arg(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }
}
