using System.Net;
using System.Net.Sockets;
using MultiVip.Contracts;
using MultiVip.TestSupport.Network;

namespace MultiVip.Network.Tests.EndToEnd;

/// <summary>
/// `multivip serve --vip-interface eth0` in its own namespace, a client on the same segment in
/// another: the seed's rule "a VIP has an address only while an endpoint uses it" is visible on
/// the interface, and the client reaches every VIP by ARP.
/// </summary>
public sealed class LocalAnnouncerTests
{
    private static readonly TimeSpan RefusedWithin = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task Client_reaches_the_default_vip_and_an_extra_vip_by_arp_and_sees_multivips_mac()
    {
        await using var net = await VipNetwork.CreateAsync();
        net.Backend(VipNetwork.Vm1, 8080, "vm1-web");
        net.Backend(VipNetwork.Vm2, 8080, "vm2-web");
        await net.StartServerAsync();
        using var client = net.Client();
        await client.CreateServiceAsync(new CreateServiceRequest { Name = "myService" });
        await client.AddVmAsync("myService", new AddVmRequest { Name = "myVM1", Address = VipNetwork.Vm1.ToString() });
        await client.AddVmAsync("myService", new AddVmRequest { Name = "myVM2", Address = VipNetwork.Vm2.ToString() });
        await client.AddVirtualIpAsync("myService", new AddVirtualIpRequest { Name = "Vip2" });
        await client.AddEndpointAsync("myService", "myVM2", new EndpointRequest { Name = "web", Protocol = "tcp", LocalPort = 8080, PublicPort = 80 });
        await client.AddEndpointAsync("myService", "myVM1", new EndpointRequest { Name = "myEndpoint", Protocol = "tcp", LocalPort = 8080, PublicPort = 80, VirtualIpName = "Vip2" });

        var vips = await client.ListVirtualIpsAsync("myService");
        var vip1 = vips.Single(v => v.Name == "Vip1").Address!;
        var vip2 = vips.Single(v => v.Name == "Vip2").Address!;

        // The addresses are on MultiVip's interface as host routes with MultiVip's mark...
        var held = await net.LbAddressesAsync();
        Assert.Contains(held, a => a.Address.ToString() == vip1 && a.PrefixLength == 32 && a.Metric == VipNetwork.Metric);
        Assert.Contains(held, a => a.Address.ToString() == vip2 && a.PrefixLength == 32 && a.Metric == VipNetwork.Metric);

        // ...and the client, which knows nothing but its own /24, reaches both.
        Assert.Equal("vm2-web", await net.HelloAsync(vip1, 80));
        Assert.Equal("vm1-web", await net.HelloAsync(vip2, 80));

        var mac = await net.Lb.MacAddressAsync("eth0");
        var neighbours = await net.ClientNs.NeighboursAsync("eth0");
        Assert.Contains(neighbours, n => n.Address.ToString() == vip1 && n.LinkAddress == mac);
        Assert.Contains(neighbours, n => n.Address.ToString() == vip2 && n.LinkAddress == mac);
    }

