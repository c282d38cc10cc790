using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using MultiVip.TestSupport.Network;

namespace MultiVip.Bench;

/// <summary>
/// bench/failover: failover between two real `multivip serve` nodes in network namespaces, measured
/// over many kills per event (issue 15: median and worst over ≥ 10), and written as the generated
/// "Failover between nodes" section of docs/benchmarks.md. Every event runs in a network of its own
/// (FailoverLab), created and removed around it, also when a round fails or the run is interrupted.
/// </summary>
internal static class Failover
{
    private const string Heading = "## Failover between nodes";
    private const int HoldTime = 3;

    /// <param name="Figure">What is measured per kill, as the table says it.</param>
    /// <param name="Second">The second figure: when the address moved (VRRP) or the router's route went (BGP).</param>
    internal sealed record Scenario(string Key, string Event, string Requirement, string Figure, string Second, bool Bgp, bool Clean = false, bool LoseLink = false, bool Bfd = false);

    internal sealed record Result(Scenario Scenario, List<double> Figures, List<double> Seconds, List<int> Failed, int Kills, List<string> Problems);

    private static readonly Scenario[] All =
    [
        new("vrrp-kill", "VRRP, kill -9 of MultiVip on the master", "3 s", "from the kill to the first successful new connection", "backup holds the address", Bgp: false),
        new("vrrp-stop", "VRRP, clean stop (SIGTERM) of the master", "1 s", "longest time without a successful new connection", "backup holds the address", Bgp: false, Clean: true),
        new("bgp-hold", $"BGP, node lost (link down + kill -9), hold time {HoldTime} s", $"hold time ({HoldTime} s)", "from the loss to the last failed new connection", "router's route via the lost node gone", Bgp: true, LoseLink: true),
        new("bgp-bfd", "BGP, node lost (link down + kill -9), BFD 100 ms × 3", "1 s", "from the loss to the last failed new connection", "router's route via the lost node gone", Bgp: true, LoseLink: true, Bfd: true),
        new("bgp-kill", $"BGP, kill -9 of MultiVip only (its BIRD stopped by the watchdog), hold time {HoldTime} s", $"hold time ({HoldTime} s)", "from the kill to the last failed new connection", "router's route via the killed node gone", Bgp: true),
    ];

    public static async Task<int> RunAsync(string[] args)
    {
        var repo = Path.GetFullPath(Arg(args, "--repo") ?? Directory.GetCurrentDirectory());
        var kills = int.Parse(Arg(args, "--kills") ?? "10", CultureInfo.InvariantCulture);
        var only = Arg(args, "--only")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (kills < 1 || kills > 100)
        {
            Console.Error.WriteLine($"bench/failover: --kills {kills} is out of range; give 1 to 100 (10 or more for the figures in docs/benchmarks.md).");
            return 2;
        }

        var unknown = only?.Where(o => All.All(s => s.Key != o)).ToList() ?? [];
        if (unknown.Count > 0)
        {
            Console.Error.WriteLine($"bench/failover: unknown event(s) {string.Join(", ", unknown)} for --only; the events are {string.Join(", ", All.Select(s => s.Key))}.");
            return 2;
        }

        var scenarios = only is null ? All : [.. All.Where(s => only.Contains(s.Key))];

        // A partial run (--only, or fewer than 10 kills) never replaces the figures in the docs unless told to.
        var partial = only is not null || kills < 10;
        var output = Arg(args, "--out") ?? (partial ? Path.Combine(repo, "artifacts", "bench", "failover.md") : Path.Combine(repo, "docs", "benchmarks.md"));
        AppContext.SetData("MultiVipRepo", repo);

        // Ctrl+C or SIGTERM ends the current round: the network of the event is removed before exiting.
        using var cancel = new CancellationTokenSource();
        using var registrations = new Registrations([.. new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP }
            .Select(signal => PosixSignalRegistration.Create(signal, context =>
            {
                context.Cancel = true;
                cancel.Cancel();
            }))]);

