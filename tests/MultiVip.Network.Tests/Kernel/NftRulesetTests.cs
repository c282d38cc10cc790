using System.Net;
using System.Text.RegularExpressions;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Nftables;
using MultiVip.DataPlane.Routing;
using MultiVip.Model.Services;
using MultiVip.TestSupport.Network;

namespace MultiVip.Network.Tests.Kernel;

/// <summary>
/// The pure rendering of the table (golden text for a small desired state), the flow hash against
/// values the kernel itself computed, and nft accepting the rendering (in a namespace of the test's own).
/// </summary>
public sealed class NftRulesetTests
{
    private static readonly KernelRenderOptions Options = new(Masquerade: true, ConntrackTimeouts: true);

    private static KernelListener Single() => new(
        7,
        new ListenerSpec
        {
            Key = new ListenerKey(IPAddress.Parse("198.51.100.10"), TransportProtocol.Tcp, 80),
            ServiceName = "svc",
            VirtualIpName = "Vip1",
            Backends = [new BackendSpec("vm1", "web", new IPEndPoint(IPAddress.Parse("192.0.2.11"), 8080))],
            Acl =
            [
                new AclRule { Order = 20, Action = AclAction.Deny, RemoteSubnet = "198.18.0.0/24" },
                new AclRule { Order = 10, Action = AclAction.Permit, RemoteSubnet = "198.18.0.7/32" },
                new AclRule { Order = 30, Action = AclAction.Permit, RemoteSubnet = "2001:db8::/32" },
            ],
            IdleTimeout = TimeSpan.FromMinutes(4),
        },
        [new KernelBackend(3, new BackendSpec("vm1", "web", new IPEndPoint(IPAddress.Parse("192.0.2.11"), 8080)))],
        new KernelRoute(3, null, Reject: false));

    private static KernelListener Set(int[] slots, int? direct = null, bool reject = false) => new(
        8,
        new ListenerSpec
        {
            Key = new ListenerKey(IPAddress.Parse("198.51.100.11"), TransportProtocol.Udp, 53),
            ServiceName = "svc",
            VirtualIpName = "Vip2",
            LoadBalancedSetName = "dns",
            Distribution = LoadBalancerDistribution.SourceIPProtocol,
            Backends = [],
        },
        [new KernelBackend(4, new BackendSpec("vm1", "dns", new IPEndPoint(IPAddress.Parse("192.0.2.11"), 53))), new KernelBackend(5, new BackendSpec("vm2", "dns", new IPEndPoint(IPAddress.Parse("192.0.2.12"), 53)))],
        new KernelRoute(direct, slots, reject));

    private static KernelListener Dsr() => new(
        9,
        new ListenerSpec
        {
            Key = new ListenerKey(IPAddress.Parse("198.51.100.12"), TransportProtocol.Tcp, 1433),
            ServiceName = "sql",
            VirtualIpName = "ag1",
            Backends = [],
            DirectServerReturn = true,
            Acl = [new AclRule { Order = 1, Action = AclAction.Deny, RemoteSubnet = "198.18.9.0/24" }],
        },
        [new KernelBackend(6, new BackendSpec("sql1", "ag1", new IPEndPoint(IPAddress.Parse("192.0.2.21"), 1433)))],
        new KernelRoute(6, null, Reject: false));

