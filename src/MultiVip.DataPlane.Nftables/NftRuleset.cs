using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Routing;
using MultiVip.Model.Networking;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Nftables;

/// <summary>A backend as the table knows it: a number unique in the table (chain, counters, conntrack mark) and its spec.</summary>
internal sealed record KernelBackend(int Id, BackendSpec Spec)
{
    /// <summary>The conntrack mark of connections sent to this backend: 0x4d (M) in the top byte, the id below.</summary>
    public uint Mark => NftRuleset.MarkPrefix | (uint)Id;
}

/// <summary>
/// Where a listener's new connections go right now: one backend (<see cref="Direct"/>), or the Maglev
/// table over the members in rotation (<see cref="Slots"/>: slot → backend id). <see cref="Reject"/>
/// when no member is in rotation: new connections are refused and the targets keep the last members
/// (established connections are conntrack's and go on).
/// </summary>
internal sealed record KernelRoute(int? Direct, int[]? Slots, bool Reject)
{
    public bool SameTargets(KernelRoute other) =>
        Direct == other.Direct && (Slots is null ? other.Slots is null : other.Slots is not null && Slots.AsSpan().SequenceEqual(other.Slots));

    public override string ToString() => $"{(Reject ? "reject; " : "")}{(Direct is { } d ? $"backend-{d}" : $"slots over {Slots?.Distinct().Count()} backends")}";
}

/// <summary>One listener as rendered: its number in the table, spec, backends and route.</summary>
internal sealed record KernelListener(int Id, ListenerSpec Spec, IReadOnlyList<KernelBackend> Backends, KernelRoute Route)
{
    public bool IsIpv6 => Spec.Key.Address.AddressFamily == AddressFamily.InterNetworkV6;

    /// <summary>A set (or more than one backend) gets a slot map; a single endpoint is one goto.</summary>
    public bool HasSlotMap => Spec.LoadBalancedSetName is not null || Backends.Count > 1;

    /// <summary>An ACL needs rules of its own (a chain); a listener without one is only elements.</summary>
    public bool HasAcl => Spec.Acl.Any();

    /// <summary>
    /// A spare slot map (<c>slots-N</c>, N from the listener numbers) the data plane filled through netlink
    /// before this listener's transaction (<see cref="NftSetElements"/>): its rules use that map and write no elements.
    /// </summary>
    public int? SpareSlotMap { get; init; }

    /// <summary>The number in the name of the listener's slot map: its own, or the spare it took.</summary>
    public int SlotMapId => SpareSlotMap ?? Id;
}

/// <summary>What the rendering depends on besides the listeners: the SNAT mode and conntrack timeout support.</summary>
internal sealed record KernelRenderOptions(bool Masquerade, bool ConntrackTimeouts);

/// <summary>
/// Renders the tables <c>inet multivip</c> (and <c>ip</c>/<c>ip6 multivip</c> for DSR) as <c>nft -f</c>
/// text, pure (no I/O, golden-tested), after kube-proxy's nftables mode: base chains dispatch through
/// maps keyed by <c>daddr . l4proto . dport</c> (one lookup however many listeners).
/// <para>
/// The layout keeps the number of chains, sets and named objects independent of the number of plain
/// listeners, because that number is what every change costs: before evaluating an <c>add element</c> or
/// <c>add rule</c>, nft (1.0.6) dumps every chain, set and object of the ruleset into its cache, so a
/// table with a few chains per listener made one change cost O(table) (1.3 s CPU at 10,000 listeners).
/// A single endpoint without ACL is therefore only elements: its backend (<c>direct-ip</c>: address .
/// port), its conntrack mark (<c>marks-ip</c>), its idle timeout (<c>idle-ip</c> → a chain shared by all
/// listeners with that timeout) and its counters as counters of set elements (<c>conns</c>,
/// <c>bytes-in</c>, <c>bytes-out</c> by mark, <c>nobackend-ip</c> by key). Only what needs rules of its own
/// has chains: an ACL (<c>acl-L</c>), a load-balanced set (<c>lb-L</c>, one rule, its Maglev map <c>slots-L</c>
/// slot → the backend's mark as data and <c>targets-ip</c> mark → address . port: no verdict element, so no
/// table-wide validation at commit), and DSR listeners (their own tables, slot → <c>goto be-B</c>, as before).
/// </para>
/// <list type="bullet">
/// <item><c>filter-prerouting</c>/<c>filter-output</c> (before DNAT): <c>acl-L</c> (Azure's ACL order; a permit returns) then <c>admit</c> (rejects new connections to a listener in <c>rejecting-ip</c>: no member in rotation).</item>
/// <item><c>dsr-prerouting</c> (tables <c>ip multivip</c>, <c>ip6 multivip</c>: nft's dup exists only there), at priority raw, before conntrack: DSR listeners' ACL, admission and member; the chosen VM gets the packet unchanged (dup to it as next hop, original dropped), and the node keeps no conntrack entry for it (bench/run --kernel-dsr: conntrack met every original packet when this ran after it).</item>
/// <item><c>nat-prerouting</c>/<c>nat-output</c>: the idle timeout, then a set's <c>lb-L</c> (<c>ct mark set jhash … mod 5003 seed … map @slots-L … dnat ip to ct mark map @targets-ip</c>: the user-space plane's Maglev table) or a single endpoint's mark and DNAT straight from the maps.</item>
/// <item><c>nat-postrouting</c>: masquerade of marked connections (unless <c>--kernel-snat never</c>); <c>count-forward</c>: bytes per backend and direction by conntrack mark.</item>
/// </list>
/// </summary>
internal static class NftRuleset
{
    public const string TableName = "multivip";

