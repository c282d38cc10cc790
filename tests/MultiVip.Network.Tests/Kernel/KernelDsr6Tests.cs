using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using MultiVip.Contracts;
using MultiVip.Model.Services;
using MultiVip.TestSupport.Network;

namespace MultiVip.Network.Tests.Kernel;

/// <summary>
/// Direct server return on an IPv6 VIP (2001:db8::/32 inside the test's namespaces): two VMs, each a
/// namespace of its own behind the node (<see cref="KernelNetwork.AddSecondVmAsync"/>) with its own
/// return link to the client, hold the VIP on lo and answer the client themselves. What a VM needs for
/// IPv6 is set up here as docs/kernel-plane.md says: the VIP on lo (no DAD there), router
/// advertisements ignored, and a policy route that sends replies sourced from the VIP out of the return link.
/// </summary>
public sealed class KernelDsr6Tests
{
    private const string Pool6 = "2001:db8:100::10-2001:db8:100::40";
    private const int SqlPort = 1433;
    private const int ProbePort = 59999;
    private static readonly IPAddress Client6 = IPAddress.Parse("2001:db8:18::2");
    private static readonly IPAddress Vm1 = IPAddress.Parse("2001:db8:2::11");
    private static readonly IPAddress Vm2 = IPAddress.Parse("2001:db8:3::21");
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(45);

    [Fact]
    public async Task An_ipv6_dsr_vip_reaches_both_vms_unchanged_the_replies_bypass_the_node_and_a_probe_failover_moves_new_connections()
    {
        await using var net = await KernelNetwork.CreateAsync();
        var vm2 = await net.AddSecondVmAsync();
        await AddIpv6Async(net, vm2);
        await net.StartServerAsync("--vip-pool", Pool6);
        using var client = net.Client();
        await client.CreateServiceAsync(new CreateServiceRequest { Name = "sql" });
        await client.AddVmAsync("sql", new AddVmRequest { Name = "vm1", Address = Vm1.ToString() });
        await client.AddVmAsync("sql", new AddVmRequest { Name = "vm2", Address = Vm2.ToString() });
        await client.AddVirtualIpAsync("sql", new AddVirtualIpRequest { Name = "v6", AddressFamily = "IPv6" });
        foreach (var vm in new[] { "vm1", "vm2" })
        {
            await client.AddEndpointAsync("sql", vm, new EndpointRequest
            {
                Name = "sql", Protocol = "tcp", LocalPort = SqlPort, PublicPort = SqlPort, VirtualIpName = "v6", LoadBalancedSetName = "sql", DirectServerReturn = true,
                Probe = new ProbeRequest { Protocol = "tcp", Port = ProbePort, IntervalInSeconds = 5, TimeoutInSeconds = 11 },
            });
        }

        var vip = IPAddress.Parse((await client.GetDeploymentAsync("sql")).Value.VirtualIps.Single(v => v.Name == "v6").Address!);
        Assert.Equal(AddressFamily.InterNetworkV6, vip.AddressFamily);
        foreach (var (ns, name) in new[] { (net.Backends, "vm1"), (vm2, "vm2") })
        {
            // The VIP on lo: no DAD on a loopback address, and Linux answers neighbour solicitations only
            // for addresses of the interface they arrive on, so the VM never claims the VIP on its link.
            await ns.IpAsync("-6", "addr", "add", $"{vip}/128", "dev", "lo", "nodad");
            net.TcpIn(ns, vip, SqlPort, name);
        }

        var probe2 = net.TcpIn(vm2, Vm2, ProbePort, "probe");
        var probe1 = net.TcpIn(net.Backends, Vm1, ProbePort, "probe");
        foreach (var vm in new[] { "vm1", "vm2" })
        {
            await WaitForStateAsync(client, vm, HealthState.Healthy, net);
        }

        // Who sees replies from the VIP: the client on each return link (eth1 from vm1, eth2 from vm2), the node never.
        await NftInAsync(net.ClientNs, $$"""
            table ip6 mvtest-d6 {
            	counter from-vm1 { }
            	counter from-vm2 { }
            	chain in {
            		type filter hook prerouting priority -300; policy accept;
            		iifname "eth1" ip6 saddr {{vip}} counter name "from-vm1"
            		iifname "eth2" ip6 saddr {{vip}} counter name "from-vm2"
            	}
            }
            """);
        await NftInAsync(net.Node, $$"""
            table ip6 mvtest-d6 {
            	counter from-vip { }
            	chain in {
            		type filter hook prerouting priority -300; policy accept;
            		ip6 saddr {{vip}} counter name "from-vip"
            	}
            }
            """);

        var sql = new IPEndPoint(vip, SqlPort);
        await AnswersAsync(net, sql);
        var seen = new HashSet<string>();
        for (var i = 0; i < 24; i++)
        {
            var answer = await net.AskTcpAsync(sql);
            Assert.Equal(sql, answer.Local); // the VM accepted VIP:1433: destination unchanged
            Assert.Equal(answer.ClientEnd, answer.Remote); // the client's own address and port: no NAT
            Assert.Equal(Client6, answer.Remote.Address);
            seen.Add(answer.Name);
        }

        Assert.Equal(["vm1", "vm2"], seen.Order()); // a set of two spreads (5-tuple)
        var clientCounters = await CountersAsync(net.ClientNs);
        Assert.True(clientCounters["from-vm1"] > 0, $"no reply from the VIP reached the client over vm1's return link: {string.Join(", ", clientCounters)}");
        Assert.True(clientCounters["from-vm2"] > 0, $"no reply from the VIP reached the client over vm2's return link: {string.Join(", ", clientCounters)}");
        Assert.Equal(0, (await CountersAsync(net.Node))["from-vip"]); // no reply crossed the node

        var table = await net.NftAsync("list", "table", "ip6", "multivip");
        Assert.Contains($"{vip} . tcp . {SqlPort} : goto dsr-", table, StringComparison.Ordinal);
        Assert.Contains($"dup to {Vm1} drop", table, StringComparison.Ordinal);
        Assert.Contains($"dup to {Vm2} drop", table, StringComparison.Ordinal);
        var counters = await net.NftAsync("list", "counters", "table", "ip6", "multivip");
        foreach (var address in new[] { Vm1, Vm2 })
        {
            var id = Regex.Match(table, $@"chain be-(\d+) \{{\s+counter name ""backend-\d+-in"" dup to {Regex.Escape(address.ToString())} ").Groups[1].Value;
            Assert.Matches(new Regex($@"counter backend-{id}-in \{{\s+packets [1-9]"), counters); // client → VM crosses the node
        }

        // The VM does not answer neighbour solicitations for the VIP (IPv6's arp_ignore is the default):
        // the node, sent to look the VIP up on the VMs' link, finds no neighbour; the VM's own address it does.
        await net.Node.IpAsync("-6", "route", "add", $"{vip}/128", "dev", "eth1");
        using (var udp = net.Node.OpenSocket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp))
        {
            await udp.SendToAsync("who-has"u8.ToArray(), SocketFlags.None, new IPEndPoint(vip, 9));
        }