    [Fact]
    public void A_single_endpoint_with_an_acl_renders_as_golden_text()
    {
        // Elements only, besides the ACL's own chain: no chain or named object per backend, no verdict element
        // but the ACL's dispatch (a goto element makes the kernel validate the whole table at commit).
        const string Golden = """
            add element inet multivip conns { 0x4d000003 }
            add element inet multivip bytes-in { 0x4d000003 }
            add element inet multivip bytes-out { 0x4d000003 }
            add element inet multivip nobackend-ip { 198.51.100.10 . tcp . 80 }
            add ct timeout inet multivip idle-tcp-ip-240 { protocol tcp; l3proto ip; policy = { established : 240 }; }
            add set inet multivip idle-tcp-ip-240 { type ipv4_addr . inet_proto . inet_service; }
            add rule inet multivip nat-timeouts ip daddr . meta l4proto . th dport @idle-tcp-ip-240 ct timeout set "idle-tcp-ip-240"
            add element inet multivip idle-tcp-ip-240 { 198.51.100.10 . tcp . 80 }
            add counter inet multivip listener-7-denied
            add chain inet multivip acl-7
            add rule inet multivip acl-7 ip saddr 198.18.0.7/32 return
            add rule inet multivip acl-7 ip saddr 198.18.0.0/24 counter name "listener-7-denied" drop
            add rule inet multivip acl-7 counter name "listener-7-denied" drop
            add element inet multivip filters-ip { 198.51.100.10 . tcp . 80 : goto acl-7 }
            add element inet multivip marks-ip { 198.51.100.10 . tcp . 80 : 0x4d000003 }
            add element inet multivip direct-ip { 198.51.100.10 . tcp . 80 : 192.0.2.11 . 8080 }

            """;
        Assert.Equal(Golden.ReplaceLineEndings("\n"), NftRuleset.Add(Single(), Options));
    }

    [Fact]
    public void A_set_dispatches_by_the_distributions_jhash_and_a_health_change_touches_only_changed_slots()
    {
        var before = Enumerable.Range(0, MaglevTable.DefaultSize).Select(s => s % 2 == 0 ? 4 : 5).ToArray();
        var add = NftRuleset.Add(Set(before), Options);
        Assert.Contains(
            "add rule inet multivip lb-8 meta l4proto udp ct mark set jhash ip saddr . ip daddr . meta l4proto mod 5003 seed 0x4d564950 map @slots-8 ct mark @conns dnat ip to ct mark map @targets-ip\n",
            add,
            StringComparison.Ordinal);
        Assert.Contains("add element inet multivip targets-ip { 0x4d000004 : 192.0.2.11 . 53, 0x4d000005 : 192.0.2.12 . 53 }\n", add, StringComparison.Ordinal);
        Assert.Contains("add map inet multivip slots-8 { typeof numgen inc mod 5003 : ct mark; size 5003; }\n", add, StringComparison.Ordinal); // a fixed-size hash in the kernel

        // Data, not verdicts: no chain per backend, no goto but the listener's own dispatch element (a
        // jump/goto makes the kernel validate every verdict-map element of the table at commit).
        Assert.DoesNotMatch(@"\bbe-\d", add);
        Assert.Single(Regex.Matches(add, "goto|jump"));
        Assert.Contains("add ct timeout inet multivip idle-udp-ip-240 { protocol udp; l3proto ip; policy = { unreplied : 240, replied : 240 }; }", add, StringComparison.Ordinal);
        Assert.Contains("0 : 0x4d000004, 1 : 0x4d000005, 2 : 0x4d000004", add, StringComparison.Ordinal);

        // Slot 1 moves to backend 4: one delete, one add, nothing else.
        var after = (int[])before.Clone();
        after[1] = 4;
        Assert.Equal(
            "delete element inet multivip slots-8 { 1 }\nadd element inet multivip slots-8 { 1 : 0x4d000004 }\n",
            NftRuleset.UpdateRoute(Set(before), Set(after), Options));

        // Down to one member: the dispatch goes straight to it, the map stays as it is.
        Assert.Equal(
            "flush chain inet multivip lb-8\nadd rule inet multivip lb-8 meta l4proto udp ct mark set 0x4d000004 ct mark @conns dnat ip to 192.0.2.11:53\n",
            NftRuleset.UpdateRoute(Set(before), Set(before, direct: 4), Options));

        // No member: only the listener's key joins the rejecting set (new flows are refused).
        Assert.Equal(
            "add element inet multivip rejecting-ip { 198.51.100.11 . udp . 53 }\n",
            NftRuleset.UpdateRoute(Set(before, direct: 4), Set(before, direct: 4, reject: true), Options));
    }