    public const string Table = "inet multivip";

    /// <summary>
    /// nft's dup exists only in the ip and ip6 families, so DSR listeners live in <c>ip multivip</c> /
    /// <c>ip6 multivip</c> (same name, MultiVip's too), committed in the same transactions as the inet table.
    /// </summary>
    public static readonly string[] Tables = [Table, "ip multivip", "ip6 multivip"];

    /// <summary>The sets whose elements carry counters (read back by <see cref="NftCommand.Counters"/>).</summary>
    public static readonly string[] CountingSets = ["conns", "bytes-in", "bytes-out", "nobackend-ip", "nobackend-ip6"];

    private static string TableOf(KernelListener listener) =>
        !listener.Spec.DirectServerReturn ? Table : listener.IsIpv6 ? "ip6 multivip" : "ip multivip";

    /// <summary>Top byte of the conntrack marks MultiVip sets (0x4d, "M"); the rest is the backend id.</summary>
    public const uint MarkPrefix = 0x4d000000;

    public const uint MarkMask = 0xff000000;

    public const int MaxBackendId = 0x00ffffff;

    private const string Key4 = "ipv4_addr . inet_proto . inet_service";

    private const string Key6 = "ipv6_addr . inet_proto . inet_service";

    /// <summary>The whole table from nothing, replacing whatever a previous run left: one transaction, so never half-written.</summary>
    public static string Replace(KernelRenderOptions options, IEnumerable<KernelListener> listeners, ISet<string>? declared = null)
    {
        var text = new StringBuilder();
        text.Append(DeleteAll());
        text.Append(Skeleton(options));
        declared ??= new HashSet<string>(StringComparer.Ordinal);
        foreach (var listener in listeners)
        {
            text.Append(Add(listener, options, declared));
        }

        return text.ToString();
    }

    /// <summary>Deletes MultiVip's tables whether they exist or not (declaring a table first makes the delete unconditional).</summary>
    public static string DeleteAll() => string.Concat(Tables.Select(t => $"table {t}\ndelete table {t}\n"));

