using System.Net;
using MultiVip.TestSupport.Network;

namespace MultiVip.Network.Tests.Namespaces;

/// <summary>The namespace helper itself: topology, in-namespace sockets, and cleanup that cannot be forgotten.</summary>
public sealed class NetworkNamespacesTests
{
    [Fact]
    public async Task Two_namespaces_on_a_veth_pair_talk_and_disposal_removes_them()
    {
        string[] names;
        await using (var net = await NetworkNamespaces.CreateAsync())
        {
            var a = await net.AddAsync("a");
            var b = await net.AddAsync("b");
            await net.LinkAsync(a, "eth0", b, "eth0");
            await a.AddAddressAsync("eth0", "198.18.1.1/24");
            await b.AddAddressAsync("eth0", "198.18.1.2/24");
            names = [a.Name, b.Name];

            await using var backend = NamespaceEchoBackend.Start(b, new IPEndPoint(IPAddress.Parse("198.18.1.2"), 7000), "hello-from-b");
            Assert.Equal("hello-from-b", await NamespaceEchoBackend.HelloAsync(a, new IPEndPoint(IPAddress.Parse("198.18.1.2"), 7000)));

            // The connection resolved b's address by ARP: a's neighbour table has b's MAC.
            var bMac = await b.MacAddressAsync("eth0");
            var neighbours = await a.NeighboursAsync("eth0");
            Assert.Contains(neighbours, n => n.Address.Equals(IPAddress.Parse("198.18.1.2")) && n.LinkAddress == bMac);

            // The test's own namespace never sees these addresses.
            Assert.DoesNotContain(System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
                .SelectMany(i => i.GetIPProperties().UnicastAddresses), u => u.Address.ToString().StartsWith("198.18.1.", StringComparison.Ordinal));
        }

        foreach (var name in names)
        {
            Assert.False(File.Exists("/run/netns/" + name), $"{name} survived disposal");
        }
    }

    [Fact]
    public async Task Namespaces_on_a_bridge_share_one_segment()
    {
        await using var net = await NetworkNamespaces.CreateAsync();
        var lan = await net.AddAsync("lan");
        var a = await net.AddAsync("a");
        var b = await net.AddAsync("b");
        await net.BridgeAsync(lan, "br0", (a, "eth0"), (b, "eth0"));
        await a.AddAddressAsync("eth0", "2001:db8:7::1/64", "nodad");
        await b.AddAddressAsync("eth0", "2001:db8:7::2/64", "nodad");

        await using var backend = NamespaceEchoBackend.Start(b, new IPEndPoint(IPAddress.Parse("2001:db8:7::2"), 7000), "hello-over-the-bridge");
        Assert.Equal("hello-over-the-bridge", await NamespaceEchoBackend.HelloAsync(a, new IPEndPoint(IPAddress.Parse("2001:db8:7::2"), 7000)));
        var bMac = await b.MacAddressAsync("eth0");
        Assert.Contains(await a.NeighboursAsync("eth0"), n => n.Address.Equals(IPAddress.Parse("2001:db8:7::2")) && n.LinkAddress == bMac);
    }

    [Fact]
    public async Task A_process_started_in_a_namespace_sees_only_that_namespace_and_is_stopped_on_disposal()
    {
        NamespaceProcess process;
        await using (var net = await NetworkNamespaces.CreateAsync())
        {
            var ns = await net.AddAsync("proc");
            await ns.IpAsync("link", "add", "inside0", "type", "veth", "peer", "name", "inside1");
            var listing = await ns.ExecAsync("ip", "-json", "link");
            Assert.Contains("inside0", listing.ThrowIfFailed(), StringComparison.Ordinal);
            var outside = await Command.RunAsync("ip", "-json", "link");
            Assert.DoesNotContain("inside0", outside, StringComparison.Ordinal);

            process = ns.Start("sleep", ["600"]);
            Assert.False(process.HasExited);
        }

        Assert.True(process.HasExited);
    }

    [Fact]
    public async Task Leftovers_of_a_dead_run_are_removed_and_live_runs_are_left_alone()
    {
        // A PID above pid_max never runs: the namespace looks like a run that died long ago.
        var orphan = $"{NetworkNamespaces.Prefix}999999999-dead01-x";
        var live = $"{NetworkNamespaces.Prefix}{Environment.ProcessId}-live01-x";
        try
        {
            await Command.RunAsync("ip", "netns", "add", orphan);
            await Command.RunAsync("ip", "netns", "add", live);
            // Leftovers must be older than the test run; both of these count as older than "a minute from now".
            await NetworkNamespaces.CleanLeftoversAsync(DateTime.UtcNow.AddMinutes(1));

            Assert.False(File.Exists("/run/netns/" + orphan), "the dead run's namespace was not removed");
            Assert.True(File.Exists("/run/netns/" + live), "a namespace of a live run was removed");
        }
        finally
        {
            await Command.TryRunAsync("ip", ["netns", "del", orphan]);
            await Command.TryRunAsync("ip", ["netns", "del", live]);
        }
    }
}