    /// <summary>What the kernel computed for these tuples (ct mark set jhash …, read back with conntrack -L).</summary>
    [Theory]
    [InlineData(LoadBalancerDistribution.None, 40000, 7000, 2666)]
    [InlineData(LoadBalancerDistribution.SourceIPProtocol, 40001, 7001, 1351)]
    [InlineData(LoadBalancerDistribution.SourceIP, 40002, 7002, 4911)]
    public void The_flow_hash_is_the_kernels_jhash(LoadBalancerDistribution distribution, int sourcePort, int destinationPort, int slot)
    {
        var address = IPAddress.Parse("192.0.2.10");
        Assert.Equal(slot, KernelFlowHash.Slot(distribution, new IPEndPoint(address, sourcePort), new IPEndPoint(address, destinationPort), TransportProtocol.Udp, MaglevTable.DefaultSize));
    }

    /// <summary>The same three tuples through a live kernel: jhash into the conntrack mark, read back.</summary>
    [Fact]
    public async Task The_kernel_agrees_with_the_flow_hash_for_every_distribution()
    {
        await using var namespaces = await NetworkNamespaces.CreateAsync();
        var ns = await namespaces.AddAsync("nf-hash");
        await ns.AddAddressAsync("lo", "192.0.2.10/32");
        var spec = (LoadBalancerDistribution d) => new ListenerSpec
        {
            Key = new ListenerKey(IPAddress.Parse("192.0.2.10"), TransportProtocol.Udp, 7000),
            ServiceName = "s",
            VirtualIpName = "v",
            Backends = [],
            Distribution = d,
        };
        var cases = new[] { (LoadBalancerDistribution.None, 41000, 7100), (LoadBalancerDistribution.SourceIPProtocol, 41001, 7101), (LoadBalancerDistribution.SourceIP, 41002, 7102) };
        var rules = string.Concat(cases.Select(c => $"add rule inet hashcheck out ip daddr 192.0.2.10 udp dport {c.Item3} ct mark set {NftRuleset.HashExpression(spec(c.Item1))}\n"));
        (await Command.TryRunAsync("ip", ["netns", "exec", ns.Name, "nft", "-f", "-"], standardInput:
            "add table inet hashcheck\nadd chain inet hashcheck out { type filter hook output priority 0; policy accept; }\n" + rules)).ThrowIfFailed();
        foreach (var (distribution, sourcePort, destinationPort) in cases)
        {
            ns.Run(() =>
            {
                using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
                socket.Bind(new IPEndPoint(IPAddress.Parse("192.0.2.10"), sourcePort));
                socket.SendTo("x"u8, new IPEndPoint(IPAddress.Parse("192.0.2.10"), destinationPort));
                return 0;
            });
            var flow = (await ns.ExecAsync("conntrack", "-L", "-p", "udp", "--orig-port-dst", destinationPort.ToString(System.Globalization.CultureInfo.InvariantCulture))).StandardOutput;
            var mark = System.Text.RegularExpressions.Regex.Match(flow, @"mark=(\d+)").Groups[1].Value;
            var address = IPAddress.Parse("192.0.2.10");
            var expected = KernelFlowHash.Slot(distribution, new IPEndPoint(address, sourcePort), new IPEndPoint(address, destinationPort), TransportProtocol.Udp, MaglevTable.DefaultSize);
            Assert.Equal(expected.ToString(System.Globalization.CultureInfo.InvariantCulture), mark);
        }
    }