    /// <summary>The base chains, dispatch maps and counting sets, empty of listeners.</summary>
    public static string Skeleton(KernelRenderOptions options)
    {
        var masquerade = options.Masquerade
            ? $"\t\tct mark & {Hex(MarkMask)} == {Hex(MarkPrefix)} ct status dnat masquerade\n"
            : "\t\t# --kernel-snat never: clients' addresses reach the backends (they route replies via this node)\n";
        return $$"""
            table {{Table}} {
            	map filters-ip {
            		type {{Key4}} : verdict
            	}
            	map filters-ip6 {
            		type {{Key6}} : verdict
            	}
            	set rejecting-ip {
            		type {{Key4}}
            	}
            	set rejecting-ip6 {
            		type {{Key6}}
            	}
            	set nobackend-ip {
            		type {{Key4}}
            		counter
            	}
            	set nobackend-ip6 {
            		type {{Key6}}
            		counter
            	}
            	map listeners-ip {
            		type {{Key4}} : verdict
            	}
            	map listeners-ip6 {
            		type {{Key6}} : verdict
            	}
            	map direct-ip {
            		type {{Key4}} : ipv4_addr . inet_service
            	}
            	map direct-ip6 {
            		type {{Key6}} : ipv6_addr . inet_service
            	}
            	map marks-ip {
            		type {{Key4}} : mark
            	}
            	map marks-ip6 {
            		type {{Key6}} : mark
            	}
            	map targets-ip {
            		type mark : ipv4_addr . inet_service
            	}
            	map targets-ip6 {
            		type mark : ipv6_addr . inet_service
            	}
            	set conns {
            		type mark
            		counter
            	}
            	set bytes-in {
            		type mark
            		counter
            	}
            	set bytes-out {
            		type mark
            		counter
            	}
            	chain filter-dispatch {
            		ip daddr . meta l4proto . th dport vmap @filters-ip
            		ip6 daddr . meta l4proto . th dport vmap @filters-ip6
            	}
            	chain admit {
            		meta l4proto tcp ct state new ip daddr . meta l4proto . th dport @rejecting-ip ip daddr . meta l4proto . th dport @nobackend-ip reject with tcp reset
            		meta l4proto udp ct state new ip daddr . meta l4proto . th dport @rejecting-ip ip daddr . meta l4proto . th dport @nobackend-ip reject
            		meta l4proto tcp ct state new ip6 daddr . meta l4proto . th dport @rejecting-ip6 ip6 daddr . meta l4proto . th dport @nobackend-ip6 reject with tcp reset
            		meta l4proto udp ct state new ip6 daddr . meta l4proto . th dport @rejecting-ip6 ip6 daddr . meta l4proto . th dport @nobackend-ip6 reject
            	}
            	chain filter-prerouting {
            		type filter hook prerouting priority dstnat - 10; policy accept;
            		jump filter-dispatch
            		jump admit
            	}
            	chain filter-output {
            		type filter hook output priority -110; policy accept;
            		jump filter-dispatch
            		jump admit
            	}
            	chain nat-timeouts {
            	}
            	chain nat-dispatch {
            		ip daddr . meta l4proto . th dport vmap @listeners-ip
            		ip6 daddr . meta l4proto . th dport vmap @listeners-ip6
            		meta l4proto { tcp, udp } ct mark set ip daddr . meta l4proto . th dport map @marks-ip ct mark @conns dnat ip to ip daddr . meta l4proto . th dport map @direct-ip
            		meta l4proto { tcp, udp } ct mark set ip6 daddr . meta l4proto . th dport map @marks-ip6 ct mark @conns dnat ip6 to ip6 daddr . meta l4proto . th dport map @direct-ip6
            	}
            	chain nat-prerouting {
            		type nat hook prerouting priority dstnat; policy accept;
            		jump nat-timeouts
            		jump nat-dispatch
            	}
            	chain nat-output {
            		type nat hook output priority -100; policy accept;
            		jump nat-timeouts
            		jump nat-dispatch
            	}
            	chain nat-postrouting {
            		type nat hook postrouting priority srcnat; policy accept;
            {{masquerade}}	}
            	chain count-forward {
            		type filter hook forward priority filter; policy accept;
            		ct direction original ct mark @bytes-in
            		ct direction reply ct mark @bytes-out
            	}
            }
            table ip multivip {
            	map dsr {
            		type ipv4_addr . inet_proto . inet_service : verdict
            	}
            	chain dsr-prerouting {
            		type filter hook prerouting priority raw; policy accept;
            		ip daddr . meta l4proto . th dport vmap @dsr
            	}
            }
            table ip6 multivip {
            	map dsr {
            		type ipv6_addr . inet_proto . inet_service : verdict
            	}
            	chain dsr-prerouting {
            		type filter hook prerouting priority raw; policy accept;
            		ip6 daddr . meta l4proto . th dport vmap @dsr
            	}
            }

            """;
    }

