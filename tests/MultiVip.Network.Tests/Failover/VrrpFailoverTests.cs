using System.Diagnostics;
using System.Net;
using MultiVip.TestSupport.Network;
using Xunit.Abstractions;

namespace MultiVip.Network.Tests.Failover;

/// <summary>
/// `--announce vrrp` with real keepalived: two `multivip serve` nodes on one segment share the VIP;
/// the one keepalived elects holds it, and when that node stops (SIGTERM) or dies (kill -9) the other
/// takes it over and the client's new connections succeed through it. The issue's requirements are
/// 1 s for a clean stop and 3 s for kill -9 (advert interval 1 s); the assertions allow slack for a
/// loaded test machine (they check the mechanism, not the speed) and the measured figures are printed.
/// Priorities 250 and 240: a backup takes over a skew time after the master's priority-0 advert,
/// (256 - priority) / 256 s, so 16 ms here rather than 0.61 s at keepalived's usual 100.
/// </summary>
public sealed class VrrpFailoverTests(ITestOutputHelper output)
{
    // 3.4 s was seen once at a load average of 60 (a build on both cores): slack, not the requirement.
    private static readonly TimeSpan CleanStopBound = TimeSpan.FromSeconds(6);
    private static readonly TimeSpan KillBound = TimeSpan.FromSeconds(6);

    [Fact]
    public async Task The_vip_moves_on_a_clean_stop_and_on_kill_9_and_keepalived_never_outlives_multivip()
    {
        await using var net = await FailoverNetwork.CreateAsync();
        net.Backend(FailoverNetwork.Vm1, 8080, "vm1");
        net.Backend(FailoverNetwork.Vm2, 8080, "vm2");
        var (n1, n2) = (net.Nodes[0], net.Nodes[1]);
        await n1.StartAsync(VrrpArguments(n1, n2, priority: 250));
        string vip;
        using (var client = n1.Client())
        {
            await FailoverNetwork.ConfigureAsync(client);
            vip = (await client.ListVirtualIpsAsync("svc")).Single(v => v.Name == "Vip1").Address!;
        }

        // Alone on the segment, node 1 becomes master (after 3 adverts without a master) and adds the VIP.
        await Eventually.TrueAsync(() => n1.HoldsOnEthAsync(vip), TimeSpan.FromSeconds(20), () => $"node 1 never became VRRP master for {vip}:\n{n1.Output}");
        await n2.StartAsync(VrrpArguments(n2, n1, priority: 240));
        using (var client = n2.Client())
        {
            await FailoverNetwork.ConfigureAsync(client);
            Assert.Equal(vip, (await client.ListVirtualIpsAsync("svc")).Single(v => v.Name == "Vip1").Address);
        }

        var endPoint = new IPEndPoint(IPAddress.Parse(vip), 80);
        Assert.StartsWith("vm", await NamespaceEchoBackend.HelloAsync(net.ClientNs, endPoint), StringComparison.Ordinal);
        await AssertStateAsync(n1, vip, "MASTER");
        await AssertStateAsync(n2, vip, "BACKUP");
        Assert.False(await n2.HoldsOnEthAsync(vip), "the backup must not hold the VIP");

        // 1. Clean stop of the master: keepalived is stopped first (priority-0 advert), node 2 takes over.
        var clock = Stopwatch.StartNew();
        n1.Server!.Terminate();
        var clean = await FailoverNetwork.MeasureOutageAsync(net.ClientNs, endPoint, TimeSpan.FromSeconds(20), clock, () => n2.HoldsOnEthAsync(vip));
        output.WriteLine($"VRRP clean stop (SIGTERM) of the master, VIP moved to node 2 after {clock.Elapsed.TotalMilliseconds:0} ms: {clean}");
        Assert.True(clean.Recovered, $"node 2 did not take over within 20 s of the clean stop ({clean}).\nnode 2:\n{n2.Output}");
        Assert.True(clean.Longest <= CleanStopBound, $"new connections failed for {clean.Longest.TotalMilliseconds:0} ms on a clean stop (requirement 1 s, bound {CleanStopBound.TotalSeconds} s)");
        await n1.Server.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.Empty(await n1.DaemonsAsync());

        // 2. Node 1 comes back: nopreempt, so it stays BACKUP and node 2 keeps the VIP (no second failover).
        await n1.StartAsync(VrrpArguments(n1, n2, priority: 250));
        await AssertStateAsync(n1, vip, "BACKUP");
        await AssertStateAsync(n2, vip, "MASTER");

        // 3. kill -9 of the master (node 2): the watchdog stops its keepalived, node 1 takes over.
        var before = await n2.DaemonsAsync();
        Assert.NotEmpty(before); // keepalived and its VRRP child
        clock.Restart();
        n2.Server!.Kill();
        var killed = await FailoverNetwork.MeasureOutageAsync(net.ClientNs, endPoint, TimeSpan.FromSeconds(20), clock, () => n1.HoldsOnEthAsync(vip));
        var movedAfter = clock.Elapsed;
        var keepalivedGone = await Eventually.MatchesAsync(() => n2.DaemonsAsync(), d => d.Count == 0, TimeSpan.FromSeconds(10), d => $"keepalived outlived MultiVip: {string.Join(", ", d)}");
        var goneAfter = clock.Elapsed;
        output.WriteLine($"VRRP kill -9 of the master, VIP moved to node 1 after {movedAfter.TotalMilliseconds:0} ms: {killed}; node 2's keepalived gone by {goneAfter.TotalMilliseconds:0} ms");
        Assert.True(killed.Recovered, $"node 1 did not take over within 20 s of kill -9 ({killed}).\nnode 1:\n{n1.Output}");
        Assert.True(killed.Longest <= KillBound, $"new connections failed for {killed.Longest.TotalMilliseconds:0} ms after kill -9 (requirement 3 s, bound {KillBound.TotalSeconds} s)");
        Assert.False(await n2.HoldsOnEthAsync(vip), "the dead node's keepalived must have released the VIP");
        await AssertStateAsync(n1, vip, "MASTER");

        // keepalived itself killed: MultiVip restarts it (logged), and it settles again.
        var running = await n1.DaemonsAsync();
        foreach (var (pid, _) in running)
        {
            using var process = Process.GetProcessById(pid);
            process.Kill();
        }

        await n1.Server!.WaitForOutputAsync("keepalived exited", TimeSpan.FromSeconds(10));
        await Eventually.MatchesAsync(() => n1.DaemonsAsync(), d => d.Count > 0 && d.All(x => !running.Contains(x)), TimeSpan.FromSeconds(20), d => $"keepalived was not restarted:\n{n1.Output}");
        await AssertStateAsync(n1, vip, "MASTER");

        // Node 1's history tells the story: BACKUP (after its restart), then MASTER.
        using var c1 = n1.Client();
        var history = await c1.GetNetworkOwnershipAsync();
        Assert.Contains(history.Changes, c => c.Address == vip && c.From == "BACKUP" && c.To == "MASTER");
    }