    /// <summary>The whole table with both listeners is what nft accepts, committed in a namespace, then listed back.</summary>
    [Fact]
    public async Task Nft_commits_the_rendered_table_and_lists_it_back()
    {
        await using var namespaces = await NetworkNamespaces.CreateAsync();
        var ns = await namespaces.AddAsync("nf-render");
        var slots = Enumerable.Range(0, MaglevTable.DefaultSize).Select(s => s % 3 == 0 ? 4 : 5).ToArray();
        var text = NftRuleset.Replace(Options, [Single(), Set(slots), Dsr()]);
        (await Command.TryRunAsync("ip", ["netns", "exec", ns.Name, "nft", "-f", "-"], standardInput: text)).ThrowIfFailed();
        var listed = (await ns.ExecAsync("nft", "list", "table", "inet", "multivip")).ThrowIfFailed();
        Assert.Contains("198.51.100.10 . tcp . 80 : 192.0.2.11 . 8080", listed, StringComparison.Ordinal);
        Assert.Contains("198.51.100.10 . tcp . 80 : goto acl-7", listed, StringComparison.Ordinal);
        Assert.Contains("ip saddr 198.18.0.7 return", listed, StringComparison.Ordinal);
        Assert.Contains("ct mark 0x4d000000/8 ct status dnat masquerade", listed, StringComparison.Ordinal);

        // The slot map is a fixed-size one (size 5003); a rotation deletes and re-adds slots in one transaction
        // within that size: slot 0 (backend 4 before) moves to backend 5.
        Assert.Matches(@"map slots-8 \{\s+typeof numgen inc mod 5003 : ct mark\s+size 5003\s", listed);
        var moved = slots.Select((backend, slot) => slot % 7 == 0 ? 5 : backend).ToArray();
        (await Command.TryRunAsync("ip", ["netns", "exec", ns.Name, "nft", "-f", "-"], standardInput: NftRuleset.UpdateRoute(Set(slots), Set(moved), Options))).ThrowIfFailed();
        var rotated = (await ns.ExecAsync("nft", "list", "map", "inet", "multivip", "slots-8")).ThrowIfFailed();
        Assert.Matches(@"(?<!\d)0 : 0x4d000005\b", rotated);
        Assert.Matches(@"(?<!\d)3 : 0x4d000004\b", rotated);
        (await Command.TryRunAsync("ip", ["netns", "exec", ns.Name, "nft", "-f", "-"], standardInput: NftRuleset.UpdateRoute(Set(moved), Set(slots), Options))).ThrowIfFailed();

        var ip = (await ns.ExecAsync("nft", "list", "table", "ip", "multivip")).ThrowIfFailed();
        Assert.Contains("198.51.100.12 . tcp . 1433 : goto dsr-9", ip, StringComparison.Ordinal);
        Assert.Contains("counter name \"backend-6-in\" dup to 192.0.2.21 drop", ip, StringComparison.Ordinal);
        (await Command.TryRunAsync("ip", ["netns", "exec", ns.Name, "nft", "-f", "-"], standardInput: NftRuleset.Remove(Dsr(), Options))).ThrowIfFailed();

        // Removing one listener leaves the other whole; replacing the table again starts from scratch.
        (await Command.TryRunAsync("ip", ["netns", "exec", ns.Name, "nft", "-f", "-"], standardInput: NftRuleset.Remove(Single(), Options))).ThrowIfFailed();
        listed = (await ns.ExecAsync("nft", "list", "table", "inet", "multivip")).ThrowIfFailed();
        Assert.DoesNotContain("acl-7", listed, StringComparison.Ordinal);
        Assert.DoesNotContain("198.51.100.10", listed, StringComparison.Ordinal);
        Assert.Contains("198.51.100.11 . udp . 53 : goto lb-8", listed, StringComparison.Ordinal);
        foreach (var (slot, mark) in new[] { (0, "0x4d000004"), (1, "0x4d000005"), (2, "0x4d000005"), (3, "0x4d000004") })
        {
            Assert.Matches($@"(?<!\d){slot} : {mark}\b", listed);
        }

        Assert.Contains("0x4d000004 : 192.0.2.11 . 53, 0x4d000005 : 192.0.2.12 . 53", listed, StringComparison.Ordinal);

        // Removing the set takes its map, chain and targets with it.
        (await Command.TryRunAsync("ip", ["netns", "exec", ns.Name, "nft", "-f", "-"], standardInput: NftRuleset.Remove(Set(slots), Options))).ThrowIfFailed();
        listed = (await ns.ExecAsync("nft", "list", "table", "inet", "multivip")).ThrowIfFailed();
        Assert.DoesNotContain("slots-8", listed, StringComparison.Ordinal);
        Assert.DoesNotContain("192.0.2.12", listed, StringComparison.Ordinal);
        (await Command.TryRunAsync("ip", ["netns", "exec", ns.Name, "nft", "-f", "-"], standardInput: text)).ThrowIfFailed();
    }