        // The kernel solicits a few times, then gives up (FAILED); a VM that answered would make it REACHABLE with its lladdr.
        var neighbour = await Eventually.MatchesAsync(
            async () => (await net.Node.ExecAsync("ip", "-6", "neigh", "show", vip.ToString(), "dev", "eth1")).StandardOutput,
            n => n.Contains("FAILED", StringComparison.Ordinal) || n.Contains("lladdr", StringComparison.Ordinal),
            Deadline,
            n => "the node's neighbour lookup of the VIP never ended: " + n);
        Assert.DoesNotContain("lladdr", neighbour, StringComparison.Ordinal);
        Assert.Contains("lladdr", (await net.Node.ExecAsync("ip", "-6", "neigh", "show", Vm1.ToString(), "dev", "eth1")).StandardOutput, StringComparison.Ordinal);
        await net.Node.IpAsync("-6", "route", "del", $"{vip}/128", "dev", "eth1");

        // vm2's probe port closes: new connections go to vm1 only.
        await probe2.DisposeAsync();
        await WaitForStateAsync(client, "vm2", HealthState.Unhealthy, net);
        await Eventually.TrueAsync(
            async () =>
            {
                for (var i = 0; i < 12; i++)
                {
                    if ((await net.AskTcpAsync(sql)).Name != "vm1")
                    {
                        return false;
                    }
                }

                return true;
            },
            Deadline,
            () => "new connections still reach vm2 after it left rotation:\n" + net.Server!.Output);

        // vm1's probe port closes too: new connections are refused (TCP reset), an established one goes on
        // (DSR runs before conntrack: "new" is a SYN without ACK, and the last member keeps its slots).
        using var held = await net.ClientNs.ConnectAsync(sql, TimeSpan.FromSeconds(5));
        Assert.True(await held.ReceiveAsync(new byte[256], SocketFlags.None) > 0);
        await probe1.DisposeAsync();
        await WaitForStateAsync(client, "vm1", HealthState.Unhealthy, net);
        await Eventually.TrueAsync(
            async () =>
            {
                try
                {
                    using var _ = await net.ClientNs.ConnectAsync(sql, TimeSpan.FromSeconds(5));
                    return false;
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
                {
                    return true;
                }
            },
            Deadline,
            () => "new connections were not refused with no member in rotation:\n" + net.Server!.Output);
        table = await net.NftAsync("list", "table", "ip6", "multivip");
        var listener = Regex.Match(table, $@"{Regex.Escape(vip.ToString())} \. tcp \. {SqlPort} : goto dsr-(\d+)").Groups[1].Value;
        var vm1Id = Regex.Match(table, $@"chain be-(\d+) \{{\s+counter name ""backend-\d+-in"" dup to {Regex.Escape(Vm1.ToString())} ").Groups[1].Value;
        var refused = await CounterAsync(net, $"listener-{listener}-nobackend");
        var sent = await CounterAsync(net, $"backend-{vm1Id}-in");
        for (var i = 0; i < 3; i++)
        {
            await held.SendAsync("still here"u8.ToArray(), SocketFlags.None);
        }

        await Eventually.TrueAsync(async () => await CounterAsync(net, $"backend-{vm1Id}-in") >= sent + 3, Deadline, () => "the established connection's segments never reached vm1");
        Assert.Equal(refused, await CounterAsync(net, $"listener-{listener}-nobackend"));
        await held.SendAsync("still here"u8.ToArray(), SocketFlags.None); // no reset came back
    }

