using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MultiVip.TestSupport.Network;
using MultiVip.TestSupport.Postgres;
using Xunit.Abstractions;

namespace MultiVip.Network.Tests.Failover;

/// <summary>
/// `--announce bgp` with real BIRD on both nodes and in a router namespace (ECMP, `merge paths`):
/// both nodes announce the VIP, the router spreads flows over them, the same client 5-tuple reaches
/// the same backend through either node, and when a node disappears its route goes — after the hold
/// time (3 s here), or within a second with BFD — while connections through the other node carry on.
/// A VIP whose backends are all unhealthy is withdrawn by every node. The first test runs both nodes
/// on one PostgreSQL (the cluster as operators run it: configured once, through either node); the
/// others give each node its own data dir and the same configuration through both APIs.
/// </summary>
public sealed class BgpFailoverTests(ITestOutputHelper output)
{
    private const int HoldTime = 3;

    [Fact]
    public async Task A_lost_node_is_withdrawn_after_the_hold_time_and_flows_through_the_other_node_carry_on()
    {
        await using var pg = await PostgresServer.StartAsync();
        var store = pg.SocketConnectionString(await pg.CreateDatabaseAsync());
        await using var net = await FailoverNetwork.CreateAsync(router: true);
        var backends = new[] { net.Backend(FailoverNetwork.Vm1, 8080, "vm1"), net.Backend(FailoverNetwork.Vm2, 8080, "vm2") };
        var vip = await StartAsync(net, bfd: false, store: store);

        // The same client 5-tuple reaches the same backend through either node: one Maglev table, one hash.
        await SameBackendThroughEachNodeAsync(net, vip);

        var lost = await LoseNodeAsync(net, vip, "hold time " + HoldTime + " s");
        Assert.True(lost.LastFailure <= TimeSpan.FromSeconds(HoldTime + 5), $"new connections still failed {lost.LastFailure.TotalMilliseconds:0} ms after the node was lost (bound: hold time {HoldTime} s + 5 s)");

        // Every backend unhealthy: node 2 withdraws the VIP, the router has no route for it any more.
        foreach (var backend in backends)
        {
            await net.StopBackendAsync(backend);
        }

        var clock = Stopwatch.StartNew();
        await Eventually.MatchesAsync(() => net.RouterNextHopsAsync(vip + "/32"), hops => hops.Count == 0, TimeSpan.FromSeconds(60), hops => $"the router still routes {vip} via {string.Join(", ", hops)} with every backend down:\n{net.Nodes[1].Output}");
        output.WriteLine($"BGP: every backend unhealthy -> route withdrawn after {clock.Elapsed.TotalMilliseconds:0} ms (probe interval 5 s)");
        // The router hears the withdrawal when BIRD takes its new configuration; the node records it when
        // `birdc configure` has returned to it, so its view can follow the router's by that round trip.
        using var client = net.Nodes[1].Client();
        var state = await Eventually.MatchesAsync(
            async () => (await client.GetDeploymentAsync("svc")).Value.Network.Single(n => n.Address == vip).State,
            s => s == "withdrawn", TimeSpan.FromSeconds(10), s => $"node 2 still shows {vip} as {s} after the router withdrew it:\n{net.Nodes[1].Output}");
        Assert.Equal("withdrawn", state);
    }

    [Fact]
    public async Task With_bfd_a_lost_node_is_withdrawn_within_about_a_second()
    {
        await using var net = await FailoverNetwork.CreateAsync(router: true);
        net.Backend(FailoverNetwork.Vm1, 8080, "vm1");
        net.Backend(FailoverNetwork.Vm2, 8080, "vm2");
        var vip = await StartAsync(net, bfd: true);
        var lost = await LoseNodeAsync(net, vip, "BFD 100 ms x 3");
        Assert.True(lost.LastFailure <= TimeSpan.FromSeconds(3), $"new connections still failed {lost.LastFailure.TotalMilliseconds:0} ms after the node was lost, with BFD (requirement ~1 s, bound 3 s)");
    }

