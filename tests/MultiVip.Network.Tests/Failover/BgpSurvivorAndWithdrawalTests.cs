using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MultiVip.TestSupport.Network;
using Xunit.Abstractions;

namespace MultiVip.Network.Tests.Failover;

/// <summary>
/// Issue 15's BGP behaviours that BgpFailoverTests checks only at one moment: a stream through the
/// surviving node keeps flowing all the way through another node's kill -9 and the router's
/// withdrawal (not just "still answers afterwards"), and a VIP whose backends are all unhealthy
/// leaves the router's table on every node — and comes back when a backend does. Only states are
/// awaited, each with a generous deadline; nothing here asserts how fast (bench/failover measures that).
/// </summary>
public sealed class BgpSurvivorAndWithdrawalTests(ITestOutputHelper output)
{
    private const int HoldTime = 3;

    // Probes every 5 s with a failure threshold: the existing test sees 26-30 s to withdraw on an idle
    // machine; 120 s leaves room for a loaded CI machine without hiding a route that never goes.
    private static readonly TimeSpan HealthDeadline = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task A_stream_through_the_surviving_node_keeps_flowing_while_the_other_node_is_killed()
    {
        await using var net = await FailoverNetwork.CreateAsync(router: true);
        net.Backend(FailoverNetwork.Vm1, 8080, "vm1");
        net.Backend(FailoverNetwork.Vm2, 8080, "vm2");
        var vip = await StartBothAsync(net);
        var (victim, survivor) = (net.Nodes[0], net.Nodes[1]);
        var endPoint = new IPEndPoint(IPAddress.Parse(vip), 80);

        // A long-lived connection that ECMP put on the survivor (the router hashes on ports: a few tries).
        var (socket, reader) = await ConnectThroughAsync(net, survivor, endPoint);
        using var ownedSocket = socket;
        using var ownedReader = reader;
        using var stop = new CancellationTokenSource();
        var stream = new EchoStream(socket, reader);
        var pump = Task.Run(() => stream.RunAsync(stop.Token));
        await Eventually.TrueAsync(() => Task.FromResult(stream.Echoed >= 10 || pump.IsCompleted), TimeSpan.FromSeconds(30), () => "the stream through node 2 never got going");
        var beforeKill = stream.Echoed;

        var clock = Stopwatch.StartNew();
        victim.Server!.Kill();
        await Eventually.MatchesAsync(
            () => net.RouterNextHopsAsync(vip + "/32"),
            hops => hops.SequenceEqual([survivor.Address.ToString()]) || pump.IsCompleted,
            TimeSpan.FromSeconds(30),
            hops => $"the router still routes {vip} via [{string.Join(", ", hops)}] after kill -9 of node 1:\n{net.RouterBird?.Output}");
        var atWithdrawal = stream.Echoed;
        var withdrawnAfter = clock.Elapsed;

        // Past the router's rehash: the stream must go on well after the route changed.
        await Eventually.TrueAsync(() => Task.FromResult(stream.Echoed >= atWithdrawal + 50 || pump.IsCompleted), TimeSpan.FromSeconds(60), () => $"the stream stalled at {stream.Echoed} round trips");
        await stop.CancelAsync();
        var error = await pump;
        output.WriteLine($"node 1 killed; route via node 1 gone after {withdrawnAfter.TotalMilliseconds:0} ms; the stream through node 2 echoed {beforeKill} round trips before, {atWithdrawal - beforeKill} during, {stream.Echoed - atWithdrawal} after");
        Assert.True(error is null, $"the stream through node 2 broke after {stream.Echoed} round trips ({beforeKill} before the kill of node 1): {error}");
        Assert.True(atWithdrawal > beforeKill || stream.Echoed > atWithdrawal, "the stream did not flow across the failover");

        // And the survivor still takes new connections (the router sends every flow to it now).
        Assert.StartsWith("vm", await NamespaceEchoBackend.HelloAsync(net.RoutedClient!, endPoint), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_vip_whose_backends_are_all_unhealthy_leaves_the_router_and_returns_with_a_backend()
    {
        await using var net = await FailoverNetwork.CreateAsync(router: true);
        var vm1 = net.Backend(FailoverNetwork.Vm1, 8080, "vm1");
        var vm2 = net.Backend(FailoverNetwork.Vm2, 8080, "vm2");
        var vip = await StartBothAsync(net);
        var endPoint = new IPEndPoint(IPAddress.Parse(vip), 80);

        await net.StopBackendAsync(vm1);
        await net.StopBackendAsync(vm2);
        var clock = Stopwatch.StartNew();
        await Eventually.MatchesAsync(
            () => net.RouterNextHopsAsync(vip + "/32"),
            hops => hops.Count == 0,
            HealthDeadline,
            hops => $"the router still routes {vip} via [{string.Join(", ", hops)}] with every backend down:\n{net.Nodes[0].Output}");
        output.WriteLine($"every backend down: route gone from the router after {clock.Elapsed.TotalMilliseconds:0} ms");
        foreach (var node in net.Nodes)
        {
            await StateAsync(node, vip, "withdrawn", HealthDeadline);
        }

        // The router has no route for the VIP now: the client's new connections fail there.
        await Eventually.TrueAsync(async () => !await ConnectsAsync(net.RoutedClient!, endPoint), TimeSpan.FromSeconds(30), () => $"{vip} still accepted connections with no route for it");

        // One backend back: every node announces again and the router has both next hops.
        clock.Restart();
        net.Backend(FailoverNetwork.Vm1, 8080, "vm1");
        await Eventually.MatchesAsync(
            () => net.RouterNextHopsAsync(vip + "/32"),
            hops => hops.Order().SequenceEqual(["198.18.0.1", "198.18.0.2"]),
            HealthDeadline,
            hops => $"the router's route for {vip} is via [{string.Join(", ", hops)}] after vm1 came back, not both nodes:\n{net.Nodes[0].Output}");
        output.WriteLine($"vm1 back: route via both nodes again after {clock.Elapsed.TotalMilliseconds:0} ms");
        foreach (var node in net.Nodes)
        {
            await StateAsync(node, vip, "announced", HealthDeadline);
        }

        Assert.Equal("vm1", await Eventually.MatchesAsync(() => HelloOrNullAsync(net.RoutedClient!, endPoint), h => h is not null, TimeSpan.FromSeconds(30), _ => $"{vip} is routed again but does not answer"));
    }

    /// <summary>Router with hold time 3 s, both nodes announcing the VIP, both nodes saying so.</summary>
    private static async Task<string> StartBothAsync(FailoverNetwork net)
    {
        await net.StartRouterAsync(HoldTime, bfd: false);
        string? vip = null;
        foreach (var node in net.Nodes)
        {
            await node.StartAsync([
                "--vip-pool", FailoverNetwork.BgpPool, "--announce", "bgp", "--bgp-asn", "65001", "--bgp-peer", "198.18.0.254:65000",
                "--bgp-router-id", node.Address.ToString(), "--bgp-hold-time", HoldTime.ToString(CultureInfo.InvariantCulture),
            ]);
            using var client = node.Client();
            await FailoverNetwork.ConfigureAsync(client);
            var address = (await client.ListVirtualIpsAsync("svc")).Single(v => v.Name == "Vip1").Address!;
            Assert.True(vip is null || vip == address, "both nodes must give the VIP the same address");
            vip = address;
        }

        await Eventually.MatchesAsync(
            () => net.RouterNextHopsAsync(vip + "/32"),
            hops => hops.Order().SequenceEqual(["198.18.0.1", "198.18.0.2"]),
            TimeSpan.FromSeconds(60),
            hops => $"the router's ECMP route for {vip} is via [{string.Join(", ", hops)}], not both nodes:\n{net.RouterBird?.Output}");
        foreach (var node in net.Nodes)
        {
            await StateAsync(node, vip!, "announced", TimeSpan.FromSeconds(30));
        }

        return vip!;
    }

    private static async Task StateAsync(FailoverNetwork.Node node, string vip, string state, TimeSpan within)
    {
        using var client = node.Client();
        await Eventually.MatchesAsync(
            async () => (await client.GetDeploymentAsync("svc")).Value.Network.Single(n => n.Address == vip),
            view => view.State == state,
            within,
            view => $"node {node.Index} says {view.State} for {vip}, not {state}:\n{node.Output}");
    }

    /// <summary>A connection from the routed client that ECMP put on <paramref name="node"/> (seen in its `ss`); the others are closed.</summary>
    private static async Task<(Socket Socket, StreamReader Reader)> ConnectThroughAsync(FailoverNetwork net, FailoverNetwork.Node node, IPEndPoint endPoint)
    {
        for (var attempt = 0; attempt < 32; attempt++)
        {
            var socket = await net.RoutedClient!.ConnectAsync(endPoint, TimeSpan.FromSeconds(5));
            var reader = new StreamReader(new NetworkStream(socket, ownsSocket: false), Encoding.ASCII);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await reader.ReadLineAsync(timeout.Token);
            var port = ((IPEndPoint)socket.LocalEndPoint!).Port;
            if ((await node.ClientPortsOnPort80Async()).Contains(port))
            {
                return (socket, reader);
            }

            reader.Dispose();
            socket.Dispose();
        }

        throw new InvalidOperationException($"ECMP put none of 32 connections on node {node.Index}");
    }

    private static async Task<bool> ConnectsAsync(NetworkNamespace ns, IPEndPoint endPoint) => await HelloOrNullAsync(ns, endPoint) is not null;

    private static async Task<string?> HelloOrNullAsync(NetworkNamespace ns, IPEndPoint endPoint)
    {
        try
        {
            return await NamespaceEchoBackend.HelloAsync(ns, endPoint);
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>Round trips on one connection, one after another, until stopped; the first error ends it.</summary>
    private sealed class EchoStream(Socket socket, StreamReader reader)
    {
        private int _echoed;

        public int Echoed => Volatile.Read(ref _echoed);

        public async Task<Exception?> RunAsync(CancellationToken stop)
        {
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    var tick = $"tick-{_echoed + 1}";
                    await socket.SendAsync(Encoding.ASCII.GetBytes(tick + "\n"));

                    // Not a speed bound: a round trip on a live connection that takes 10 s means it is gone.
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    var echo = await reader.ReadLineAsync(timeout.Token);
                    if (echo != tick)
                    {
                        return new IOException($"sent {tick}, got {echo ?? "end of stream"}");
                    }

                    Interlocked.Increment(ref _echoed);
                    await Task.Delay(20, CancellationToken.None);
                }

                return null;
            }
            catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
            {
                return e;
            }
        }
    }
}