    private static async Task<long> CounterAsync(KernelNetwork net, string name)
    {
        var counters = await net.NftAsync("list", "counters", "table", "ip6", "multivip");
        var match = Regex.Match(counters, $@"counter {Regex.Escape(name)} \{{\s+packets (\d+)");
        Assert.True(match.Success, $"no counter {name} in:\n{counters}");
        return long.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>IPv6 on every link: client–node, node–VMs, and each VM's return link to the client; the node forwards IPv6.</summary>
    private static async Task AddIpv6Async(KernelNetwork net, NetworkNamespace vm2)
    {
        net.Node.SetSysctl("net/ipv6/conf/all/forwarding", "1");
        await net.ClientNs.IpAsync("-6", "addr", "add", "2001:db8:18::2/64", "dev", "eth0", "nodad");
        await net.ClientNs.IpAsync("-6", "addr", "add", "2001:db8:19:1::2/64", "dev", "eth1", "nodad");
        await net.ClientNs.IpAsync("-6", "addr", "add", "2001:db8:19:2::2/64", "dev", "eth2", "nodad");
        await net.ClientNs.IpAsync("-6", "route", "add", "2001:db8:100::/64", "via", "2001:db8:18::1");
        await net.Node.IpAsync("-6", "addr", "add", "2001:db8:18::1/64", "dev", "eth0", "nodad");
        await net.Node.IpAsync("-6", "addr", "add", "2001:db8:2::1/64", "dev", "eth1", "nodad");
        await net.Node.IpAsync("-6", "addr", "add", "2001:db8:3::1/64", "dev", "eth2", "nodad");
        foreach (var (ns, own, node, ret, client) in new[]
        {
            (net.Backends, "2001:db8:2::11", "2001:db8:2::1", "2001:db8:19:1::11", "2001:db8:19:1::2"),
            (vm2, "2001:db8:3::21", "2001:db8:3::1", "2001:db8:19:2::21", "2001:db8:19:2::2"),
        })
        {
            foreach (var conf in new[] { "all", "default", "eth0", "eth1" })
            {
                ns.SetSysctl($"net/ipv6/conf/{conf}/accept_ra", "0"); // no router but the ones configured here
            }

            await ns.IpAsync("-6", "addr", "add", own + "/64", "dev", "eth0", "nodad");
            await ns.IpAsync("-6", "addr", "add", ret + "/64", "dev", "eth1", "nodad");
            await ns.IpAsync("-6", "route", "add", "default", "via", node);
            // Replies sourced from a VIP leave by the return link, not through the node.
            await ns.IpAsync("-6", "rule", "add", "from", "2001:db8:100::/64", "lookup", "113");
            await ns.IpAsync("-6", "route", "add", "default", "via", client, "dev", "eth1", "table", "113");
        }
    }

    private static async Task NftInAsync(NetworkNamespace ns, string ruleset)
    {
        var path = Path.Combine(Path.GetTempPath(), $"mvtest-d6-{Guid.NewGuid():N}.nft");
        await File.WriteAllTextAsync(path, ruleset + "\n");
        try
        {
            (await ns.ExecAsync("nft", "-f", path)).ThrowIfFailed();
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static async Task<Dictionary<string, long>> CountersAsync(NetworkNamespace ns)
    {
        var text = (await ns.ExecAsync("nft", "list", "counters", "table", "ip6", "mvtest-d6")).ThrowIfFailed();
        return Regex.Matches(text, @"counter ([\w-]+) \{\s+packets (\d+)")
            .ToDictionary(m => m.Groups[1].Value, m => long.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    private static Task AnswersAsync(KernelNetwork net, IPEndPoint vip) =>
        Eventually.TrueAsync(
            async () =>
            {
                try
                {
                    await net.AskTcpAsync(vip);
                    return true;
                }
                catch (SocketException)
                {
                    return false;
                }
            },
            Deadline,
            () => $"{vip} never answered:\n" + net.Server!.Output);

    private static Task WaitForStateAsync(MultiVip.Client.MultiVipClient client, string vm, HealthState state, KernelNetwork net) =>
        Eventually.TrueAsync(
            async () => (await client.GetDeploymentAsync("sql")).Value.Health.Any(h => h.VmName == vm && h.State == state),
            Deadline,
            () => $"{vm} never became {state}:\n" + net.Server!.Output);
}