    [Fact]
    public async Task A_new_vip_address_is_announced_by_gratuitous_arp_and_corrects_a_stale_neighbour_entry()
    {
        await using var net = await VipNetwork.CreateAsync();
        net.Backend(VipNetwork.Vm1, 8080, "vm1-web");
        await net.StartServerAsync();
        using var client = net.Client();
        await client.CreateServiceAsync(new CreateServiceRequest { Name = "svc" });
        await client.AddVmAsync("svc", new AddVmRequest { Name = "vm1", Address = VipNetwork.Vm1.ToString() });
        await client.AddVirtualIpAsync("svc", new AddVirtualIpRequest { Name = "Vip2" });
        await client.AddEndpointAsync("svc", "vm1", new EndpointRequest { Name = "web", Protocol = "tcp", LocalPort = 8080, PublicPort = 80, VirtualIpName = "Vip2" });
        var vip2 = (await client.ListVirtualIpsAsync("svc")).Single(v => v.Name == "Vip2").Address!;

        // The client believes the address lives elsewhere (the VIP just moved here, say). It sends
        // nothing to the VIP: only MultiVip's announcements, repeated for 5 s, can correct the entry.
        const string elsewhere = "02:00:00:00:00:99";
        await net.ClientNs.IpAsync("neigh", "replace", vip2, "lladdr", elsewhere, "dev", "eth0", "nud", "stale");
        var mac = await net.Lb.MacAddressAsync("eth0");
        await Eventually.MatchesAsync(
            () => net.ClientNs.NeighboursAsync("eth0"),
            entries => entries.Any(n => n.Address.ToString() == vip2 && n.LinkAddress == mac),
            TimeSpan.FromSeconds(10),
            entries => $"the client's entry for {vip2} is {string.Join(", ", entries.Where(n => n.Address.ToString() == vip2).Select(n => n.LinkAddress))}, not MultiVip's {mac}");
    }

    [Fact]
    public async Task Removing_the_last_endpoint_of_vip2_withdraws_its_address_and_the_client_can_no_longer_connect()
    {
        await using var net = await VipNetwork.CreateAsync();
        net.Backend(VipNetwork.Vm1, 8080, "vm1-web");
        await net.StartServerAsync();
        using var client = net.Client();
        await client.CreateServiceAsync(new CreateServiceRequest { Name = "svc" });
        await client.AddVmAsync("svc", new AddVmRequest { Name = "vm1", Address = VipNetwork.Vm1.ToString() });
        await client.AddVirtualIpAsync("svc", new AddVirtualIpRequest { Name = "Vip2" });
        var vip1 = (await client.ListVirtualIpsAsync("svc")).Single(v => v.Name == "Vip1").Address!;

        // Before any endpoint names it, Vip2 has no address, so nothing for it is on the interface.
        Assert.Equal([vip1], (await net.LbAddressesAsync()).Where(a => a.Metric == VipNetwork.Metric).Select(a => a.Address.ToString()));

        await client.AddEndpointAsync("svc", "vm1", new EndpointRequest { Name = "web", Protocol = "tcp", LocalPort = 8080, PublicPort = 80, VirtualIpName = "Vip2" });
        var vip2 = (await client.ListVirtualIpsAsync("svc")).Single(v => v.Name == "Vip2").Address!;
        Assert.True(await net.LbHoldsAsync(vip2));
        Assert.Equal("vm1-web", await net.HelloAsync(vip2, 80));

        await client.RemoveEndpointAsync("svc", "vm1", "web");
        Assert.Null((await client.ListVirtualIpsAsync("svc")).Single(v => v.Name == "Vip2").Address);
        await net.WaitHeldAsync(vip2, held: false);
        Assert.True(await net.LbHoldsAsync(vip1), "the default VIP must keep its address");

        var attempt = await Assert.ThrowsAnyAsync<Exception>(() => NamespaceEchoBackend.HelloAsync(net.ClientNs, new IPEndPoint(IPAddress.Parse(vip2), 80)).WaitAsync(RefusedWithin + RefusedWithin));
        Assert.True(attempt is SocketException or OperationCanceledException or TimeoutException or IOException, attempt.ToString());
    }