    /// <summary>
    /// What makes a change cheap: nft fills its cache with every chain, set and object before it
    /// evaluates an element or rule, so plain listeners must add none. 200 single endpoints (and one
    /// removed, one changed) leave the chains, sets and named objects the empty table has.
    /// </summary>
    [Fact]
    public async Task Single_endpoints_add_elements_only_no_chain_set_or_object()
    {
        await using var namespaces = await NetworkNamespaces.CreateAsync();
        var ns = await namespaces.AddAsync("nf-flat");
        (await Command.TryRunAsync("ip", ["netns", "exec", ns.Name, "nft", "-f", "-"], standardInput: NftRuleset.Replace(Options, [Flat(1)]))).ThrowIfFailed();
        var empty = await ShapeAsync(ns);
        var listeners = Enumerable.Range(2, 200).Select(Flat).ToList();
        (await Command.TryRunAsync("ip", ["netns", "exec", ns.Name, "nft", "-f", "-"], standardInput: NftRuleset.Replace(Options, [Flat(1), .. listeners]))).ThrowIfFailed();
        Assert.Equal(empty, await ShapeAsync(ns));
        var changed = listeners[0] with { Id = 500, Backends = [new KernelBackend(900, listeners[0].Backends[0].Spec)], Route = new KernelRoute(900, null, Reject: true) };
        (await Command.TryRunAsync("ip", ["netns", "exec", ns.Name, "nft", "-f", "-"], standardInput:
            NftRuleset.Remove(listeners[1], Options) + NftRuleset.Remove(listeners[0], Options) + NftRuleset.Add(changed, Options))).ThrowIfFailed();
        Assert.Equal(empty, await ShapeAsync(ns));
        var listed = (await ns.ExecAsync("nft", "list", "table", "inet", "multivip")).ThrowIfFailed();
        Assert.Contains("elements = { 198.51.100.2 . tcp . 80 }", listed, StringComparison.Ordinal); // rejecting-ip
        Assert.DoesNotContain("198.51.100.3 ", listed, StringComparison.Ordinal);
    }

    private static KernelListener Flat(int n)
    {
        var address = new IPAddress([198, 51, (byte)(100 + (n / 250)), (byte)(n % 250)]);
        var backend = new BackendSpec("vm1", "web", new IPEndPoint(IPAddress.Parse("192.0.2.11"), 8000 + n));
        return new KernelListener(
            n,
            new ListenerSpec { Key = new ListenerKey(address, TransportProtocol.Tcp, 80), ServiceName = "svc", VirtualIpName = "Vip1", Backends = [backend], IdleTimeout = TimeSpan.FromMinutes(4) },
            [new KernelBackend(n, backend)],
            new KernelRoute(n, null, Reject: false));
    }

    /// <summary>How many chains, sets and named objects MultiVip's tables hold.</summary>
    private static async Task<string> ShapeAsync(NetworkNamespace ns)
    {
        var ruleset = (await ns.ExecAsync("nft", "-t", "list", "ruleset")).ThrowIfFailed();
        var count = (string pattern) => Regex.Count(ruleset, pattern, RegexOptions.Multiline);
        return $"chains {count(@"^\s+chain ")}, sets {count(@"^\s+(set|map) ")}, counters {count(@"^\s+counter [\w-]+ \{")}, timeouts {count(@"^\s+ct timeout ")}";
    }
}