    /// <summary>
    /// The figures for docs/benchmarks.md: MULTIVIP_FAILOVER_KILLS=N (10 or more) kills the master N
    /// times, restarting it as the new backup each time, and prints the median and worst. Without the
    /// variable it does nothing (it takes a few minutes).
    /// </summary>
    [Fact]
    public async Task Repeated_kill_9_of_the_master_figures()
    {
        if (!int.TryParse(Environment.GetEnvironmentVariable("MULTIVIP_FAILOVER_KILLS"), out var kills) || kills < 1)
        {
            output.WriteLine("MULTIVIP_FAILOVER_KILLS not set: nothing measured.");
            return;
        }

        await using var net = await FailoverNetwork.CreateAsync();
        net.Backend(FailoverNetwork.Vm1, 8080, "vm1");
        net.Backend(FailoverNetwork.Vm2, 8080, "vm2");
        var (n1, n2) = (net.Nodes[0], net.Nodes[1]);
        await n1.StartAsync(VrrpArguments(n1, n2, priority: 250));
        string vip;
        using (var client = n1.Client())
        {
            await FailoverNetwork.ConfigureAsync(client);
            vip = (await client.ListVirtualIpsAsync("svc")).Single(v => v.Name == "Vip1").Address!;
        }

        await Eventually.TrueAsync(() => n1.HoldsOnEthAsync(vip), TimeSpan.FromSeconds(20), () => n1.Output);
        await n2.StartAsync(VrrpArguments(n2, n1, priority: 240));
        using (var client = n2.Client())
        {
            await FailoverNetwork.ConfigureAsync(client);
        }

        var endPoint = new IPEndPoint(IPAddress.Parse(vip), 80);
        var (master, backup) = (n1, n2);
        var figures = new List<double>();
        for (var round = 1; round <= kills; round++)
        {
            await AssertStateAsync(backup, vip, "BACKUP");
            var clock = Stopwatch.StartNew();
            master.Server!.Kill();
            var outage = await FailoverNetwork.MeasureOutageAsync(net.ClientNs, endPoint, TimeSpan.FromSeconds(20), clock, () => backup.HoldsOnEthAsync(vip));
            Assert.True(outage.Recovered, $"round {round}: {outage}");
            figures.Add(outage.Longest.TotalMilliseconds);
            output.WriteLine($"round {round}: {outage}");
            await Eventually.MatchesAsync(() => master.DaemonsAsync(), d => d.Count == 0, TimeSpan.FromSeconds(10), _ => "keepalived outlived MultiVip");
            await master.StartAsync(VrrpArguments(master, backup, priority: master == n1 ? 250 : 240));
            (master, backup) = (backup, master);
        }

        figures.Sort();
        output.WriteLine($"VRRP kill -9 of the master, {kills} kills: median {figures[figures.Count / 2]:0} ms, worst {figures[^1]:0} ms without a new connection");
    }

    internal static string[] VrrpArguments(FailoverNetwork.Node self, FailoverNetwork.Node peer, int priority) =>
    [
        "--vip-pool", FailoverNetwork.VrrpPool, "--announce", "vrrp", "--vrrp-interface", "eth0", "--vrrp-router-id", "61",
        "--vrrp-priority", priority.ToString(System.Globalization.CultureInfo.InvariantCulture), "--vrrp-peer", peer.Address.ToString(),
    ];

    private static async Task AssertStateAsync(FailoverNetwork.Node node, string vip, string state)
    {
        using var client = node.Client();
        await Eventually.MatchesAsync(
            async () => (await client.GetDeploymentAsync("svc")).Value.Network.Single(n => n.Address == vip),
            view => view.State == state,
            TimeSpan.FromSeconds(20),
            view => $"node {node.Index} is {view.State} for {vip}, not {state}:\n{node.Output}");
    }
}