    [Fact]
    public async Task A_reserved_ip_is_held_exactly_while_it_backs_a_vip()
    {
        await using var net = await VipNetwork.CreateAsync();
        net.Backend(VipNetwork.Vm1, 8080, "vm1-web");
        await net.StartServerAsync();
        using var client = net.Client();
        await client.CreateServiceAsync(new CreateServiceRequest { Name = "svc" });
        await client.AddVmAsync("svc", new AddVmRequest { Name = "vm1", Address = VipNetwork.Vm1.ToString() });
        await client.AddVirtualIpAsync("svc", new AddVirtualIpRequest { Name = "Vip2" });
        await client.AddEndpointAsync("svc", "vm1", new EndpointRequest { Name = "web", Protocol = "tcp", LocalPort = 8080, PublicPort = 80, VirtualIpName = "Vip2" });
        var dynamic = (await client.ListVirtualIpsAsync("svc")).Single(v => v.Name == "Vip2").Address!;

        await client.CreateReservedIpAsync(new CreateReservedIpRequest { Name = "myReserved" });
        var reserved = (await client.GetReservedIpAsync("myReserved")).Address;
        Assert.False(await net.LbHoldsAsync(reserved), "a reserved IP that backs no VIP must not be on the network");

        await client.AssociateReservedIpAsync("myReserved", new AssociateReservedIpRequest { ServiceName = "svc", VirtualIpName = "Vip2" });
        await net.WaitHeldAsync(reserved, held: true);
        await net.WaitHeldAsync(dynamic, held: false);
        Assert.Equal("vm1-web", await net.HelloAsync(reserved, 80));

        await client.DisassociateReservedIpAsync("myReserved");
        await net.WaitHeldAsync(reserved, held: false);
        var fallback = (await client.ListVirtualIpsAsync("svc")).Single(v => v.Name == "Vip2").Address!;
        await net.WaitHeldAsync(fallback, held: true);
    }