        var results = new List<Result>();
        var loadAtStart = Report.LoadAverage();
        foreach (var scenario in scenarios)
        {
            Console.WriteLine($"{scenario.Event}: {kills} kills");
            var result = new Result(scenario, [], [], [], kills, []);
            try
            {
                await RunScenarioAsync(repo, scenario, kills, result, cancel.Token);
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                Console.Error.WriteLine("bench/failover: interrupted; the namespaces were removed, nothing written.");
                return 130;
            }
            catch (Exception e) when (e is TimeoutException or InvalidOperationException or IOException)
            {
                // The network could not be set up again for the next kill: what was measured stays, the rest is reported.
                result.Problems.Add($"stopped after {result.Figures.Count} kill(s): {e.Message.Split('\n')[0]}");
                Console.WriteLine($"  {result.Problems[^1]}");
            }

            results.Add(result);
        }

        var section = Section(results, kills, $"load average {loadAtStart} at the start, {Report.LoadAverage()} at the end");
        await GeneratedBlocks.WriteAsync(output, GeneratedBlocks.Failover, section);
        Console.WriteLine($"Wrote {output}");
        return results.All(r => r.Problems.Count == 0) ? 0 : 1;
    }

    private static async Task RunScenarioAsync(string repo, Scenario scenario, int kills, Result result, CancellationToken cancel)
    {
        await using var lab = await FailoverLab.CreateAsync(repo, router: scenario.Bgp);
        var (n1, n2) = (lab.Nodes[0], lab.Nodes[1]);
        var vip = scenario.Bgp ? await StartBgpAsync(lab, scenario) : await StartVrrpAsync(lab);
        var endPoint = new IPEndPoint(IPAddress.Parse(vip), 80);
        var (holder, other) = (n1, n2);
        for (var round = 1; round <= kills; round++)
        {
            cancel.ThrowIfCancellationRequested();
            FailoverLab.LabNode victim, survivor;
            NetworkNamespace client;
            Func<Task<bool>> moved;
            if (scenario.Bgp)
            {
                (victim, survivor) = round % 2 == 1 ? (n1, n2) : (n2, n1);
                await BothAnnouncedAsync(lab, vip);
                client = lab.RoutedClient!;
                moved = async () => (await lab.RouterNextHopsAsync(vip + "/32")).SequenceEqual([survivor.Address.ToString()]);
            }
            else
            {
                (victim, survivor) = (holder, other);
                await StateAsync(victim, vip, "MASTER");
                await StateAsync(survivor, vip, "BACKUP");
                await Eventually.TrueAsync(() => victim.HoldsOnEthAsync(vip), TimeSpan.FromSeconds(30), () => $"node {victim.Index} is MASTER but does not hold {vip}");
                client = lab.ClientNs;
                moved = () => survivor.HoldsOnEthAsync(vip);
            }

            await Eventually.TrueAsync(() => NamespaceEchoBackend.HelloAsync(client, endPoint).ContinueWith(t => t.IsCompletedSuccessfully, TaskScheduler.Default), TimeSpan.FromSeconds(30), () => $"the client does not reach {vip} before kill {round}");
            var clock = Stopwatch.StartNew();
            if (scenario.LoseLink)
            {
                await victim.Ns.IpAsync("link", "set", "eth0", "down");
            }

            if (scenario.Clean)
            {
                victim.Server!.Terminate();
            }
            else
            {
                victim.Server!.Kill();
            }

            var seen = await ClientView.WatchAsync(client, endPoint, clock, TimeSpan.FromSeconds(30), moved, cancel);
            cancel.ThrowIfCancellationRequested();
            var figure = scenario.Bgp ? seen.LastFailureMs ?? 0 : scenario.Clean ? seen.LongestGapMs : seen.FirstSuccessMs ?? seen.LongestGapMs;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  kill {round,2}: node {victim.Index} -> {figure,6:0} ms; moved at {(seen.MovedMs is { } m ? m.ToString("0", CultureInfo.InvariantCulture) + " ms" : "never")}; first success {seen.FirstSuccessMs:0} ms, longest gap {seen.LongestGapMs:0} ms, {seen.Failed} of {seen.Attempts} attempts failed"));
            if (seen.Recovered)
            {
                result.Figures.Add(figure);
                result.Seconds.Add(seen.MovedMs!.Value);
                result.Failed.Add(seen.Failed);
            }
            else
            {
                result.Problems.Add($"kill {round}: no failover within 30 s (moved: {seen.MovedMs?.ToString("0", CultureInfo.InvariantCulture) ?? "never"}, {seen.Failed} of {seen.Attempts} attempts failed)");
            }

            // Back to two nodes: the victim's daemons gone (the watchdog), its link up, started again.
            if (scenario.Clean)
            {
                await victim.Server.WaitForExitAsync(TimeSpan.FromSeconds(30));
            }

            await Eventually.TrueAsync(async () => await victim.DaemonCountAsync() == 0, TimeSpan.FromSeconds(15), () => $"node {victim.Index}: keepalived or BIRD outlived MultiVip");
            await victim.RestoreLinkAsync();
            await victim.StartAsync(scenario.Bgp ? BgpArguments(victim, scenario) : VrrpArguments(victim, survivor, victim == n1 ? 250 : 240));
            if (!scenario.Bgp)
            {
                // nopreempt: the restarted node stays backup, the survivor is the holder for the next kill.
                (holder, other) = (survivor, victim);
            }
        }
    }

    private static async Task<string> StartVrrpAsync(FailoverLab lab)
    {
        var (n1, n2) = (lab.Nodes[0], lab.Nodes[1]);
        await n1.StartAsync(VrrpArguments(n1, n2, 250));
        string vip;
        using (var client = n1.Client())
        {
            await FailoverLab.ConfigureAsync(client);
            vip = (await client.ListVirtualIpsAsync("svc")).Single(v => v.Name == "Vip1").Address!;
        }

        // Node 1 first and alone, so it is the master; node 2 joins as backup (nopreempt).
        await Eventually.TrueAsync(() => n1.HoldsOnEthAsync(vip), TimeSpan.FromSeconds(30), () => $"node 1 never became VRRP master for {vip}:\n{n1.Output}");
        await n2.StartAsync(VrrpArguments(n2, n1, 240));
        using (var client = n2.Client())
        {
            await FailoverLab.ConfigureAsync(client);
        }

        return vip;
    }

    private static async Task<string> StartBgpAsync(FailoverLab lab, Scenario scenario)
    {
        await lab.StartRouterAsync(HoldTime, scenario.Bfd);
        string? vip = null;
        foreach (var node in lab.Nodes)
        {
            await node.StartAsync(BgpArguments(node, scenario));
            using var client = node.Client();
            await FailoverLab.ConfigureAsync(client);
            var address = (await client.ListVirtualIpsAsync("svc")).Single(v => v.Name == "Vip1").Address!;
            if (vip is not null && vip != address)
            {
                throw new InvalidOperationException($"the nodes gave the VIP different addresses ({vip}, {address})");
            }

            vip = address;
        }

        return vip!;
    }

    private static async Task BothAnnouncedAsync(FailoverLab lab, string vip)
    {
        await Eventually.MatchesAsync(
            () => lab.RouterNextHopsAsync(vip + "/32"),
            hops => hops.Order().SequenceEqual(["198.18.0.1", "198.18.0.2"]),
            TimeSpan.FromSeconds(60),
            hops => $"the router's route for {vip} is via [{string.Join(", ", hops)}], not both nodes.\nrouter:\n{lab.RouterBird?.Output}");
        foreach (var node in lab.Nodes)
        {
            await StateAsync(node, vip, "announced");
        }
    }

    private static async Task StateAsync(FailoverLab.LabNode node, string vip, string state) =>
        await Eventually.MatchesAsync(() => node.StateAsync(vip), s => s == state, TimeSpan.FromSeconds(30), s => $"node {node.Index} is {s ?? "unreachable"} for {vip}, not {state}:\n{Tail(node.Output)}");

    private static string Tail(string text) => text.Length > 3000 ? text[^3000..] : text;

    private static string[] VrrpArguments(FailoverLab.LabNode self, FailoverLab.LabNode peer, int priority) =>
    [
        "--vip-pool", FailoverLab.VrrpPool, "--announce", "vrrp", "--vrrp-interface", "eth0", "--vrrp-router-id", "61",
        "--vrrp-priority", priority.ToString(CultureInfo.InvariantCulture), "--vrrp-peer", peer.Address.ToString(),
    ];

    private static string[] BgpArguments(FailoverLab.LabNode node, Scenario scenario) =>
    [
        "--vip-pool", FailoverLab.BgpPool, "--announce", "bgp", "--bgp-asn", "65001", "--bgp-peer", "198.18.0.254:65000",
        "--bgp-router-id", node.Address.ToString(), "--bgp-hold-time", HoldTime.ToString(CultureInfo.InvariantCulture), .. scenario.Bfd ? new[] { "--bgp-bfd" } : [],
    ];

    /// <summary>The generated section (its markers are GeneratedBlocks').</summary>
    internal static string Section(IReadOnlyList<Result> results, int kills, string load)
    {
        var md = new StringBuilder();
        md.AppendLine(Heading);
        md.AppendLine();
        md.AppendLine($"Generated by `bench/failover` — do not edit by hand; run it again (`bench/run` keeps this section). Run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Report.Machine()}; {Version("keepalived", "--version")}, {Version("bird", "--version")}; {load} (the machine is shared: other work runs beside the nodes).");
        md.AppendLine();
        md.AppendLine("Two `multivip serve` nodes in network namespaces on one bridge, backends in their own namespace, as in " +
            "`tests/MultiVip.Network.Tests/Failover` (topologies: [high-availability.md](high-availability.md)). VRRP: priorities 250/240, " +
            "advert interval 1 s, `nopreempt`, a client on the segment. BGP: a router namespace running BIRD with ECMP (`merge paths on`, " +
            $"`fib_multipath_hash_policy=1`), hold time {HoldTime} s (keepalive 1 s), the client behind the router. Each kill: the client has just " +
            "connected; the holder (VRRP) or one of the two nodes, alternately (BGP), is killed; the client then opens new connections one after " +
            "another (connect bounded by 250 ms, then the backend's greeting, 10 ms apart — the figures are that fine) while the address's " +
            "place is polled every 50 ms; the node is then started again (as the new backup, for VRRP) and the next kill waits until both nodes " +
            "are back. VRRP's figure is the client's outage; BGP's is when the last new connection failed (with ECMP only the flows hashed to " +
            "the lost node fail, the others never stop). \"Node lost\" takes the node's link down before killing it, so the router learns it only " +
            "from the hold timer or BFD; \"kill -9 of MultiVip only\" leaves the link up and BIRD's watchdog closes the session.");
        md.AppendLine();
        md.AppendLine("| event | requirement | kills | measured | median | worst | second figure | median | worst | failed attempts per kill (median) |");
        md.AppendLine("|---|---|---:|---|---:|---:|---|---:|---:|---:|");
        foreach (var r in results)
        {
            var done = r.Figures.Count == r.Kills && r.Problems.Count == 0 ? r.Kills.ToString(CultureInfo.InvariantCulture) : $"{r.Figures.Count} of {r.Kills}";
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Scenario.Event} | {r.Scenario.Requirement} | {done} | {r.Scenario.Figure} | {Ms(r.Figures, 50)} | {Ms(r.Figures, 100)} | {r.Scenario.Second} | {Ms(r.Seconds, 50)} | {Ms(r.Seconds, 100)} | {(r.Failed.Count == 0 ? "n/a" : ScaleBench.Percentile([.. r.Failed.Select(f => (double)f)], 50).ToString("0", CultureInfo.InvariantCulture))} |");
        }

        var problems = results.SelectMany(r => r.Problems.Select(p => $"- {r.Scenario.Key}: {p}")).ToList();
        if (problems.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("Not measured (counted out of the figures above):");
            md.AppendLine();
            foreach (var p in problems)
            {
                md.AppendLine(p);
            }
        }

        md.AppendLine();
        md.AppendLine($"`bench/failover` (all five events, {kills} kills each, about 15 minutes) writes this section; `bench/failover --only vrrp-kill,bgp-bfd --kills 3` tries a change and writes `artifacts/bench/failover.md`.");
        return md.ToString();
    }

    private static string Ms(List<double> values, double percentile) =>
        values.Count == 0 ? "n/a" : ScaleBench.Percentile(values, percentile).ToString("N0", CultureInfo.InvariantCulture) + " ms";

    private static string Version(string command, string argument)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(command, argument) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            var text = process.StandardError.ReadToEnd() + process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return text.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim() ?? command;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return command + " (not found)";
        }
    }

    private static string? Arg(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }

    private sealed class Registrations(List<PosixSignalRegistration> registrations) : IDisposable
    {
        public void Dispose()
        {
            foreach (var registration in registrations)
            {
                registration.Dispose();
            }
        }
    }
}