    /// <summary>
    /// Every object of one listener, and its dispatch elements last (so traffic meets it complete).
    /// <paramref name="declared"/>: the shared idle-timeout policies the table has or this transaction already declares; this listener's is added to it.
    /// </summary>
    public static string Add(KernelListener listener, KernelRenderOptions options, ISet<string>? declared = null)
    {
        if (listener.Spec.DirectServerReturn)
        {
            return AddDsr(listener);
        }

        var l = listener.Id;
        var key = DispatchKey(listener.Spec.Key);
        var family = Family(listener);
        var t = new StringBuilder();
        if (listener.Backends.Count > 0)
        {
            var marks = string.Join(", ", listener.Backends.Select(b => Hex(b.Mark)));
            foreach (var set in new[] { "conns", "bytes-in", "bytes-out" })
            {
                t.Append($"add element {Table} {set} {{ {marks} }}\n");
            }
        }

        t.Append($"add element {Table} nobackend-{family} {{ {key} }}\n");
        if (options.ConntrackTimeouts)
        {
            var timeout = TimeoutName(listener);
            if (declared is null || declared.Add(timeout))
            {
                t.Append(TimeoutObject(listener, timeout));
            }

            t.Append($"add element {Table} {timeout} {{ {key} }}\n");
        }

        if (listener.HasAcl)
        {
            t.Append($"add counter {Table} listener-{l}-denied\n");
            t.Append($"add chain {Table} acl-{l}\n");
            t.Append(AclRules(listener, "return"));
        }

        if (listener.HasSlotMap)
        {
            // Data, not verdicts: slot → the backend's mark, mark → its address . port (targets-ip). No chain
            // per backend and no jump/goto element, so a set's change never makes the kernel walk the
            // table's verdict maps at commit (5,003 elements per set did).
            if (listener.Backends.Count > 0)
            {
                t.Append($"add element {Table} targets-{family} {{ {string.Join(", ", listener.Backends.Select(b => $"{Hex(b.Mark)} : {Target(b)}"))} }}\n");
            }

            if (listener.SpareSlotMap is null)
            {
                t.Append(SlotMap(Table, listener.SlotMapId, dsr: false));
                if (listener.Route.Slots is { } slots)
                {
                    t.Append(SlotElements("add", Table, listener, slots, Enumerable.Range(0, slots.Length)));
                }
            }

            t.Append($"add chain {Table} lb-{l}\n");
            t.Append($"add rule {Table} lb-{l} {DispatchRule(listener)}\n");
        }

        if (listener.Route.Reject)
        {
            t.Append($"add element {Table} rejecting-{family} {{ {key} }}\n");
        }

        if (listener.HasAcl)
        {
            t.Append($"add element {Table} filters-{family} {{ {key} : goto acl-{l} }}\n");
        }

        if (listener.HasSlotMap)
        {
            t.Append($"add element {Table} listeners-{family} {{ {key} : goto lb-{l} }}\n");
        }
        else if (listener.Backends.Count == 1)
        {
            var backend = listener.Backends[0];
            t.Append($"add element {Table} marks-{family} {{ {key} : {Hex(backend.Mark)} }}\n");
            t.Append($"add element {Table} direct-{family} {{ {key} : {Target(backend)} }}\n");
        }

        return t.ToString();
    }