    [Fact]
    public async Task Restart_after_kill_9_keeps_exactly_the_held_addresses_and_never_touches_a_hand_added_one()
    {
        await using var net = await VipNetwork.CreateAsync();
        net.Backend(VipNetwork.Vm1, 8080, "vm1-web");

        // An operator's own address on the same interface, inside the VIP pool's subnet, and one
        // left marked by a run that died long ago that no VIP wants any more.
        const string handAdded = "198.18.0.250";
        const string staleMarked = "198.18.0.139";
        await net.Lb.AddAddressAsync("eth0", handAdded + "/32");
        await net.Lb.AddAddressAsync("eth0", staleMarked + "/32", "metric", VipNetwork.Metric.ToString(System.Globalization.CultureInfo.InvariantCulture));

        var first = await net.StartServerAsync();
        await net.WaitHeldAsync(staleMarked, held: false);
        string vip1, vip2;
        using (var client = net.Client())
        {
            await client.CreateServiceAsync(new CreateServiceRequest { Name = "svc" });
            await client.AddVmAsync("svc", new AddVmRequest { Name = "vm1", Address = VipNetwork.Vm1.ToString() });
            await client.AddVirtualIpAsync("svc", new AddVirtualIpRequest { Name = "Vip2" });
            await client.AddVirtualIpAsync("svc", new AddVirtualIpRequest { Name = "Vip3" });
            await client.AddEndpointAsync("svc", "vm1", new EndpointRequest { Name = "web", Protocol = "tcp", LocalPort = 8080, PublicPort = 80, VirtualIpName = "Vip2" });
            var vips = await client.ListVirtualIpsAsync("svc");
            vip1 = vips.Single(v => v.Name == "Vip1").Address!;
            vip2 = vips.Single(v => v.Name == "Vip2").Address!;
        }

        var before = await MarkedAsync(net);
        Assert.Equal(new[] { vip1, vip2 }.Order(), before);

        first.Kill();
        Assert.Equal(before, await MarkedAsync(net)); // kill -9 runs no code: the addresses stay

        await net.StartServerAsync();
        using (var client = net.Client())
        {
            Assert.Equal("vm1-web", await net.HelloAsync(vip2, 80));
            Assert.Equal(before, await MarkedAsync(net));
            Assert.True(await net.LbHoldsAsync(handAdded), "the hand-added address was removed");

            // Changes after the restart still never touch it, nor does the orderly stop.
            await client.RemoveEndpointAsync("svc", "vm1", "web");
            await net.WaitHeldAsync(vip2, held: false);
        }

        net.Server!.Terminate();
        Assert.Equal(0, await net.Server.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Empty(await MarkedAsync(net));
        Assert.True(await net.LbHoldsAsync(handAdded), "the hand-added address was removed at shutdown");
    }

    [Fact]
    public async Task An_address_removed_by_someone_else_is_restored()
    {
        await using var net = await VipNetwork.CreateAsync();
        await net.StartServerAsync();
        using var client = net.Client();
        await client.CreateServiceAsync(new CreateServiceRequest { Name = "svc" });
        await client.AddVmAsync("svc", new AddVmRequest { Name = "vm1", Address = VipNetwork.Vm1.ToString() });
        var vip1 = (await client.ListVirtualIpsAsync("svc")).Single().Address!;
        Assert.True(await net.LbHoldsAsync(vip1));

        await net.Lb.IpAsync("addr", "del", vip1 + "/32", "dev", "eth0");
        await net.WaitHeldAsync(vip1, held: true); // the periodic check (every 10 s) puts it back
    }

    [Fact]
    public async Task Sigterm_withdraws_the_addresses_only_after_connections_drained()
    {
        await using var net = await VipNetwork.CreateAsync();
        net.Backend(VipNetwork.Vm1, 8080, "vm1-web");
        var server = await net.StartServerAsync();
        string vip1;
        using (var client = net.Client())
        {
            await client.CreateServiceAsync(new CreateServiceRequest { Name = "svc" });
            await client.AddVmAsync("svc", new AddVmRequest { Name = "vm1", Address = VipNetwork.Vm1.ToString() });
            await client.AddEndpointAsync("svc", "vm1", new EndpointRequest { Name = "web", Protocol = "tcp", LocalPort = 8080, PublicPort = 80 });
            vip1 = (await client.ListVirtualIpsAsync("svc")).Single().Address!;
        }

        using var established = await net.ClientNs.ConnectAsync(new IPEndPoint(IPAddress.Parse(vip1), 80), TimeSpan.FromSeconds(5));
        await using var stream = new NetworkStream(established, ownsSocket: false);
        using var reader = new StreamReader(stream, System.Text.Encoding.ASCII);
        Assert.Equal("vm1-web", await reader.ReadLineAsync());

        server.Terminate();
        await server.WaitForOutputAsync("draining connections", TimeSpan.FromSeconds(10));

        // While the connection drains, its address stays and the connection works.
        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes("still here\n"));
        Assert.Equal("still here", await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.True(await net.LbHoldsAsync(vip1), "the address was withdrawn while a connection was draining");

        established.Shutdown(SocketShutdown.Both);
        Assert.Equal(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.False(await net.LbHoldsAsync(vip1), "SIGTERM left the address on the interface");
    }

    [Fact]
    public async Task Without_cap_net_admin_vip_interface_refuses_to_start_with_a_sentence()
    {
        await using var net = await VipNetwork.CreateAsync();
        var cli = Path.Combine(AppContext.BaseDirectory, "multivip.dll");
        var run = await net.Lb.ExecAsync(
            "setpriv", "--bounding-set", "-net_admin", "--",
            "dotnet", cli, "serve", "--data-dir", net.DataDir, "--api", "http://127.0.0.1:0", "--dns", "off",
            "--vip-pool", VipNetwork.Ipv4Pool, "--vip-interface", "eth0");
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("--vip-interface eth0 needs the CAP_NET_ADMIN and CAP_NET_RAW capabilities", run.StandardError, StringComparison.Ordinal);
        Assert.Contains("lacks CAP_NET_ADMIN", run.StandardError, StringComparison.Ordinal);
    }

    private static async Task<IReadOnlyList<string>> MarkedAsync(VipNetwork net) =>
        [.. (await net.LbAddressesAsync()).Where(a => a.Metric == VipNetwork.Metric).Select(a => a.Address.ToString()).Order()];
}
