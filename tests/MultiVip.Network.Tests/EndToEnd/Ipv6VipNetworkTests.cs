using System.Net;
using System.Net.Sockets;
using MultiVip.Contracts;
using MultiVip.DataPlane.Contract;
using MultiVip.Model.Services;
using MultiVip.TestSupport.Network;

namespace MultiVip.Network.Tests.EndToEnd;

/// <summary>IPv6 VIPs on the network: found by NDP, IPv6 clients to IPv4 backends and IPv4 clients to IPv6 backends, IPv6 ACLs and probes.</summary>
public sealed class Ipv6VipNetworkTests
{
    [Fact]
    public async Task Client_reaches_an_ipv6_vip_by_ndp_and_an_unsolicited_na_corrects_a_stale_entry()
    {
        await using var net = await VipNetwork.CreateAsync();
        net.Backend(VipNetwork.Vm1, 8080, "vm1-web");
        await net.StartServerAsync();
        using var client = net.Client();
        await client.CreateServiceAsync(new CreateServiceRequest { Name = "svc" });
        await client.AddVmAsync("svc", new AddVmRequest { Name = "vm1", Address = VipNetwork.Vm1.ToString() });
        await client.AddVirtualIpAsync("svc", new AddVirtualIpRequest { Name = "Vip6", AddressFamily = "ipv6" });
        await client.AddEndpointAsync("svc", "vm1", new EndpointRequest { Name = "web", Protocol = "tcp", LocalPort = 8080, PublicPort = 80, VirtualIpName = "Vip6" });
        var vip6 = (await client.ListVirtualIpsAsync("svc")).Single(v => v.Name == "Vip6").Address!;
        Assert.Equal(AddressFamily.InterNetworkV6, IPAddress.Parse(vip6).AddressFamily);
        Assert.Contains(await net.LbAddressesAsync(), a => a.Address.Equals(IPAddress.Parse(vip6)) && a.PrefixLength == 128 && a.Metric == VipNetwork.Metric);

        // The client believes the VIP is elsewhere; only MultiVip's neighbour advertisements can correct it.
        const string elsewhere = "02:00:00:00:00:66";
        await net.ClientNs.IpAsync("-6", "neigh", "replace", vip6, "lladdr", elsewhere, "dev", "eth0", "nud", "stale");
        var mac = await net.Lb.MacAddressAsync("eth0");
        await Eventually.MatchesAsync(
            () => net.ClientNs.NeighboursAsync("eth0"),
            entries => entries.Any(n => n.Address.Equals(IPAddress.Parse(vip6)) && n.LinkAddress == mac),
            TimeSpan.FromSeconds(10),
            entries => $"the client's entry for {vip6} is {string.Join(", ", entries.Where(n => n.Address.Equals(IPAddress.Parse(vip6))).Select(n => n.LinkAddress))}, not MultiVip's {mac}");

        // An IPv6 client reaches an IPv4 backend through the IPv6 VIP, resolving it by NDP.
        await net.ClientNs.IpAsync("-6", "neigh", "flush", "dev", "eth0");
        Assert.Equal("vm1-web", await net.HelloAsync(vip6, 80));
        Assert.Contains(await net.ClientNs.NeighboursAsync("eth0"), n => n.Address.Equals(IPAddress.Parse(vip6)) && n.LinkAddress == mac);
    }

    [Fact]
    public async Task Ipv4_clients_reach_ipv6_backends_with_an_ipv6_acl_and_a_probe()
    {
        await using var net = await VipNetwork.CreateAsync();
        net.Backend(VipNetwork.Vm1V6, 8080, "vm6-web");
        net.Backend(VipNetwork.Vm1V6, 8081, "vm6-closed");
        net.Backend(VipNetwork.Vm1V6, 8082, "vm6-open");
        await net.StartServerAsync();
        using var client = net.Client();
        await client.CreateServiceAsync(new CreateServiceRequest { Name = "svc" });
        await client.AddVmAsync("svc", new AddVmRequest { Name = "vm6", Address = VipNetwork.Vm1V6.ToString() });
        await client.AddVirtualIpAsync("svc", new AddVirtualIpRequest { Name = "Vip6", AddressFamily = "ipv6" });

        // IPv4 VIP → IPv6 backend, in a load-balanced set probed over IPv6.
        await client.AddEndpointAsync("svc", "vm6", new EndpointRequest
        {
            Name = "web", Protocol = "tcp", LocalPort = 8080, PublicPort = 80, LoadBalancedSetName = "set",
            Probe = new ProbeRequest { Protocol = "tcp", Port = 8080, IntervalInSeconds = 5, TimeoutInSeconds = 11 },
        });

        // IPv6 VIP → IPv6 backend, open only to a subnet the client is not in.
        await client.AddEndpointAsync("svc", "vm6", new EndpointRequest
        {
            Name = "closed", Protocol = "tcp", LocalPort = 8081, PublicPort = 81, VirtualIpName = "Vip6",
            Acl = [new AclRuleRequest { Order = 1, Action = "permit", RemoteSubnet = "2001:db8:ffff::/48" }],
        });
        await client.AddEndpointAsync("svc", "vm6", new EndpointRequest
        {
            Name = "open", Protocol = "tcp", LocalPort = 8082, PublicPort = 82, VirtualIpName = "Vip6",
            Acl = [new AclRuleRequest { Order = 1, Action = "permit", RemoteSubnet = "2001:db8:1::/64" }],
        });

        var vips = await client.ListVirtualIpsAsync("svc");
        var vip1 = vips.Single(v => v.Name == "Vip1").Address!;
        var vip6 = vips.Single(v => v.Name == "Vip6").Address!;
        Assert.Equal("vm6-web", await net.HelloAsync(vip1, 80));
        Assert.Equal("vm6-open", await net.HelloAsync(vip6, 82));
        await Assert.ThrowsAnyAsync<Exception>(() => net.HelloAsync(vip6, 81));

        await Eventually.MatchesAsync(
            async () => (await client.GetDeploymentAsync("svc")).Value.Health.Single(h => h.EndpointName == "web"),
            h => h.State == HealthState.Healthy,
            TimeSpan.FromSeconds(20),
            h => $"the IPv6 backend's probe state is {h.State} ({h.LastError})");

        var network = (await client.GetDeploymentAsync("svc")).Value.Network;
        Assert.Equal("IPv6", network.Single(n => n.VirtualIpName == "Vip6").AddressFamily);
        Assert.True(network.Single(n => n.VirtualIpName == "Vip6").Held);
    }
}