    /// <summary>Every object of one listener, dispatch elements first (so no packet meets it half-removed), rules flushed before their chains go.</summary>
    public static string Remove(KernelListener listener, KernelRenderOptions options)
    {
        if (listener.Spec.DirectServerReturn)
        {
            return RemoveDsr(listener);
        }

        var l = listener.Id;
        var key = DispatchKey(listener.Spec.Key);
        var family = Family(listener);
        var t = new StringBuilder();
        if (listener.HasSlotMap)
        {
            t.Append($"delete element {Table} listeners-{family} {{ {key} }}\n");
        }
        else if (listener.Backends.Count == 1)
        {
            t.Append($"delete element {Table} direct-{family} {{ {key} }}\n");
            t.Append($"delete element {Table} marks-{family} {{ {key} }}\n");
        }

        if (listener.HasAcl)
        {
            t.Append($"delete element {Table} filters-{family} {{ {key} }}\n");
        }

        if (listener.Route.Reject)
        {
            t.Append($"delete element {Table} rejecting-{family} {{ {key} }}\n");
        }

        if (options.ConntrackTimeouts)
        {
            t.Append($"delete element {Table} {TimeoutName(listener)} {{ {key} }}\n");
        }

        t.Append($"delete element {Table} nobackend-{family} {{ {key} }}\n");
        if (listener.Backends.Count > 0)
        {
            var marks = string.Join(", ", listener.Backends.Select(b => Hex(b.Mark)));
            foreach (var set in new[] { "conns", "bytes-in", "bytes-out" })
            {
                t.Append($"delete element {Table} {set} {{ {marks} }}\n");
            }

            if (listener.HasSlotMap)
            {
                t.Append($"delete element {Table} targets-{family} {{ {marks} }}\n");
            }
        }

        var chains = new List<string>();
        if (listener.HasSlotMap)
        {
            chains.Add($"lb-{l}");
        }

        if (listener.HasAcl)
        {
            chains.Add($"acl-{l}");
        }

        foreach (var chain in chains)
        {
            t.Append($"flush chain {Table} {chain}\n");
        }

        if (listener.HasSlotMap)
        {
            t.Append($"delete map {Table} slots-{listener.SlotMapId}\n");
        }

        foreach (var chain in chains)
        {
            t.Append($"delete chain {Table} {chain}\n");
        }

        if (listener.HasAcl)
        {
            t.Append($"delete counter {Table} listener-{l}-denied\n");
        }

        // The shared idle-timeout chains and objects stay: others may use them, and an unused one costs nothing.
        return t.ToString();
    }

    /// <summary>
    /// A health change of one listener: only the slots whose backend changed are rewritten, the
    /// dispatch rule only when it switches between one backend and the map, admission only when
    /// the listener gains or loses its last member. Nothing of other listeners is named.
    /// </summary>
    public static string UpdateRoute(KernelListener before, KernelListener after, KernelRenderOptions options)
    {
        var l = after.Id;
        var table = TableOf(after);
        var dsr = after.Spec.DirectServerReturn;
        var t = new StringBuilder();
        if (before.Route.Reject != after.Route.Reject)
        {
            if (dsr)
            {
                t.Append($"flush chain {table} admit-{l}\n");
                t.Append(DsrAdmitRules(after));
            }
            else
            {
                t.Append($"{(after.Route.Reject ? "add" : "delete")} element {Table} rejecting-{Family(after)} {{ {DispatchKey(after.Spec.Key)} }}\n");
            }
        }

        if (after.Route.Slots is { } slots && after.HasSlotMap && !ReferenceEquals(slots, before.Route.Slots))
        {
            var old = before.Route.Slots;
            var changed = Enumerable.Range(0, slots.Length).Where(s => old is null || old[s] != slots[s]).ToList();
            if (old is not null && changed.Count > 0)
            {
                t.Append($"delete element {table} slots-{after.SlotMapId} {{ {string.Join(", ", changed.Select(s => s.ToString(CultureInfo.InvariantCulture)))} }}\n");
            }

            if (changed.Count > 0)
            {
                t.Append(SlotElements("add", table, after, slots, changed));
            }
        }

        if (before.Route.Direct != after.Route.Direct && (after.HasSlotMap || dsr))
        {
            t.Append($"flush chain {table} lb-{l}\n");
            t.Append($"add rule {table} lb-{l} {DispatchRule(after)}\n");
        }

        return t.ToString();
    }

    /// <summary>The name under which a listener's refused new connections are counted (see <see cref="NftCommand.Counters"/>).</summary>
    public static string NoBackendCounter(KernelListener listener) =>
        listener.Spec.DirectServerReturn ? $"listener-{listener.Id}-nobackend" : NoBackendCounter(DispatchKey(listener.Spec.Key));

    public static string NoBackendCounter(string dispatchKey) => $"nobackend {dispatchKey}";

    private static string Family(KernelListener listener) => listener.IsIpv6 ? "ip6" : "ip";

