using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using MultiVip.Contracts;
using MultiVip.DataPlane.Nftables;
using MultiVip.TestSupport.Network;

namespace MultiVip.Network.Tests.Kernel;

/// <summary>
/// Active connections per backend in the kernel plane: counted from conntrack (flows with MultiVip's
/// mark; TCP while ESTABLISHED, UDP while the entry lives) and shown where the user-space plane shows
/// its own (deployment show's health, the traffic behind the dashboard, /metrics).
/// </summary>
public sealed class KernelActiveConnectionsTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(45);

    [Fact]
    public async Task Established_tcp_and_live_udp_flows_count_as_active_per_backend_and_closed_ones_stop_counting()
    {
        await using var net = await KernelNetwork.CreateAsync();
        net.Tcp(KernelNetwork.Vm1, 8080, "vm1");
        net.Tcp(KernelNetwork.Vm2, 8080, "vm2");
        net.Udp(KernelNetwork.Vm1, 5353, "vm1-udp");
        await net.StartServerAsync();
        using var client = net.Client();
        await client.CreateServiceAsync(new CreateServiceRequest { Name = "svc" });
        await client.AddVmAsync("svc", new AddVmRequest { Name = "vm1", Address = KernelNetwork.Vm1.ToString() });
        await client.AddVmAsync("svc", new AddVmRequest { Name = "vm2", Address = KernelNetwork.Vm2.ToString() });
        foreach (var vm in new[] { "vm1", "vm2" })
        {
            await client.AddEndpointAsync("svc", vm, new EndpointRequest { Name = "web", Protocol = "tcp", LocalPort = 8080, PublicPort = 80, LoadBalancedSetName = "web" });
        }

        await client.AddEndpointAsync("svc", "vm1", new EndpointRequest { Name = "dns", Protocol = "udp", LocalPort = 5353, PublicPort = 53 });
        var vip = IPAddress.Parse((await client.GetDeploymentAsync("svc")).Value.VirtualIps.Single().Address!);

        // Six TCP connections held open (each knows its backend from the greeting), two UDP flows.
        var open = new List<Socket>();
        var held = new Dictionary<string, int> { ["vm1"] = 0, ["vm2"] = 0 };
        var udp = new List<Socket>();
        try
        {
            for (var i = 0; i < 6; i++)
            {
                var socket = await net.ClientNs.ConnectAsync(new IPEndPoint(vip, 80), TimeSpan.FromSeconds(5));
                open.Add(socket);
                var buffer = new byte[256];
                var read = await socket.ReceiveAsync(buffer, SocketFlags.None);
                held[WhoAmIBackend.Parse(Encoding.ASCII.GetString(buffer, 0, read)).Name]++;
            }

            for (var i = 0; i < 2; i++)
            {
                var socket = net.ClientNs.OpenSocket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                udp.Add(socket);
                socket.Bind(new IPEndPoint(KernelNetwork.ClientAddress, 0));
                Assert.Equal("vm1-udp", (await KernelNetwork.AskUdpAsync(socket, new IPEndPoint(vip, 53))).Name);
            }

            var expected = $"web/vm1 {held["vm1"]}, web/vm2 {held["vm2"]}, dns/vm1 2";
            await Eventually.MatchesAsync(() => ActiveAsync(client), a => a == expected, Deadline, a => $"active per backend: {a}, expected {expected}");

            // The same counts per listener and backend in /metrics (and so the dashboard, which reads the same traffic).
            using var http = new HttpClient { BaseAddress = client.Connection.Api };
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", client.Connection.Token);
            var metrics = await http.GetStringAsync("/metrics");
            Assert.Matches(new Regex($@"multivip_backend_connections_active\{{[^}}]*port=""80""[^}}]*vm=""vm1""[^}}]*\}} {held["vm1"]}\b"), metrics);
            Assert.Matches(new Regex($@"multivip_listener_connections_active\{{[^}}]*port=""80""[^}}]*\}} 6\b"), metrics);
        }
        finally
        {
            foreach (var socket in open.Concat(udp))
            {
                socket.Dispose();
            }
        }

        // Closed connections leave ESTABLISHED (FIN, TIME_WAIT): no longer active. UDP flows live on until their timeout.
        await Eventually.MatchesAsync(() => ActiveAsync(client), a => a == "web/vm1 0, web/vm2 0, dns/vm1 2", Deadline, a => "after closing: " + a);
    }

    [Fact]
    public void Conntrack_lines_count_established_tcp_and_every_udp_flow_by_the_backend_in_the_mark()
    {
        const string dump = """
            tcp      6 431999 ESTABLISHED src=198.18.0.2 dst=198.51.100.10 sport=40000 dport=80 src=192.0.2.11 dst=192.0.2.1 sport=8080 dport=40000 [ASSURED] mark=1291845639 use=1
            tcp      6 431999 ESTABLISHED src=2001:db8:18::2 dst=2001:db8:100::10 sport=40001 dport=80 src=2001:db8:2::11 dst=2001:db8:2::1 sport=8080 dport=40001 [ASSURED] mark=1291845639 use=1
            tcp      6 119 TIME_WAIT src=198.18.0.2 dst=198.51.100.10 sport=40002 dport=80 src=192.0.2.11 dst=192.0.2.1 sport=8080 dport=40002 [ASSURED] mark=1291845639 use=1
            tcp      6 59 SYN_SENT src=198.18.0.2 dst=198.51.100.10 sport=40003 dport=80 [UNREPLIED] src=192.0.2.11 dst=192.0.2.1 sport=8080 dport=40003 mark=1291845639 use=1
            udp      17 29 src=198.18.0.2 dst=198.51.100.10 sport=40682 dport=53 [UNREPLIED] src=192.0.2.11 dst=192.0.2.1 sport=5353 dport=40682 mark=1291845640 use=1
            udp      17 170 src=198.18.0.2 dst=198.51.100.10 sport=40683 dport=53 src=192.0.2.11 dst=192.0.2.1 sport=5353 dport=40683 [ASSURED] mark=1291845640 use=1
            tcp      6 431999 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1 [ASSURED] mark=17 use=1
            icmp     1 29 src=198.18.0.2 dst=198.51.100.10 type=8 code=0 id=7 src=192.0.2.11 dst=192.0.2.1 type=0 code=0 id=7 mark=1291845639 use=1
            """;
        var counts = ConntrackActive.Count(new StringReader(dump));
        Assert.Equal(new Dictionary<int, long> { [7] = 2, [8] = 2 }, counts);
    }

    /// <summary>"web/vm1 3, web/vm2 3, dns/vm1 2": active connections per endpoint and VM as deployment show has them.</summary>
    private static async Task<string> ActiveAsync(MultiVip.Client.MultiVipClient client) =>
        string.Join(", ", (await client.GetDeploymentAsync("svc")).Value.Health
            .OrderBy(h => h.EndpointName == "dns").ThenBy(h => h.VmName, StringComparer.Ordinal)
            .Select(h => $"{h.EndpointName}/{h.VmName} {h.ActiveConnections}"));
}