    [Fact]
    public async Task Kill_9_of_multivip_stops_its_bird_and_the_router_withdraws_at_once()
    {
        await using var net = await FailoverNetwork.CreateAsync(router: true);
        net.Backend(FailoverNetwork.Vm1, 8080, "vm1");
        net.Backend(FailoverNetwork.Vm2, 8080, "vm2");
        var vip = await StartAsync(net, bfd: false, holdTime: 90);
        var victim = net.Nodes[0];
        Assert.NotEmpty(await victim.DaemonsAsync());
        var clock = Stopwatch.StartNew();
        victim.Server!.Kill();
        await Eventually.MatchesAsync(() => victim.DaemonsAsync(), d => d.Count == 0, TimeSpan.FromSeconds(10), d => "BIRD outlived MultiVip");
        var birdGone = clock.Elapsed;
        var outage = await FailoverNetwork.MeasureOutageAsync(net.RoutedClient!, new IPEndPoint(IPAddress.Parse(vip), 80), TimeSpan.FromSeconds(30), clock, async () => (await net.RouterNextHopsAsync(vip + "/32")).SequenceEqual(["198.18.0.2"]));
        output.WriteLine($"BGP kill -9 of MultiVip (hold time 90 s): its BIRD gone after {birdGone.TotalMilliseconds:0} ms, route withdrawn and {outage}");
        Assert.True(outage.Recovered, $"the router kept the dead node's route ({outage})");

        // Well within the 90 s hold time: BIRD closed its session when the watchdog stopped it.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"withdrawn only after {clock.Elapsed.TotalSeconds:0} s");
    }

    private async Task<string> StartAsync(FailoverNetwork net, bool bfd, int holdTime = HoldTime, string? store = null)
    {
        await net.StartRouterAsync(holdTime, bfd);
        string? vip = null;
        foreach (var node in net.Nodes)
        {
            if (store is not null && node != net.Nodes[0])
            {
                // One state, one API token: node 1's, given to the others before their first start.
                Directory.CreateDirectory(node.DataDir);
                File.Copy(Path.Combine(net.Nodes[0].DataDir, "token"), Path.Combine(node.DataDir, "token"), overwrite: true);
            }

            await node.StartAsync([
                .. store is null ? Array.Empty<string>() : ["--store", store],
                "--vip-pool", FailoverNetwork.BgpPool, "--announce", "bgp", "--bgp-asn", "65001", "--bgp-peer", "198.18.0.254:65000",
                "--node-name", $"bgp-n{node.Index}", "--bgp-router-id", node.Address.ToString(), "--bgp-hold-time", holdTime.ToString(CultureInfo.InvariantCulture), .. bfd ? new[] { "--bgp-bfd" } : [],
            ]);
            using var client = node.Client();
            if (store is null || node == net.Nodes[0])
            {
                await FailoverNetwork.ConfigureAsync(client);
            }

            // On one state the other node serves what node 1 configured, once its feed has caught up.
            var address = (await Eventually.MatchesAsync(
                async () =>
                {
                    try
                    {
                        return (await client.ListVirtualIpsAsync("svc")).SingleOrDefault(v => v.Name == "Vip1");
                    }
                    catch (MultiVip.Client.MultiVipApiException)
                    {
                        return null; // the service is not there yet
                    }
                },
                v => v?.Address is not null,
                TimeSpan.FromSeconds(30),
                _ => $"node {node.Index} does not serve Vip1:\n{node.Output}"))!.Address!;
            Assert.True(vip is null || vip == address, "both nodes must give the VIP the same address");
            vip = address;
        }

        await Eventually.MatchesAsync(
            () => net.RouterNextHopsAsync(vip + "/32"),
            hops => hops.Order().SequenceEqual(["198.18.0.1", "198.18.0.2"]),
            TimeSpan.FromSeconds(60),
            hops => $"the router's ECMP route for {vip} is via [{string.Join(", ", hops)}], not both nodes.\nnode 1:\n{net.Nodes[0].Output}\nrouter:\n{net.RouterBird?.Output}");
        foreach (var node in net.Nodes)
        {
            using var client = node.Client();

            // The router may still hold a route the node is withdrawing for a moment (a probe that timed
            // out on a loaded machine takes the last healthy backend out, then back): wait for the
            // node's own view to say announced.
            var view = await Eventually.MatchesAsync(
                async () => (await client.GetDeploymentAsync("svc")).Value.Network.Single(n => n.Address == vip),
                v => v.State == "announced",
                TimeSpan.FromSeconds(30),
                v => $"node {node.Address} says {v.State} for {vip}:\n{node.Output}");
            Assert.Equal($"bgp-n{node.Index}", view.Node); // named by --node-name, not by its router id
        }

        return vip!;
    }

