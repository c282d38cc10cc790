using MultiVip.Contracts;
using MultiVip.TestSupport.Network;

namespace MultiVip.Network.Tests.EndToEnd;

/// <summary>
/// The seed's walk-through with MultiVip on its own host and the client on another: every VIP is
/// reached by ARP, and "a VIP has an address only while an endpoint uses it" is visible on the interface.
/// </summary>
public sealed class SeedWalkthroughOnTheNetworkTests
{
    [Fact]
    public async Task Every_vip_of_the_walkthrough_is_reached_from_another_host_and_holds_an_address_only_while_used()
    {
        await using var net = await VipNetwork.CreateAsync();
        net.Backend(VipNetwork.Vm1, 8080, "myVM1-8080");
        net.Backend(VipNetwork.Vm1, 8181, "myVM1-8181");
        net.Backend(VipNetwork.Vm2, 8181, "myVM2-8181");
        await net.StartServerAsync();
        using var client = net.Client();

        await client.CreateServiceAsync(new CreateServiceRequest { Name = "myService" });
        await client.AddVmAsync("myService", new AddVmRequest { Name = "myVM1", Address = VipNetwork.Vm1.ToString() });
        await client.AddVmAsync("myService", new AddVmRequest { Name = "myVM2", Address = VipNetwork.Vm2.ToString() });
        await client.AddVirtualIpAsync("myService", new AddVirtualIpRequest { Name = "Vip2" });
        await client.AddVirtualIpAsync("myService", new AddVirtualIpRequest { Name = "Vip3" });

        // Only the default VIP has an address, so only it is on the interface.
        var vip1 = (await client.ListVirtualIpsAsync("myService")).Single(v => v.Name == "Vip1").Address!;
        Assert.Equal([vip1], await MarkedAsync(net));

        await client.AddEndpointAsync("myService", "myVM1", new EndpointRequest { Name = "myEndpoint", Protocol = "tcp", LocalPort = 8080, PublicPort = 80, VirtualIpName = "Vip2" });
        var vip2 = (await client.ListVirtualIpsAsync("myService")).Single(v => v.Name == "Vip2").Address!;
        Assert.Equal(new[] { vip1, vip2 }.Order(), await MarkedAsync(net));
        Assert.Equal("myVM1-8080", await net.HelloAsync(vip2, 80));

        foreach (var vm in new[] { "myVM1", "myVM2" })
        {
            await client.AddEndpointAsync("myService", vm, new EndpointRequest
            {
                Name = "myLBEndpoint", Protocol = "tcp", LocalPort = 8181, PublicPort = 81, VirtualIpName = "Vip2",
                LoadBalancedSetName = "myLBSet", DefaultProbe = true,
            });
        }

        Assert.StartsWith("myVM", await net.HelloAsync(vip2, 81), StringComparison.Ordinal);

        // Moving the set to Vip1: Vip2 keeps its address for myEndpoint, Vip1 now carries port 81.
        await client.SetLoadBalancedSetAsync("myService", "myLBSet", new SetLoadBalancedSetRequest { VirtualIpName = "Vip1" });
        Assert.StartsWith("myVM", await net.HelloAsync(vip1, 81), StringComparison.Ordinal);
        Assert.Equal(new[] { vip1, vip2 }.Order(), await MarkedAsync(net));

        await client.RemoveVirtualIpAsync("myService", "Vip3");
        Assert.Equal(new[] { vip1, vip2 }.Order(), await MarkedAsync(net));

        // The client found every VIP by ARP: its neighbour table maps them to MultiVip's MAC.
        var mac = await net.Lb.MacAddressAsync("eth0");
        var neighbours = await net.ClientNs.NeighboursAsync("eth0");
        Assert.All(new[] { vip1, vip2 }, vip => Assert.Contains(neighbours, n => n.Address.ToString() == vip && n.LinkAddress == mac));
    }

    private static async Task<IReadOnlyList<string>> MarkedAsync(VipNetwork net) =>
        [.. (await net.LbAddressesAsync()).Where(a => a.Metric == VipNetwork.Metric).Select(a => a.Address.ToString()).Order()];
}
