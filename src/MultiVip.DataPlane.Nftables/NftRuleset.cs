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
}

/// <summary>What the rendering depends on besides the listeners: the SNAT mode and conntrack timeout support.</summary>
internal sealed record KernelRenderOptions(bool Masquerade, bool ConntrackTimeouts);

/// <summary>
/// Renders the table <c>inet multivip</c> as <c>nft -f</c> text, pure (no I/O, golden-tested), after
/// kube-proxy's nftables mode: base chains dispatch through verdict maps keyed by
/// <c>daddr . l4proto . dport</c> (one lookup however many listeners), each listener has its own
/// chains, slot map and counters, so a change touches only that listener's objects.
/// <list type="bullet">
/// <item><c>filter-prerouting</c>/<c>filter-output</c> (before DNAT): <c>acl-L</c> (Azure's ACL order) then <c>admit-L</c> (rejects new connections while no member is in rotation).</item>
/// <item><c>dsr-prerouting</c> (tables <c>ip multivip</c>, <c>ip6 multivip</c>: nft's dup exists only there): DSR listeners' ACL, admission and member; the chosen VM gets the packet unchanged (dup to it as next hop, original dropped).</item>
/// <item><c>nat-prerouting</c>/<c>nat-output</c>: <c>lb-L</c> sets the idle timeout and picks the backend: <c>jhash … mod 5003 seed … vmap @slots-L</c>
/// (the user-space plane's Maglev table, slot → <c>be-B</c>), and <c>be-B</c> marks and DNATs.</item>
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

    private static string TableOf(KernelListener listener) =>
        !listener.Spec.DirectServerReturn ? Table : listener.IsIpv6 ? "ip6 multivip" : "ip multivip";

    /// <summary>Top byte of the conntrack marks MultiVip sets (0x4d, "M"); the rest is the backend id.</summary>
    public const uint MarkPrefix = 0x4d000000;

    public const uint MarkMask = 0xff000000;

    public const int MaxBackendId = 0x00ffffff;

    /// <summary>The whole table from nothing, replacing whatever a previous run left: one transaction, so never half-written.</summary>
    public static string Replace(KernelRenderOptions options, IEnumerable<KernelListener> listeners)
    {
        var text = new StringBuilder();
        text.Append(DeleteAll());
        text.Append(Skeleton(options));
        foreach (var listener in listeners)
        {
            text.Append(Add(listener, options));
        }

        return text.ToString();
    }

    /// <summary>Deletes MultiVip's tables whether they exist or not (declaring a table first makes the delete unconditional).</summary>
    public static string DeleteAll() => string.Concat(Tables.Select(t => $"table {t}\ndelete table {t}\n"));

    /// <summary>The base chains and dispatch maps, empty of listeners.</summary>
    public static string Skeleton(KernelRenderOptions options)
    {
        var masquerade = options.Masquerade
            ? $"\t\tct mark & {Hex(MarkMask)} == {Hex(MarkPrefix)} ct status dnat masquerade\n"
            : "\t\t# --kernel-snat never: clients' addresses reach the backends (they route replies via this node)\n";
        return $$"""
            table {{Table}} {
            	map filters-ip {
            		type ipv4_addr . inet_proto . inet_service : verdict
            	}
            	map filters-ip6 {
            		type ipv6_addr . inet_proto . inet_service : verdict
            	}
            	map listeners-ip {
            		type ipv4_addr . inet_proto . inet_service : verdict
            	}
            	map listeners-ip6 {
            		type ipv6_addr . inet_proto . inet_service : verdict
            	}
            	map backends {
            		type mark : verdict
            	}
            	chain filter-dispatch {
            		ip daddr . meta l4proto . th dport vmap @filters-ip
            		ip6 daddr . meta l4proto . th dport vmap @filters-ip6
            	}
            	chain filter-prerouting {
            		type filter hook prerouting priority dstnat - 10; policy accept;
            		jump filter-dispatch
            	}
            	chain filter-output {
            		type filter hook output priority -110; policy accept;
            		jump filter-dispatch
            	}
            	chain nat-dispatch {
            		ip daddr . meta l4proto . th dport vmap @listeners-ip
            		ip6 daddr . meta l4proto . th dport vmap @listeners-ip6
            	}
            	chain nat-prerouting {
            		type nat hook prerouting priority dstnat; policy accept;
            		jump nat-dispatch
            	}
            	chain nat-output {
            		type nat hook output priority -100; policy accept;
            		jump nat-dispatch
            	}
            	chain nat-postrouting {
            		type nat hook postrouting priority srcnat; policy accept;
            {{masquerade}}	}
            	chain count-forward {
            		type filter hook forward priority filter; policy accept;
            		ct mark & {{Hex(MarkMask)}} == {{Hex(MarkPrefix)}} ct mark vmap @backends
            	}
            }
            table ip multivip {
            	map dsr {
            		type ipv4_addr . inet_proto . inet_service : verdict
            	}
            	chain dsr-prerouting {
            		type filter hook prerouting priority dstnat - 5; policy accept;
            		ip daddr . meta l4proto . th dport vmap @dsr
            	}
            }
            table ip6 multivip {
            	map dsr {
            		type ipv6_addr . inet_proto . inet_service : verdict
            	}
            	chain dsr-prerouting {
            		type filter hook prerouting priority dstnat - 5; policy accept;
            		ip6 daddr . meta l4proto . th dport vmap @dsr
            	}
            }

            """;
    }

    /// <summary>Every object of one listener, and its dispatch elements last (so traffic meets it complete).</summary>
    public static string Add(KernelListener listener, KernelRenderOptions options)
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

        var timeouts = options.ConntrackTimeouts && !listener.Spec.DirectServerReturn;
        if (timeouts)
        {
            t.Append(TimeoutObject(listener));
        }

        t.Append($"add chain {table} admit-{l}\n");
        t.Append(AdmitRules(listener));
        t.Append($"add chain {table} acl-{l}\n");
        t.Append(AclRules(listener));
        foreach (var b in listener.Backends)
        {
            t.Append($"add chain {table} be-{b.Id}\n");
            t.Append($"add rule {table} be-{b.Id} {BackendRule(listener, b)}\n");
            if (!listener.Spec.DirectServerReturn)
            {
                t.Append($"add chain {table} count-{b.Id}\n");
                t.Append($"add rule {table} count-{b.Id} ct direction original counter name \"backend-{b.Id}-in\" return\n");
                t.Append($"add rule {table} count-{b.Id} counter name \"backend-{b.Id}-out\"\n");
            }
        }

        if (listener.HasSlotMap)
        {
            t.Append($"add map {table} slots-{l} {{ typeof numgen inc mod {MaglevTable.DefaultSize} : verdict; }}\n");
            if (listener.Route.Slots is { } slots)
            {
                t.Append(SlotElements("add", table, l, slots, Enumerable.Range(0, slots.Length)));
            }
        }

        t.Append($"add chain {table} lb-{l}\n");
        t.Append($"add rule {table} lb-{l} {DispatchRule(listener, timeouts)}\n");
        if (!listener.Spec.DirectServerReturn && listener.Backends.Count > 0)
        {
            t.Append($"add element {table} backends {{ {string.Join(", ", listener.Backends.Select(b => $"{Hex(b.Mark)} : goto count-{b.Id}"))} }}\n");
        }

        var key = DispatchKey(listener.Spec.Key);
        var family = listener.IsIpv6 ? "ip6" : "ip";
        if (listener.Spec.DirectServerReturn)
        {
            // ACL and admission first (jump: a permit comes back here), then the member.
            t.Append($"add chain {table} dsr-{l}\n");
            t.Append($"add rule {table} dsr-{l} jump acl-{l}\n");
            t.Append($"add rule {table} dsr-{l} goto lb-{l}\n");
            t.Append($"add element {table} dsr {{ {key} : goto dsr-{l} }}\n");
        }
        else
        {
            t.Append($"add element {table} filters-{family} {{ {key} : goto acl-{l} }}\n");
            t.Append($"add element {table} listeners-{family} {{ {key} : goto lb-{l} }}\n");
        }
        return t.ToString();
    }

    /// <summary>Every object of one listener, dispatch elements first (so no packet meets it half-removed), rules flushed before their chains go.</summary>
    public static string Remove(KernelListener listener, KernelRenderOptions options)
    {
        var l = listener.Id;
        var table = TableOf(listener);
        var t = new StringBuilder();
        var key = DispatchKey(listener.Spec.Key);
        var family = listener.IsIpv6 ? "ip6" : "ip";
        if (listener.Spec.DirectServerReturn)
        {
            t.Append($"delete element {table} dsr {{ {key} }}\n");
        }
        else
        {
            t.Append($"delete element {table} listeners-{family} {{ {key} }}\n");
            t.Append($"delete element {table} filters-{family} {{ {key} }}\n");
        }
        if (!listener.Spec.DirectServerReturn && listener.Backends.Count > 0)
        {
            t.Append($"delete element {table} backends {{ {string.Join(", ", listener.Backends.Select(b => Hex(b.Mark)))} }}\n");
        }

        var chains = new List<string> { $"lb-{l}", $"acl-{l}", $"admit-{l}" };
        if (listener.Spec.DirectServerReturn)
        {
            chains.Insert(0, $"dsr-{l}");
        }
        foreach (var b in listener.Backends)
        {
            chains.Add($"be-{b.Id}");
            if (!listener.Spec.DirectServerReturn)
            {
                chains.Add($"count-{b.Id}");
            }
        }

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

        if (options.ConntrackTimeouts && !listener.Spec.DirectServerReturn)
        {
            t.Append($"delete ct timeout {table} idle-{l}\n");
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

    /// <summary>
    /// A health change of one listener: only the slots whose backend changed are rewritten, the
    /// dispatch rule only when it switches between one backend and the map, the admit chain only when
    /// the listener gains or loses its last member. Nothing of other listeners is named.
    /// </summary>
    public static string UpdateRoute(KernelListener before, KernelListener after, KernelRenderOptions options)
    {
        var l = after.Id;
        var table = TableOf(after);
        var t = new StringBuilder();
        if (before.Route.Reject != after.Route.Reject)
        {
            t.Append($"flush chain {table} admit-{l}\n");
            t.Append(AdmitRules(after));
        }

        if (after.Route.Slots is { } slots && after.HasSlotMap && !ReferenceEquals(slots, before.Route.Slots))
        {
            var old = before.Route.Slots;
            var changed = Enumerable.Range(0, slots.Length).Where(s => old is null || old[s] != slots[s]).ToList();
            if (old is not null && changed.Count > 0)
            {
                t.Append($"delete element {table} slots-{l} {{ {string.Join(", ", changed.Select(s => s.ToString(CultureInfo.InvariantCulture)))} }}\n");
            }

            if (changed.Count > 0)
            {
                t.Append(SlotElements("add", table, l, slots, changed));
            }
        }

        if (before.Route.Direct != after.Route.Direct)
        {
            t.Append($"flush chain {table} lb-{l}\n");
            t.Append($"add rule {table} lb-{l} {DispatchRule(after, options.ConntrackTimeouts && !after.Spec.DirectServerReturn)}\n");
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

    private static string DispatchRule(KernelListener listener, bool timeouts)
    {
        var prefix = timeouts ? $"ct timeout set \"idle-{listener.Id}\" " : "";
        if (listener.Route.Direct is { } direct)
        {
            return $"{prefix}goto be-{direct}";
        }

        return $"{prefix}{HashExpression(listener.Spec)} vmap @slots-{listener.Id}";
    }

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
        return $"meta l4proto {protocol} ct mark set {Hex(backend.Mark)} counter name \"backend-{backend.Id}-conns\" dnat {ip} to {address}:{target.Port.ToString(CultureInfo.InvariantCulture)}";
    }

    private static string AdmitRules(KernelListener listener)
    {
        if (!listener.Route.Reject)
        {
            return "";
        }

        var l = listener.Id;
        var reject = listener.Spec.Key.Protocol == TransportProtocol.Tcp ? "reject with tcp reset" : "reject";
        return $"add rule {TableOf(listener)} admit-{l} ct state new counter name \"listener-{l}-nobackend\" {reject}\n";
    }

    private static string AclRules(KernelListener listener)
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

            var verdict = rule.Action == AclAction.Permit ? $"goto admit-{l}" : $"counter name \"listener-{l}-denied\" drop";
            t.Append($"add rule {TableOf(listener)} acl-{l} {ip} saddr {subnet} {verdict}\n");
        }

        // Azure: nothing matched → deny when any rule permits (an allow-list), else allow.
        var allowList = rules.Any(r => r.Action == AclAction.Permit);
        t.Append(allowList
            ? $"add rule {TableOf(listener)} acl-{l} counter name \"listener-{l}-denied\" drop\n"
            : $"add rule {TableOf(listener)} acl-{l} goto admit-{l}\n");
        return t.ToString();
    }

    private static string TimeoutObject(KernelListener listener)
    {
        var seconds = Math.Max(1, (long)listener.Spec.IdleTimeout.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        var policy = listener.Spec.Key.Protocol == TransportProtocol.Tcp
            ? $"established : {seconds}"
            : $"unreplied : {seconds}, replied : {seconds}";
        return $"add ct timeout {TableOf(listener)} idle-{listener.Id} {{ protocol {Protocol(listener.Spec.Key.Protocol)}; l3proto {(listener.IsIpv6 ? "ip6" : "ip")}; policy = {{ {policy} }}; }}\n";
    }

    private static string SlotElements(string verb, string table, int listenerId, int[] slots, IEnumerable<int> which)
    {
        var t = new StringBuilder();
        t.Append($"{verb} element {table} slots-{listenerId} {{ ");
        var first = true;
        foreach (var s in which)
        {
            if (!first)
            {
                t.Append(", ");
            }

            first = false;
            t.Append(s.ToString(CultureInfo.InvariantCulture)).Append(" : goto be-").Append(slots[s].ToString(CultureInfo.InvariantCulture));
        }

        t.Append(" }\n");
        return t.ToString();
    }

    private static string Protocol(TransportProtocol protocol) => protocol == TransportProtocol.Tcp ? "tcp" : "udp";

    private static string Hex(uint value) => "0x" + value.ToString("x8", CultureInfo.InvariantCulture);

    /// <summary>For messages: the address as nft prints it.</summary>
    public static string Describe(IPEndPoint endPoint) => endPoint.ToString();
}