    /// <summary>A DSR listener: chains and named counters of its own in <c>ip</c>/<c>ip6 multivip</c> (few, and dup needs a rule per VM).</summary>
    private static string AddDsr(KernelListener listener)
    {
        var l = listener.Id;
        var table = TableOf(listener);
        var t = new StringBuilder();
        t.Append($"add counter {table} listener-{l}-denied\n");
        t.Append($"add counter {table} listener-{l}-nobackend\n");
        foreach (var b in listener.Backends)
        {
            t.Append($"add counter {table} backend-{b.Id}-conns\n");
            t.Append($"add counter {table} backend-{b.Id}-in\n");
            t.Append($"add counter {table} backend-{b.Id}-out\n");
        }

        t.Append($"add chain {table} admit-{l}\n");
        t.Append(DsrAdmitRules(listener));
        t.Append($"add chain {table} acl-{l}\n");
        t.Append(AclRules(listener, $"goto admit-{l}"));
        foreach (var b in listener.Backends)
        {
            t.Append($"add chain {table} be-{b.Id}\n");
            t.Append($"add rule {table} be-{b.Id} {BackendRule(listener, b)}\n");
        }

        if (listener.HasSlotMap)
        {
            t.Append(SlotMap(table, listener.SlotMapId, dsr: true));
            if (listener.Route.Slots is { } slots)
            {
                t.Append(SlotElements("add", table, listener, slots, Enumerable.Range(0, slots.Length)));
            }
        }

        t.Append($"add chain {table} lb-{l}\n");
        t.Append($"add rule {table} lb-{l} {DispatchRule(listener)}\n");

        // ACL and admission first (jump: a permit comes back here), then the member.
        t.Append($"add chain {table} dsr-{l}\n");
        t.Append($"add rule {table} dsr-{l} jump acl-{l}\n");
        t.Append($"add rule {table} dsr-{l} goto lb-{l}\n");
        t.Append($"add element {table} dsr {{ {DispatchKey(listener.Spec.Key)} : goto dsr-{l} }}\n");
        return t.ToString();
    }

    private static string RemoveDsr(KernelListener listener)
    {
        var l = listener.Id;
        var table = TableOf(listener);
        var t = new StringBuilder();
        t.Append($"delete element {table} dsr {{ {DispatchKey(listener.Spec.Key)} }}\n");
        var chains = new List<string> { $"dsr-{l}", $"lb-{l}", $"acl-{l}", $"admit-{l}" };
        chains.AddRange(listener.Backends.Select(b => $"be-{b.Id}"));
        foreach (var chain in chains)
        {
            t.Append($"flush chain {table} {chain}\n");
        }

        if (listener.HasSlotMap)
        {
            t.Append($"delete map {table} slots-{l}\n");
        }

        foreach (var chain in chains)
        {
            t.Append($"delete chain {table} {chain}\n");
        }

        t.Append($"delete counter {table} listener-{l}-denied\n");
        t.Append($"delete counter {table} listener-{l}-nobackend\n");
        foreach (var b in listener.Backends)
        {
            t.Append($"delete counter {table} backend-{b.Id}-conns\n");
            t.Append($"delete counter {table} backend-{b.Id}-in\n");
            t.Append($"delete counter {table} backend-{b.Id}-out\n");
        }

        return t.ToString();
    }

    /// <summary>"192.0.2.10 . tcp . 80": the dispatch maps' key.</summary>
    public static string DispatchKey(ListenerKey key) =>
        $"{key.Address} . {Protocol(key.Protocol)} . {key.Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The nft expression the user-space plane's <see cref="KernelFlowHash"/> reproduces, per distribution mode.</summary>
    public static string HashExpression(ListenerSpec spec)
    {
        var ip = spec.Key.Address.AddressFamily == AddressFamily.InterNetworkV6 ? "ip6" : "ip";
        var fields = spec.Distribution switch
        {
            LoadBalancerDistribution.SourceIP => $"{ip} saddr . {ip} daddr",
            LoadBalancerDistribution.SourceIPProtocol => $"{ip} saddr . {ip} daddr . meta l4proto",
            _ => $"{ip} saddr . {ip} daddr . meta l4proto . th sport . th dport",
        };
        return $"jhash {fields} mod {MaglevTable.DefaultSize} seed {Hex(KernelFlowHash.Seed)}";
    }

