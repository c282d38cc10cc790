using System.Net;
using System.Net.Sockets;
using MultiVip.Contracts;
using MultiVip.Model.Services;
using MultiVip.TestSupport.Network;

namespace MultiVip.Network.Tests.Kernel;

/// <summary>
/// The kernel plane on an IPv6 VIP (2001:db8::/32 inside the test's namespaces): the same client, node
/// and backends as <see cref="KernelNetwork"/> with IPv6 beside IPv4 on every link; the node forwards
/// IPv6 and the VIP pool has an IPv6 range.
/// </summary>
public sealed class KernelIpv6Tests
{
    private const string Pool6 = "2001:db8:100::10-2001:db8:100::40";
    private static readonly IPAddress Client6 = IPAddress.Parse("2001:db8:18::2");
    private static readonly IPAddress Node6BackendSide = IPAddress.Parse("2001:db8:2::1");
    private static readonly IPAddress Vm1 = IPAddress.Parse("2001:db8:2::11");
    private static readonly IPAddress Vm2 = IPAddress.Parse("2001:db8:2::12");
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(45);

    [Fact]
    public async Task An_ipv6_vip_carries_tcp_and_udp_to_a_set_of_two_and_fails_over_on_a_probe()
    {
        await using var net = await KernelNetwork.CreateAsync();
        await AddIpv6Async(net);
        net.Tcp(Vm1, 8080, "vm1");
        var vm2 = net.Tcp(Vm2, 8080, "vm2");
        net.Udp(Vm1, 5353, "vm1-udp");
        net.Udp(Vm2, 5353, "vm2-udp");
        await net.StartServerAsync("--vip-pool", Pool6);
        using var client = net.Client();
        await client.CreateServiceAsync(new CreateServiceRequest { Name = "svc" });
        await client.AddVmAsync("svc", new AddVmRequest { Name = "vm1", Address = Vm1.ToString() });
        await client.AddVmAsync("svc", new AddVmRequest { Name = "vm2", Address = Vm2.ToString() });
        await client.AddVirtualIpAsync("svc", new AddVirtualIpRequest { Name = "v6", AddressFamily = "IPv6" });
        var probe = new ProbeRequest { Protocol = "tcp", Port = 8080, IntervalInSeconds = 5, TimeoutInSeconds = 11 };
        foreach (var vm in new[] { "vm1", "vm2" })
        {
            await client.AddEndpointAsync("svc", vm, new EndpointRequest { Name = "web", Protocol = "tcp", LocalPort = 8080, PublicPort = 80, VirtualIpName = "v6", LoadBalancedSetName = "web", Probe = probe });
            await client.AddEndpointAsync("svc", vm, new EndpointRequest { Name = "dns", Protocol = "udp", LocalPort = 5353, PublicPort = 53, VirtualIpName = "v6", LoadBalancedSetName = "dns", Probe = probe });
        }

        var vip = IPAddress.Parse((await client.GetDeploymentAsync("svc")).Value.VirtualIps.Single(v => v.Name == "v6").Address!);
        Assert.Equal(AddressFamily.InterNetworkV6, vip.AddressFamily);
        var table = await net.NftAsync("list", "table", "inet", "multivip");
        Assert.Contains($"{vip} . tcp . 80 : goto lb-", table, StringComparison.Ordinal);
        Assert.Contains("jhash ip6 saddr . ip6 daddr . meta l4proto . tcp sport . tcp dport mod 5003", table, StringComparison.Ordinal);

        // TCP: both members answer (flows spread by the 5-tuple), through the node's IPv6 address (masquerade).
        var web = new IPEndPoint(vip, 80);
        var seen = new HashSet<string>();
        for (var i = 0; i < 24; i++)
        {
            var answer = await net.AskTcpAsync(web);
            Assert.Equal(Node6BackendSide, answer.Remote.Address);
            seen.Add(answer.Name);
        }

        Assert.Equal(["vm1", "vm2"], seen.Order());

        // UDP: answers come from the VIP, from both members over a few client sockets.
        var udpSeen = new HashSet<string>();
        for (var i = 0; i < 16; i++)
        {
            var answer = await AskUdpAsync(net, new IPEndPoint(vip, 53));
            Assert.Equal(new IPEndPoint(vip, 53), answer.From);
            udpSeen.Add(answer.Name);
        }

        Assert.Equal(["vm1-udp", "vm2-udp"], udpSeen.Order());

        // vm2's probe port closes: both listeners move to vm1 alone.
        await vm2.DisposeAsync();
        await Eventually.TrueAsync(
            async () => (await client.GetDeploymentAsync("svc")).Value.Health.Count(h => h.VmName == "vm2" && h.State == HealthState.Unhealthy) == 2,
            Deadline,
            () => "vm2 never left rotation:\n" + net.Server!.Output);
        await Eventually.TrueAsync(
            async () =>
            {
                for (var i = 0; i < 8; i++)
                {
                    if ((await net.AskTcpAsync(web)).Name != "vm1" || (await AskUdpAsync(net, new IPEndPoint(vip, 53))).Name != "vm1-udp")
                    {
                        return false;
                    }
                }

                return true;
            },
            Deadline,
            () => "the IPv6 listeners still route to vm2:\n" + net.Server!.Output);
    }

    /// <summary>IPv6 beside IPv4 on the client–node and node–backends links; the node forwards IPv6.</summary>
    private static async Task AddIpv6Async(KernelNetwork net)
    {
        net.Node.SetSysctl("net/ipv6/conf/all/forwarding", "1");
        await net.ClientNs.IpAsync("-6", "addr", "add", "2001:db8:18::2/64", "dev", "eth0", "nodad");
        await net.ClientNs.IpAsync("-6", "route", "add", "2001:db8:100::/64", "via", "2001:db8:18::1");
        await net.Node.IpAsync("-6", "addr", "add", "2001:db8:18::1/64", "dev", "eth0", "nodad");
        await net.Node.IpAsync("-6", "addr", "add", "2001:db8:2::1/64", "dev", "eth1", "nodad");
        await net.Backends.IpAsync("-6", "addr", "add", "2001:db8:2::11/64", "dev", "eth0", "nodad");
        await net.Backends.IpAsync("-6", "addr", "add", "2001:db8:2::12/64", "dev", "eth0", "nodad");
        await net.Backends.IpAsync("-6", "route", "add", "default", "via", "2001:db8:2::1");
    }

    private static async Task<(string Name, IPEndPoint Local, IPEndPoint Remote, IPEndPoint From)> AskUdpAsync(KernelNetwork net, IPEndPoint vip)
    {
        using var udp = net.ClientNs.OpenSocket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp);
        udp.Bind(new IPEndPoint(Client6, 0));
        return await KernelNetwork.AskUdpAsync(udp, vip);
    }
}
