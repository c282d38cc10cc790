using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using MultiVip.Contracts;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Health;
using MultiVip.DataPlane.Routing;
using MultiVip.Model.Networking;
using MultiVip.Model.Services;
using MultiVip.TestSupport.Network;

namespace MultiVip.Network.Tests.Kernel;

/// <summary>
/// `multivip serve --data-plane nftables` in a node namespace, against real nftables and conntrack:
/// traffic through a load-balanced set, the same member as the user-space plane's Maglev for the same
/// tuple, a probe failure rewriting only that listener's slots, ACL deny, UDP flows deleted with their
/// backend, and direct server return.
/// </summary>
public sealed partial class KernelPlaneTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(45);

    [Fact]
    public async Task A_load_balanced_set_spreads_flows_exactly_as_the_user_space_maglev_would_and_a_probe_failure_rewrites_only_its_slots()
    {
        await using var net = await KernelNetwork.CreateAsync();
        net.Tcp(KernelNetwork.Vm1, 8080, "vm1");
        var vm2 = net.Tcp(KernelNetwork.Vm2, 8080, "vm2");
        net.Tcp(KernelNetwork.Vm1, 9090, "vm1-other");
        net.Tcp(KernelNetwork.Vm2, 9090, "vm2-other");

        // A firewalld-like table of someone else: MultiVip must leave it alone.
        (await net.Node.ExecAsync("nft", "add table inet mvtest-others; add chain inet mvtest-others input { type filter hook input priority 0; policy accept; }")).ThrowIfFailed();
        await net.StartServerAsync();
        using var client = net.Client();
        await client.CreateServiceAsync(new CreateServiceRequest { Name = "svc" });
        await client.AddVmAsync("svc", new AddVmRequest { Name = "vm1", Address = KernelNetwork.Vm1.ToString() });
        await client.AddVmAsync("svc", new AddVmRequest { Name = "vm2", Address = KernelNetwork.Vm2.ToString() });
        var probe = new ProbeRequest { Protocol = "tcp", Port = 8080, IntervalInSeconds = 5, TimeoutInSeconds = 11 };
        foreach (var vm in new[] { "vm1", "vm2" })
        {
            await client.AddEndpointAsync("svc", vm, new EndpointRequest { Name = "web", Protocol = "tcp", LocalPort = 8080, PublicPort = 80, LoadBalancedSetName = "web", Probe = probe });
            await client.AddEndpointAsync("svc", vm, new EndpointRequest { Name = "other", Protocol = "tcp", LocalPort = 9090, PublicPort = 90, LoadBalancedSetName = "other" });
        }

        var deployment = (await client.GetDeploymentAsync("svc")).Value;
        var vip = IPAddress.Parse(deployment.VirtualIps.Single().Address!);
        var web = new IPEndPoint(vip, 80);

        // The operation succeeded: the rules are in the kernel, in our table only, beside the other table.
        var table = await net.NftAsync("list", "table", "inet", "multivip");
        Assert.Contains($"{vip} . tcp . 80 : goto lb-", table, StringComparison.Ordinal);
        Assert.Contains("jhash ip saddr . ip daddr . meta l4proto . tcp sport . tcp dport mod 5003 seed 0x4d564950 map @slots-", table, StringComparison.Ordinal);
        Assert.Contains("table inet mvtest-others", await net.NftAsync("list", "tables"), StringComparison.Ordinal);
        Assert.All(deployment.Health, h => Assert.Equal("nftables", h.Plane));

        // The user-space plane's choice for the same desired state and tuple.
        var spec = new ListenerSpec
        {
            Key = new ListenerKey(vip, TransportProtocol.Tcp, 80),
            ServiceName = "svc",
            VirtualIpName = "Vip1",
            LoadBalancedSetName = "web",
            Backends = [new BackendSpec("vm1", "web", new IPEndPoint(KernelNetwork.Vm1, 8080)), new BackendSpec("vm2", "web", new IPEndPoint(KernelNetwork.Vm2, 8080))],
        };
        var userSpace = new RouteTable(spec, AclEvaluator.AllowAll, [.. spec.Backends.Select(b => new BackendState(b, probed: true))]);
        var seen = new HashSet<string>();
        for (var i = 0; i < 24; i++)
        {
            var answer = await net.AskTcpAsync(web);
            var preference = new int[2];
            userSpace.FillCandidates(answer.ClientEnd, web, preference);
            Assert.Equal(userSpace.Members[preference[0]].Spec.VmName, answer.Name);
            Assert.Equal(KernelNetwork.NodeBackendSide, answer.Remote.Address); // masquerade to the node's address (default)
            seen.Add(answer.Name);
        }

        Assert.Equal(["vm1", "vm2"], seen.Order());

        // Every slot, not just the ones 24 flows hit: the map the kernel holds (written through netlink
        // since the set grew on a running table) is the user-space Maglev table, slot for slot.
        var targets = Regex.Matches(ElementsOf(table, "targets-ip"), @"(0x[0-9a-f]{8}) : ([\d.]+) \. 8080").ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
        var slots = Regex.Matches(ElementsOf(table, SlotMap(table, "web", vip, 80)), @"(\d+) : (0x[0-9a-f]{8})").ToDictionary(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), m => m.Groups[2].Value);
        Assert.Equal(MaglevTable.DefaultSize, slots.Count);
        var lbChain = Regex.Match(table, $@"{Regex.Escape(vip.ToString())} \. tcp \. 80 : goto lb-(\d+)").Groups[1].Value;
        Assert.NotEqual($"slots-{lbChain}", SlotMap(table, "web", vip, 80)); // a spare map, filled before the set's transaction
        for (var slot = 0; slot < MaglevTable.DefaultSize; slot++)
        {
            Assert.Equal(userSpace.Members[userSpace.Maglev!.MemberAt(slot)].Spec.Target.Address.ToString(), targets[slots[slot]]);
        }

        // vm2's probe port closes: only the web listener's slot map changes.
        var otherMap = SlotMap(table, "other", vip, 90);
        var webMapBefore = SlotMap(table, "web", vip, 80);
        await vm2.DisposeAsync();
        await Eventually.TrueAsync(
            async () => (await client.GetDeploymentAsync("svc")).Value.Health.Any(h => h.VmName == "vm2" && h.EndpointName == "web" && h.State == HealthState.Unhealthy),
            Deadline,
            () => "vm2 never left rotation:\n" + net.Server!.Output);
        var after = await Eventually.MatchesAsync(
            () => net.NftAsync("list", "table", "inet", "multivip"),
            t => LbRule(t, vip, 80).Contains($"dnat ip to {KernelNetwork.Vm1}:8080", StringComparison.Ordinal),
            Deadline,
            t => "the web listener still routes to vm2:\n" + t);
        Assert.Equal(ElementsOf(table, otherMap), ElementsOf(after, SlotMap(after, "other", vip, 90)));
        Assert.NotEqual(webMapBefore, string.Empty);
        for (var i = 0; i < 8; i++)
        {
            Assert.Equal("vm1", (await net.AskTcpAsync(web)).Name);
        }

        // Counters per backend reach deployment show.
        var health = (await client.GetDeploymentAsync("svc")).Value.Health.Single(h => h.VmName == "vm1" && h.EndpointName == "web");
        Assert.True(health.TotalConnections > 0, $"vm1 counted no connections: {health}");
        Assert.Contains("table inet mvtest-others", await net.NftAsync("list", "tables"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Acl_deny_drops_the_client_and_udp_flows_of_a_removed_backend_are_deleted_at_once_and_dsr_answers_from_the_vm()
    {
        await using var net = await KernelNetwork.CreateAsync();
        net.Tcp(KernelNetwork.Vm1, 8080, "vm1");
        net.Udp(KernelNetwork.Vm1, 5353, "vm1-udp");
        await net.StartServerAsync();
        using var client = net.Client();
        await client.CreateServiceAsync(new CreateServiceRequest { Name = "svc" });
        await client.AddVmAsync("svc", new AddVmRequest { Name = "vm1", Address = KernelNetwork.Vm1.ToString() });
        await client.AddEndpointAsync("svc", "vm1", new EndpointRequest
        {
            Name = "web", Protocol = "tcp", LocalPort = 8080, PublicPort = 80,
            Acl = [new AclRuleRequest { Order = 1, Action = "deny", RemoteSubnet = "198.18.0.0/24" }],
        });
        await client.AddEndpointAsync("svc", "vm1", new EndpointRequest { Name = "dns", Protocol = "udp", LocalPort = 5353, PublicPort = 53 });
        var vip = IPAddress.Parse((await client.GetDeploymentAsync("svc")).Value.VirtualIps.Single().Address!);

        // ACL: the client's subnet is denied; the packets are dropped before DNAT.
        await Assert.ThrowsAnyAsync<Exception>(() => net.AskTcpAsync(new IPEndPoint(vip, 80)));
        var counters = await net.NftAsync("list", "counters", "table", "inet", "multivip");
        Assert.Matches(new Regex(@"counter listener-\d+-denied \{\s+packets [1-9]"), counters);

        // UDP: a flow exists in conntrack; removing the endpoint deletes it at once (no stale session).
        using var udp = net.ClientNs.OpenSocket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        udp.Bind(new IPEndPoint(KernelNetwork.ClientAddress, 0));
        var answer = await KernelNetwork.AskUdpAsync(udp, new IPEndPoint(vip, 53));
        Assert.Equal("vm1-udp", answer.Name);
        Assert.Equal(new IPEndPoint(vip, 53), answer.From);
        Assert.Contains($"dst={vip}", await ConntrackUdpAsync(net, vip), StringComparison.Ordinal);
        await client.RemoveEndpointAsync("svc", "vm1", "dns");
        Assert.DoesNotContain($"dst={vip}", await ConntrackUdpAsync(net, vip), StringComparison.Ordinal);

        // DSR: the VM holds the VIP on lo; it sees VIP:80 as its own end and answers the client directly.
        await net.Backends.AddAddressAsync("lo", $"{vip}/32");
        net.Tcp(vip, 81, "vm1-dsr");
        await client.AddEndpointAsync("svc", "vm1", new EndpointRequest { Name = "sql", Protocol = "tcp", LocalPort = 81, PublicPort = 81, DirectServerReturn = true });
        var dsr = await net.AskTcpAsync(new IPEndPoint(vip, 81));
        Assert.Equal("vm1-dsr", dsr.Name);
        Assert.Equal(new IPEndPoint(vip, 81), dsr.Local); // destination unchanged
        Assert.Equal(dsr.ClientEnd, dsr.Remote); // the client's own address, no SNAT
        var table = await net.NftAsync("list", "table", "ip", "multivip");
        Assert.Contains($"{vip} . tcp . 81 : goto dsr-", table, StringComparison.Ordinal);
        Assert.Matches(new Regex(@"dup to 192\.0\.2\.11 drop"), table);
        var dsrCounters = await net.NftAsync("list", "counters", "table", "ip", "multivip");
        var id = Regex.Match(table, @"chain be-(\d+) \{\s+counter name ""backend-\d+-in"" dup").Groups[1].Value;
        Assert.Matches(new Regex($@"counter backend-{id}-in \{{\s+packets [1-9]"), dsrCounters); // client → VM through the node
        Assert.Matches(new Regex($@"counter backend-{id}-out \{{\s+packets 0 bytes 0"), dsrCounters); // VM → client never does

        // Floating IP needs the local port to equal the public port: a model rule, so the change is
        // refused before anything is stored (EndpointRules.DirectServerReturnPorts).
        var wrong = await Assert.ThrowsAnyAsync<Exception>(() => client.AddEndpointAsync("svc", "vm1", new EndpointRequest { Name = "sql2", Protocol = "tcp", LocalPort = 1433, PublicPort = 1434, DirectServerReturn = true }));
        Assert.Contains("must equal the public port", wrong.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(await client.ListEndpointsAsync("svc", "vm1"), e => e.Name == "sql2");

        // SIGTERM removes MultiVip's tables in one transaction; a restart renders them again from the stored state.
        net.Server!.Terminate();
        Assert.Equal(0, await net.Server.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.DoesNotContain("multivip", await net.NftAsync("list", "tables"), StringComparison.Ordinal);
        await net.StartServerAsync();
        Assert.Equal("vm1-dsr", (await net.AskTcpAsync(new IPEndPoint(vip, 81))).Name);
        Assert.Contains($"{vip} . tcp . 80 : goto acl-", await net.NftAsync("list", "table", "inet", "multivip"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Kernel_snat_never_keeps_the_client_address_the_idle_timeout_is_conntracks_and_metrics_count_bytes()
    {
        await using var net = await KernelNetwork.CreateAsync();
        net.Tcp(KernelNetwork.Vm1, 8080, "vm1");
        await net.StartServerAsync("--kernel-snat", "never");
        using var client = net.Client();
        await client.CreateServiceAsync(new CreateServiceRequest { Name = "svc" });
        await client.AddVmAsync("svc", new AddVmRequest { Name = "vm1", Address = KernelNetwork.Vm1.ToString() });
        await client.AddEndpointAsync("svc", "vm1", new EndpointRequest { Name = "web", Protocol = "tcp", LocalPort = 8080, PublicPort = 80, IdleTimeoutInMinutes = 5 });
        var vip = IPAddress.Parse((await client.GetDeploymentAsync("svc")).Value.VirtualIps.Single().Address!);

        // The backends route via the node (their default gateway): they see the client itself.
        using var socket = await net.ClientNs.ConnectAsync(new IPEndPoint(vip, 80), TimeSpan.FromSeconds(5));
        var buffer = new byte[256];
        var read = await socket.ReceiveAsync(buffer, SocketFlags.None);
        var (name, _, remote) = WhoAmIBackend.Parse(System.Text.Encoding.ASCII.GetString(buffer, 0, read));
        Assert.Equal("vm1", name);
        Assert.Equal(socket.LocalEndPoint, remote);
        Assert.DoesNotContain("masquerade", await net.NftAsync("list", "table", "inet", "multivip"), StringComparison.Ordinal);

        // The endpoint's idle timeout (5 min) is the established flow's conntrack timeout, not conntrack's 5 days.
        var flow = (await net.Node.ExecAsync("conntrack", "-L", "-p", "tcp", "--orig-dst", vip.ToString())).StandardOutput;
        var timeout = int.Parse(Regex.Match(flow, @"^tcp\s+6\s+(\d+) ESTABLISHED", RegexOptions.Multiline).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(timeout, 250, 300);

        // nft counters reach /metrics (bytes both ways through the node, one connection).
        using var http = new HttpClient { BaseAddress = client.Connection.Api };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", client.Connection.Token);
        var metrics = await Eventually.MatchesAsync(
            () => http.GetStringAsync("/metrics"),
            m => Regex.IsMatch(m, @"multivip_backend_bytes_out_total\{[^}]*vm=""vm1""[^}]*\} [1-9]"),
            Deadline,
            m => "no kernel counters in /metrics:\n" + m);
        Assert.Matches(new Regex(@"multivip_backend_connections_total\{[^}]*vm=""vm1""[^}]*\} 1\b"), metrics);
    }

    /// <summary>
    /// The seed's second scenario: two SQL Server AlwaysOn availability-group listeners on the same two
    /// VMs, each on its own VIP and port 1433 with DSR, the probe port open only on that group's primary
    /// replica. Traffic to each VIP reaches its primary; moving a primary moves that VIP's traffic.
    /// </summary>
    [Fact]
    public async Task AlwaysOn_listeners_reach_their_primary_with_dsr_and_follow_a_failover()
    {
        await using var net = await KernelNetwork.CreateAsync();
        var vm2 = await net.AddSecondVmAsync();
        var sql1 = KernelNetwork.Vm1;
        var sql2 = IPAddress.Parse("192.0.3.21");
        await net.StartServerAsync();
        using var client = net.Client();
        await client.CreateServiceAsync(new CreateServiceRequest { Name = "sql" });
        await client.AddVmAsync("sql", new AddVmRequest { Name = "sql1", Address = sql1.ToString() });
        await client.AddVmAsync("sql", new AddVmRequest { Name = "sql2", Address = sql2.ToString() });
        await client.AddVirtualIpAsync("sql", new AddVirtualIpRequest { Name = "ag1" });
        await client.AddVirtualIpAsync("sql", new AddVirtualIpRequest { Name = "ag2" });
        foreach (var (ag, probePort) in new[] { ("ag1", 59999), ("ag2", 59998) })
        {
            foreach (var vm in new[] { "sql1", "sql2" })
            {
                await client.AddEndpointAsync("sql", vm, new EndpointRequest
                {
                    Name = ag, Protocol = "tcp", LocalPort = 1433, PublicPort = 1433, VirtualIpName = ag, LoadBalancedSetName = ag, DirectServerReturn = true,
                    Probe = new ProbeRequest { Protocol = "tcp", Port = probePort, IntervalInSeconds = 5, TimeoutInSeconds = 11 },
                });
            }
        }

        var vips = (await client.GetDeploymentAsync("sql")).Value.VirtualIps.ToDictionary(v => v.Name, v => IPAddress.Parse(v.Address!));
        foreach (var (ns, name) in new[] { (net.Backends, "sql1"), (vm2, "sql2") })
        {
            foreach (var ag in new[] { "ag1", "ag2" })
            {
                await ns.AddAddressAsync("lo", $"{vips[ag]}/32");
                net.TcpIn(ns, vips[ag], 1433, name);
            }
        }

        // Primaries: sql1 for ag1 (probe 59999), sql2 for ag2 (probe 59998).
        var ag1OnSql1 = net.TcpIn(net.Backends, sql1, 59999, "probe");
        net.TcpIn(vm2, sql2, 59998, "probe");
        await WaitForStateAsync(client, "ag1", "sql2", HealthState.Unhealthy, net);
        await WaitForStateAsync(client, "ag2", "sql1", HealthState.Unhealthy, net);
        await WaitForStateAsync(client, "ag1", "sql1", HealthState.Healthy, net);
        await WaitForStateAsync(client, "ag2", "sql2", HealthState.Healthy, net);
        // As below: the maps are rewritten a moment after the probes report (refused until then).
        await AnswersFromAsync(net, vips["ag1"], "sql1");
        await AnswersFromAsync(net, vips["ag2"], "sql2");
        for (var i = 0; i < 6; i++)
        {
            var one = await net.AskTcpAsync(new IPEndPoint(vips["ag1"], 1433));
            Assert.Equal("sql1", one.Name);
            Assert.Equal(new IPEndPoint(vips["ag1"], 1433), one.Local);
            Assert.Equal(one.ClientEnd, one.Remote);
            Assert.Equal("sql2", (await net.AskTcpAsync(new IPEndPoint(vips["ag2"], 1433))).Name);
        }

        // Failover of ag1: its probe port closes on sql1 and opens on sql2.
        await ag1OnSql1.DisposeAsync();
        net.TcpIn(vm2, sql2, 59999, "probe");
        await WaitForStateAsync(client, "ag1", "sql1", HealthState.Unhealthy, net);
        await WaitForStateAsync(client, "ag1", "sql2", HealthState.Healthy, net);
        // The probes report sql2 healthy a moment before the listener's map is rewritten; until then a
        // new connection may still be refused (no member in rotation), which is not yet the answer.
        await AnswersFromAsync(net, vips["ag1"], "sql2");
        for (var i = 0; i < 6; i++)
        {
            Assert.Equal("sql2", (await net.AskTcpAsync(new IPEndPoint(vips["ag1"], 1433))).Name);
            Assert.Equal("sql2", (await net.AskTcpAsync(new IPEndPoint(vips["ag2"], 1433))).Name);
        }
    }

    private static Task AnswersFromAsync(KernelNetwork net, IPAddress vip, string name) =>
        Eventually.TrueAsync(
            async () =>
            {
                try
                {
                    return (await net.AskTcpAsync(new IPEndPoint(vip, 1433))).Name == name;
                }
                catch (System.Net.Sockets.SocketException)
                {
                    return false;
                }
            },
            Deadline,
            () => $"{vip}:1433 never answered from {name}:\n" + net.Server!.Output);

    private static Task WaitForStateAsync(MultiVip.Client.MultiVipClient client, string endpoint, string vm, HealthState state, KernelNetwork net) =>
        Eventually.TrueAsync(
            async () => (await client.GetDeploymentAsync("sql")).Value.Health.Any(h => h.EndpointName == endpoint && h.VmName == vm && h.State == state),
            Deadline,
            () => $"{vm}/{endpoint} never became {state}:\n" + net.Server!.Output);

    [Fact]
    public async Task Serve_without_cap_net_admin_refuses_the_kernel_plane_and_names_the_capability()
    {
        await using var net = await KernelNetwork.CreateAsync();
        Directory.CreateDirectory(net.DataDir);
        using var server = net.Node.Start("setpriv", [
            "--bounding-set", "-net_admin", "--inh-caps", "-net_admin", "dotnet", Path.Combine(AppContext.BaseDirectory, "multivip.dll"),
            "serve", "--data-dir", net.DataDir, "--api", "http://127.0.0.1:0", "--dns", "off", "--vip-pool", KernelNetwork.Pool, "--data-plane", "nftables",
        ]);
        Assert.NotEqual(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("needs CAP_NET_ADMIN", server.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("multivip", (await net.Node.ExecAsync("nft", "list", "tables")).StandardOutput, StringComparison.Ordinal);
    }

    private static async Task<string> ConntrackUdpAsync(KernelNetwork net, IPAddress vip) =>
        (await net.Node.ExecAsync("conntrack", "-L", "-p", "udp", "--orig-dst", vip.ToString())).StandardOutput;

    /// <summary>The slot map's name of the listener on VIP:port (through its dispatch element and lb chain).</summary>
    private static string SlotMap(string table, string label, IPAddress vip, int port)
    {
        var rule = LbRule(table, vip, port);
        var match = Regex.Match(rule, @" map @(slots-\d+)");
        Assert.True(match.Success, $"{label}: no slot map in '{rule}'");
        return match.Groups[1].Value;
    }

    private static string LbRule(string table, IPAddress vip, int port)
    {
        var lb = Regex.Match(table, $@"{Regex.Escape(vip.ToString())} \. tcp \. {port} : goto (lb-\d+)").Groups[1].Value;
        return Regex.Match(table, $@"chain {lb} \{{\s+([^\n]+)").Groups[1].Value;
    }

    private static string ElementsOf(string table, string map) =>
        Regex.Match(table, $@"map {map} \{{[^}}]*?elements = \{{([^}}]*)\}}", RegexOptions.Singleline).Groups[1].Value;
}