    /// <summary>
    /// The rule of <c>lb-L</c>. A NAT listener marks, counts and DNATs in this one rule: to its one member
    /// left, or through the slot map (slot → mark) and <c>targets-ip</c> (mark → address . port; the
    /// <c>ct mark</c> read is the one just set). A DSR listener goes to the member's chain (dup needs a rule per VM).
    /// </summary>
    private static string DispatchRule(KernelListener listener)
    {
        if (listener.Spec.DirectServerReturn)
        {
            return listener.Route.Direct is { } direct ? $"goto be-{direct}" : $"{HashExpression(listener.Spec)} vmap @slots-{listener.SlotMapId}";
        }

        if (listener.Route.Direct is { } only)
        {
            return BackendRule(listener, listener.Backends.First(b => b.Id == only));
        }

        return $"meta l4proto {Protocol(listener.Spec.Key.Protocol)} ct mark set {HashExpression(listener.Spec)} map @slots-{listener.SlotMapId} ct mark @conns "
            + $"dnat {Family(listener)} to ct mark map @targets-{Family(listener)}";
    }

    /// <summary>
    /// A NAT listener's slot map holds marks (data); a DSR listener's holds gotos to its members' dup chains.
    /// A NAT map is declared with its size (exactly the 5,003 slots, never more): the kernel then keeps it in
    /// its fixed-size hash rather than the resizable rhashtable, and a new set's netlink write of all its slots
    /// took 1.7 ms instead of 4.1-5.3 (kernel-scale --breakdown, 2026-12-02); a rotation's delete + add of the
    /// same slots in one transaction stays within the size.
    /// </summary>
    private static string SlotMap(string table, int number, bool dsr) =>
        $"add map {table} slots-{number.ToString(CultureInfo.InvariantCulture)} {{ typeof numgen inc mod {MaglevTable.DefaultSize} : {(dsr ? "verdict; " : $"ct mark; size {MaglevTable.DefaultSize}; ")}}}\n";

    /// <summary>An empty NAT slot map kept ready for the next load-balanced listener (filled through netlink, then used by its rule).</summary>
    public static string SpareSlotMap(int number) => SlotMap(Table, number, dsr: false);

    /// <summary>Empties a spare whose listener's transaction was refused, so it can serve the next one.</summary>
    public static string FlushSlotMap(int number) => $"flush map {Table} slots-{number.ToString(CultureInfo.InvariantCulture)}\n";

    /// <summary>The values of a NAT slot map as the kernel holds them (slot → the backend's conntrack mark), for <see cref="NftSetElements"/>.</summary>
    public static uint[] SlotMarks(int[] slots) => [.. slots.Select(id => MarkPrefix | (uint)id)];

    /// <summary>"192.0.2.11 . 8080": a backend as the value of <c>direct-ip</c> and <c>targets-ip</c>.</summary>
    private static string Target(KernelBackend backend) =>
        $"{backend.Spec.Target.Address} . {backend.Spec.Target.Port.ToString(CultureInfo.InvariantCulture)}";

    private static string BackendRule(KernelListener listener, KernelBackend backend)
    {
        var target = backend.Spec.Target;
        var protocol = Protocol(listener.Spec.Key.Protocol);
        var ip = listener.IsIpv6 ? "ip6" : "ip";
        if (listener.Spec.DirectServerReturn)
        {
            // Floating IP: the packet keeps VIP:port; the VM is only the next hop. The copy dup sends is
            // untracked (no NAT, no conntrack on this node); the original is dropped.
            return $"counter name \"backend-{backend.Id}-in\" dup to {target.Address} drop";
        }

        var address = listener.IsIpv6 ? $"[{target.Address}]" : target.Address.ToString();
        return $"meta l4proto {protocol} ct mark set {Hex(backend.Mark)} ct mark @conns dnat {ip} to {address}:{target.Port.ToString(CultureInfo.InvariantCulture)}";
    }

    private static string DsrAdmitRules(KernelListener listener)
    {
        if (!listener.Route.Reject)
        {
            return "";
        }

        // DSR runs before conntrack (no state on the node), so a new connection is told by its packet: a
        // TCP SYN without ACK; established connections go on. UDP has no such mark: every datagram is refused.
        var l = listener.Id;
        var refused = listener.Spec.Key.Protocol == TransportProtocol.Tcp
            ? "tcp flags & (syn | ack) == syn counter name \"listener-" + l.ToString(CultureInfo.InvariantCulture) + "-nobackend\" reject with tcp reset"
            : $"counter name \"listener-{l}-nobackend\" reject";
        return $"add rule {TableOf(listener)} admit-{l} {refused}\n";
    }