    /// <summary>
    /// The client on the nodes' segment sends the same 5-tuple (fixed source port) once via node 1 and
    /// once via node 2 (a host route for the VIP); both must reach the same backend.
    /// </summary>
    private async Task SameBackendThroughEachNodeAsync(FailoverNetwork net, string vip)
    {
        var seen = new HashSet<string>();
        for (var port = 40001; port <= 40012; port++)
        {
            var greetings = new List<string>();
            foreach (var node in net.Nodes)
            {
                await net.ClientNs.IpAsync("route", "replace", vip + "/32", "via", node.Address.ToString());
                greetings.Add(await HelloFromPortAsync(net.ClientNs, new IPEndPoint(IPAddress.Parse("198.18.0.9"), port), new IPEndPoint(IPAddress.Parse(vip), 80)));
            }

            Assert.True(greetings[0] == greetings[1], $"source port {port}: node 1 sent the flow to {greetings[0]}, node 2 to {greetings[1]}");
            seen.Add(greetings[0]);
        }

        await net.ClientNs.IpAsync("route", "del", vip + "/32");
        output.WriteLine($"same 5-tuple through each node: 12 of 12 tuples reached the same backend on both nodes (backends seen: {string.Join(", ", seen.Order())})");
    }

    private static async Task<string> HelloFromPortAsync(NetworkNamespace ns, IPEndPoint local, IPEndPoint remote)
    {
        using var socket = ns.OpenSocket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);

        // Closed with a reset (no TIME_WAIT), so the same 4-tuple can be used again right away.
        socket.LingerState = new LingerOption(true, 0);
        socket.Bind(local);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await socket.ConnectAsync(remote, timeout.Token);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        using var reader = new StreamReader(stream, Encoding.ASCII);
        return await reader.ReadLineAsync(timeout.Token) ?? throw new IOException("closed before the greeting");
    }

    /// <summary>
    /// Node 1 disappears without a word (its link goes down, then its MultiVip is killed): the router
    /// notices only by the hold timer or BFD. Connections established through node 2 must not notice.
    /// </summary>
    private async Task<FailoverNetwork.Outage> LoseNodeAsync(FailoverNetwork net, string vip, string detection)
    {
        var endPoint = new IPEndPoint(IPAddress.Parse(vip), 80);
        var (victim, survivor) = (net.Nodes[0], net.Nodes[1]);

        // Long-lived connections from the routed client; ECMP spreads them by port over both nodes.
        var established = new List<(Socket Socket, StreamReader Reader, int Port)>();
        for (var i = 0; i < 16; i++)
        {
            var socket = await net.RoutedClient!.ConnectAsync(endPoint, TimeSpan.FromSeconds(5));
            var reader = new StreamReader(new NetworkStream(socket, ownsSocket: false), Encoding.ASCII);
            await reader.ReadLineAsync();
            established.Add((socket, reader, ((IPEndPoint)socket.LocalEndPoint!).Port));
        }

        var onSurvivor = await survivor.ClientPortsOnPort80Async();
        var throughSurvivor = established.Where(c => onSurvivor.Contains(c.Port)).ToList();
        Assert.True(throughSurvivor.Count > 0, $"ECMP put none of {established.Count} connections on node 2");
        output.WriteLine($"{established.Count} established connections, {throughSurvivor.Count} through node 2");

        var clock = Stopwatch.StartNew();
        await victim.Ns.IpAsync("link", "set", "eth0", "down");
        victim.Server!.Kill();
        var outage = await FailoverNetwork.MeasureOutageAsync(net.RoutedClient!, endPoint, TimeSpan.FromSeconds(HoldTime + 30), clock, async () => (await net.RouterNextHopsAsync(vip + "/32")).SequenceEqual([survivor.Address.ToString()]));
        output.WriteLine($"BGP node lost ({detection}): route withdrawn after {clock.Elapsed.TotalMilliseconds:0} ms; {outage}");
        Assert.True(outage.Recovered, $"the router kept the lost node's route ({outage}):\n{net.RouterBird?.Output}");

        // Not interrupted: each connection through node 2 still echoes.
        foreach (var (socket, reader, port) in throughSurvivor)
        {
            await socket.SendAsync(Encoding.ASCII.GetBytes("still-there\n"));
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            Assert.Equal("still-there", await reader.ReadLineAsync(timeout.Token));
        }

        foreach (var (socket, reader, _) in established)
        {
            reader.Dispose();
            socket.Dispose();
        }

        return outage;
    }
}
