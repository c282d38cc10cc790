using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using MultiVip.Model.Errors;
using MultiVip.Network.Announcing;
using MultiVip.TestSupport.Network;

namespace MultiVip.Network.Tests.Announcing;

/// <summary>The configurations MultiVip writes for keepalived and BIRD, checked by the programs themselves, and the daemon supervisor.</summary>
public sealed class FailoverConfigTests
{
    private static readonly HashSet<IPAddress> Addresses = [IPAddress.Parse("198.18.0.100"), IPAddress.Parse("2001:db8:1::100")];

    [Fact]
    public async Task The_keepalived_configuration_has_one_instance_with_every_address_unicast_peers_and_nopreempt_and_bird_parses_its_own()
    {
        var vrrp = new VrrpOptions { Interface = "eth0", DataDir = "/tmp", RouterId = 61, Priority = 150, WatchedPid = 4242 };
        var text = VrrpAnnouncer.RenderConfig(vrrp, IPAddress.Parse("198.18.0.1"), [IPAddress.Parse("198.18.0.2")], Addresses, "/tmp/x.fifo", "root root");
        Assert.Contains("virtual_router_id 61", text, StringComparison.Ordinal);
        Assert.Contains("priority 150", text, StringComparison.Ordinal);
        Assert.Contains("advert_int 1", text, StringComparison.Ordinal);
        Assert.Contains("nopreempt", text, StringComparison.Ordinal);
        Assert.Contains("unicast_src_ip 198.18.0.1", text, StringComparison.Ordinal);
        Assert.Contains("198.18.0.100/32 dev eth0", text, StringComparison.Ordinal);
        Assert.Contains("2001:db8:1::100/128 dev eth0", text, StringComparison.Ordinal);
        Assert.Contains("script \"/bin/kill -0 4242\"", text, StringComparison.Ordinal);
        Assert.Contains("vrrp_notify_fifo /tmp/x.fifo root root", text, StringComparison.Ordinal);
        Assert.DoesNotContain("nopreempt", VrrpAnnouncer.RenderConfig(vrrp with { Preempt = true }, IPAddress.Parse("198.18.0.1"), [], Addresses, "/tmp/x.fifo", "root root"), StringComparison.Ordinal);

        var bgp = new BgpOptions
        {
            Asn = 65001, DataDir = "/tmp", RouterId = "198.18.0.1", Bfd = true, HoldTime = 3,
            Peers = [BgpPeer.Parse("198.18.0.254:65000", 65001), BgpPeer.Parse("[2001:db8::1]", 65001)],
        };
        var bird = BgpAnnouncer.RenderConfig(bgp, Addresses);
        Assert.Contains("route 198.18.0.100/32 blackhole;", bird, StringComparison.Ordinal);
        Assert.Contains("route 2001:db8:1::100/128 blackhole;", bird, StringComparison.Ordinal);
        Assert.Contains("neighbor 198.18.0.254 as 65000;", bird, StringComparison.Ordinal);
        Assert.Contains("neighbor 2001:db8::1 as 65001;", bird, StringComparison.Ordinal);
        Assert.Contains("hold time 3;", bird, StringComparison.Ordinal);
        Assert.Contains("bfd on;", bird, StringComparison.Ordinal);

        // BIRD's own parser accepts it (bird -p parses and exits).
        var file = Path.Combine(Path.GetTempPath(), $"multivip-bird-{Guid.NewGuid():N}.conf");
        await File.WriteAllTextAsync(file, bird);
        try
        {
            var parsed = await Command.TryRunAsync("bird", ["-p", "-c", file]);
            Assert.True(parsed.Succeeded, parsed.StandardError + parsed.StandardOutput + "\n" + bird);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Registry_peers_are_unicast_from_the_start_with_a_loopback_placeholder_while_no_other_node_is_known()
    {
        var registry = new VrrpOptions { Interface = "eth0", DataDir = "/tmp", Peers = new RegistryLikePeers() };
        var alone = VrrpAnnouncer.RenderConfig(registry, IPAddress.Parse("198.18.0.1"), [], Addresses, "/tmp/x.fifo", "root root");
        Assert.Contains("unicast_src_ip 198.18.0.1", alone, StringComparison.Ordinal);
        Assert.Matches(@"unicast_peer \{\n\s+#[^\n]*\n\s+127\.0\.0\.1\n\s+\}", alone);
        Assert.Contains("        ::1\n", VrrpAnnouncer.RenderConfig(registry, IPAddress.Parse("2001:db8::1"), [], Addresses, "/tmp/x.fifo", "root root"), StringComparison.Ordinal);

        // A peer replaces the placeholder; the instance stays unicast (a reload then changes nothing on it).
        var joined = VrrpAnnouncer.RenderConfig(registry, IPAddress.Parse("198.18.0.1"), [IPAddress.Parse("198.18.0.2")], Addresses, "/tmp/x.fifo", "root root");
        Assert.Contains("        198.18.0.2\n", joined, StringComparison.Ordinal);
        Assert.DoesNotContain("127.0.0.1", joined, StringComparison.Ordinal);

        // --vrrp-peer given as none: multicast, as before.
        var multicast = VrrpAnnouncer.RenderConfig(registry with { Peers = new StaticPeers([]) }, IPAddress.Parse("198.18.0.1"), [], Addresses, "/tmp/x.fifo", "root root");
        Assert.DoesNotContain("unicast", multicast, StringComparison.Ordinal);
    }

    private sealed class RegistryLikePeers : IPeerSource
    {
        public IReadOnlyList<IPAddress> Peers() => [];

        public event Action? Changed
        {
            add { }
            remove { }
        }

        public bool AlwaysUnicast => true;

        public Task<string> Ready => Task.FromResult("test");
    }

    [Theory]
    [InlineData("192.0.2.1", "192.0.2.1", 65001)]
    [InlineData("192.0.2.1:65000", "192.0.2.1", 65000)]
    [InlineData("[2001:db8::1]:4200000000", "2001:db8::1", 4200000000)]
    [InlineData("2001:db8::1", "2001:db8::1", 65001)]
    public void A_bgp_peer_is_an_address_with_an_optional_asn(string text, string address, long asn)
    {
        var peer = BgpPeer.Parse(text, 65001);
        Assert.Equal(IPAddress.Parse(address), peer.Address);
        Assert.Equal(asn, peer.Asn);
    }

    [Theory]
    [InlineData("router", "is not a BGP neighbour")]
    [InlineData("192.0.2.1:abc", "is not an AS number")]
    [InlineData("192.0.2.1:0", "is not an AS number")]
    public void A_bad_bgp_peer_is_refused_with_what_to_write(string text, string message)
    {
        var e = Assert.Throws<MultiVipException>(() => BgpPeer.Parse(text, 65001));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_daemon_that_dies_is_restarted_and_a_stop_ends_it_through_the_watchdog()
    {
        var log = Path.Combine(Path.GetTempPath(), $"multivip-daemon-{Guid.NewGuid():N}.log");
        var daemon = new SupervisedDaemon("sleep", "/bin/sleep", () => ["600"], log, TimeProvider.System, NullLogger.Instance)
        {
            FirstBackoff = TimeSpan.FromMilliseconds(100),
        };
        try
        {
            await daemon.StartAsync(CancellationToken.None);
            var first = daemon.Pid;
            Assert.True(first > 0);
            using (var process = System.Diagnostics.Process.GetProcessById(first))
            {
                process.Kill(); // SIGKILL
            }

            await Eventually.TrueAsync(() => Task.FromResult(daemon.Pid != 0 && daemon.Pid != first), TimeSpan.FromSeconds(10), () => "the daemon was not restarted");
            Assert.Equal(1, daemon.Restarts);

            var second = daemon.Pid;
            await daemon.StopAsync(TimeSpan.FromSeconds(10));
            Assert.False(Directory.Exists($"/proc/{second}") && !File.ReadAllText($"/proc/{second}/stat").Contains(" Z ", StringComparison.Ordinal), "the daemon outlived the stop");
        }
        finally
        {
            await daemon.DisposeAsync();
            File.Delete(log);
        }
    }
}