    /// <summary>The listener's ACL in Azure's order; <paramref name="permit"/> is where an admitted packet goes on.</summary>
    private static string AclRules(KernelListener listener, string permit)
    {
        var l = listener.Id;
        var ip = listener.IsIpv6 ? "ip6" : "ip";
        var family = listener.IsIpv6 ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;
        var t = new StringBuilder();
        var rules = listener.Spec.Acl.OrderBy(r => r.Order).ToList();
        foreach (var rule in rules)
        {
            var subnet = IpSubnet.Parse(rule.RemoteSubnet);
            if (subnet.Family != family)
            {
                continue; // a client matches only rules of its own family, and this VIP has one family
            }

            var verdict = rule.Action == AclAction.Permit ? permit : $"counter name \"listener-{l}-denied\" drop";
            t.Append($"add rule {TableOf(listener)} acl-{l} {ip} saddr {subnet} {verdict}\n");
        }

        // Azure: nothing matched → deny when any rule permits (an allow-list), else allow.
        var allowList = rules.Any(r => r.Action == AclAction.Permit);
        t.Append(allowList
            ? $"add rule {TableOf(listener)} acl-{l} counter name \"listener-{l}-denied\" drop\n"
            : $"add rule {TableOf(listener)} acl-{l} {permit}\n");
        return t.ToString();
    }

    /// <summary>One idle-timeout policy per protocol, family and length, shared by every listener with it: "idle-tcp-ip-240".</summary>
    private static string TimeoutName(KernelListener listener) =>
        $"idle-{Protocol(listener.Spec.Key.Protocol)}-{Family(listener)}-{IdleSeconds(listener)}";

    private static string IdleSeconds(KernelListener listener) =>
        Math.Max(1, (long)listener.Spec.IdleTimeout.TotalSeconds).ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// The policy, the set of listeners that have it and the rule that applies it, declared once per table
    /// (the data plane remembers what it committed). A set without verdicts on purpose: a jump or goto
    /// element makes the kernel validate the whole table at commit (every verdict-map element), which a
    /// plain listener's change must not cost.
    /// </summary>
    private static string TimeoutObject(KernelListener listener, string name)
    {
        var seconds = IdleSeconds(listener);
        var policy = listener.Spec.Key.Protocol == TransportProtocol.Tcp
            ? $"established : {seconds}"
            : $"unreplied : {seconds}, replied : {seconds}";
        var family = Family(listener);
        return $"add ct timeout {Table} {name} {{ protocol {Protocol(listener.Spec.Key.Protocol)}; l3proto {family}; policy = {{ {policy} }}; }}\n"
            + $"add set {Table} {name} {{ type {(listener.IsIpv6 ? Key6 : Key4)}; }}\n"
            + $"add rule {Table} nat-timeouts {family} daddr . meta l4proto . th dport @{name} ct timeout set \"{name}\"\n";
    }

    private static string SlotElements(string verb, string table, KernelListener listener, int[] slots, IEnumerable<int> which)
    {
        var dsr = listener.Spec.DirectServerReturn;
        var t = new StringBuilder();
        t.Append($"{verb} element {table} slots-{listener.SlotMapId} {{ ");
        var first = true;
        foreach (var s in which)
        {
            if (!first)
            {
                t.Append(", ");
            }

            first = false;
            t.Append(s.ToString(CultureInfo.InvariantCulture)).Append(" : ");
            if (dsr)
            {
                t.Append("goto be-").Append(slots[s].ToString(CultureInfo.InvariantCulture));
            }
            else
            {
                t.Append("0x").Append((MarkPrefix | (uint)slots[s]).ToString("x8", CultureInfo.InvariantCulture));
            }
        }

        t.Append(" }\n");
        return t.ToString();
    }

    private static string Protocol(TransportProtocol protocol) => protocol == TransportProtocol.Tcp ? "tcp" : "udp";

    private static string Hex(uint value) => "0x" + value.ToString("x8", CultureInfo.InvariantCulture);

    /// <summary>For messages: the address as nft prints it.</summary>
    public static string Describe(IPEndPoint endPoint) => endPoint.ToString();
}
