using System.Globalization;

namespace MultiVip.Server.Hosting;

/// <summary>What the descriptor budget is computed from: the limit, what is open already, and the caps asked for.</summary>
internal sealed record DescriptorBudgetRequest
{
    /// <summary>The soft RLIMIT_NOFILE in effect (after raising it to the hard limit).</summary>
    public required long Limit { get; init; }

    /// <summary>Descriptors open when the budget is made (runtime, assemblies, data dir lock).</summary>
    public required int InUse { get; init; }

    /// <summary>TCP connections the DNS server may hold; 0 when DNS is off.</summary>
    public int DnsTcpConnections { get; init; }

    public int MaxApiConnections { get; init; } = ServerOptions.DefaultMaxApiConnections;

    public int MaxConnectionsPerListener { get; init; } = 10_000;

    /// <summary>TCP connections of all listeners together; null: as many as the budget holds.</summary>
    public int? MaxConnections { get; init; }

    public int MaxUdpSessionsPerListener { get; init; } = 10_000;

    /// <summary>UDP sessions of all listeners together; null: as many as the budget holds.</summary>
    public int? MaxUdpSessions { get; init; }

    /// <summary>Whether bulk directions may be spliced (epoll engine, splice not off): each holds a pipe.</summary>
    public bool Splice { get; init; }

    /// <summary>Spliced directions asked for; null: the data plane's default, lowered silently when the budget is small.</summary>
    public int? MaxSplicedDirections { get; init; }

    /// <summary>Empty pipes the event loops keep for reuse (per core), held whatever the traffic.</summary>
    public int IdlePipes { get; init; }
}

/// <summary>A cap the budget could not hold: what was asked and what it became.</summary>
internal sealed record LoweredCap(string Name, long Requested, long Granted);

/// <summary>Every cap the server runs with, and where each descriptor of the limit went.</summary>
internal sealed record DescriptorPlan
{
    public required long Limit { get; init; }

    public required int InUse { get; init; }

    /// <summary>Held for what the runtime opens after the budget is made (assemblies load lazily, two descriptors each).</summary>
    public required int RuntimeReserve { get; init; }

    public required int DatabaseReserve { get; init; }

    /// <summary>The DNS server's UDP and TCP sockets and its TCP connections.</summary>
    public required int DnsReserve { get; init; }

    /// <summary>Listening sockets of the VIPs and probes in flight: not covered by the connection caps.</summary>
    public required int ListenerReserve { get; init; }

    /// <summary>The API's connections plus the few Kestrel accepts and closes over its cap.</summary>
    public required int ApiReserve { get; init; }

    public required int ApiConnections { get; init; }

    /// <summary>What the TCP and UDP caps share: a TCP connection costs two descriptors, a UDP session one.</summary>
    public required long DataPlaneDescriptors { get; init; }

    public required int Connections { get; init; }

    public required int ConnectionsPerListener { get; init; }

    public required int UdpSessions { get; init; }

    public required int UdpSessionsPerListener { get; init; }

    /// <summary>Pipes of spliced directions (two descriptors each) and the idle ones the loops keep: taken out of the data plane's share first.</summary>
    public required long PipeReserve { get; init; }

    /// <summary>Directions spliced at once; 0: splicing is off (not asked, or no room for a pipe).</summary>
    public required int SplicedDirections { get; init; }

    /// <summary>The limit that would hold every cap as asked.</summary>
    public required long RequiredLimit { get; init; }

    public required IReadOnlyList<LoweredCap> Lowered { get; init; }

    /// <summary>Descriptors held for the control plane and the process itself, whatever the data plane does.</summary>
    public long ControlPlaneReserve => InUse + RuntimeReserve + DatabaseReserve + DnsReserve + ListenerReserve + ApiReserve;

    /// <summary>The one start-up warning when caps had to be lowered; null when everything fits.</summary>
    public string? Warning => Lowered.Count == 0
        ? null
        : string.Create(CultureInfo.InvariantCulture,
            $"The open-file limit of {Limit} descriptors cannot hold the configured caps; lowered: {string.Join(", ", Lowered.Select(c => $"{c.Name} {c.Requested} -> {c.Granted}"))}. "
            + $"Of the limit, {InUse} descriptors were open at start, {RuntimeReserve + DatabaseReserve + DnsReserve + ListenerReserve} are held for the runtime, the database, DNS and listening sockets, "
            + $"the API gets {ApiReserve} and the data plane {DataPlaneDescriptors}. "
            + $"To keep the caps, raise the limit to at least {RequiredLimit}: LimitNOFILE={RequiredLimit} in the systemd unit, or ulimit -n {RequiredLimit} before starting.");

    /// <summary>The start-up line that says what the server runs with.</summary>
    public string Summary => string.Create(CultureInfo.InvariantCulture,
        $"File descriptors: limit {Limit}, {InUse} open at start, {ControlPlaneReserve - InUse} held for the runtime, database, DNS, listening sockets and the API; "
        + $"caps: {ApiConnections} API connections, {Connections} TCP connections in total ({ConnectionsPerListener} per listener), {UdpSessions} UDP sessions in total ({UdpSessionsPerListener} per listener), {SplicedDirections} spliced directions");
}

/// <summary>
/// Sizes every cap from the process's descriptor limit, as HAProxy derives maxconn from ulimit -n:
/// first what the process and the control plane need whatever happens (what is open, the runtime's
/// growth, the database, DNS, listening sockets), then the API (at most a quarter of the rest), then
/// the data plane shares what is left (a TCP connection costs two descriptors, a UDP session one).
/// Pure arithmetic: <see cref="ServerHost"/> feeds it the measured limit and applies the result.
/// </summary>
internal static class DescriptorBudget
{
    /// <summary>
    /// Measured (docs/reliability.md): `multivip serve` holds ~100 descriptors when the budget is made,
    /// ~230 once the API listens and ~265 once every kind of route has been served: the runtime keeps
    /// two descriptors open per loaded assembly, and most assemblies load lazily.
    /// </summary>
    public const int RuntimeReserve = 176;

    /// <summary>SQLite: the writer's database and WAL files, the shared-memory file, a few pooled readers.</summary>
    public const int DatabaseReserve = 16;

    /// <summary>DNS: the UDP and the listening TCP socket, and a little room for accepts over its cap.</summary>
    public const int DnsSockets = 4;

    /// <summary>Kestrel's listening socket, evicted connections still closing (<see cref="ApiConnectionGuard.MaxClosing"/>), a newcomer being refused.</summary>
    public const int ApiSlack = 8;

    /// <summary>The API never gets more than this share of what is left after the fixed reserves.</summary>
    public const double ApiShare = 0.25;

    public const int MinApiConnections = 8;

    /// <summary>Below this many descriptors after the fixed reserves the server refuses to start: it could carry next to nothing.</summary>
    public const int MinimumUsable = 32;

    /// <summary>Pipes of spliced directions never take more than this share of the data plane's descriptors.</summary>
    public const int PipeShareDivisor = 8;

    /// <summary>Listening sockets and probes grow with the configuration: at least 32, 1/128 of the limit on big hosts.</summary>
    public static int ListenerReserveFor(long limit) => (int)Math.Clamp(limit / 128, 32, 65_536);

    public static DescriptorPlan Plan(DescriptorBudgetRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var dnsReserve = request.DnsTcpConnections > 0 ? request.DnsTcpConnections + DnsSockets : 0;
        var listenerReserve = ListenerReserveFor(request.Limit);
        long fixedPart = request.InUse + RuntimeReserve + DatabaseReserve + dnsReserve + listenerReserve;
        var free = request.Limit - fixedPart;
        if (free < MinimumUsable)
        {
            var needed = fixedPart + MinimumUsable;
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"The open-file limit of {request.Limit} descriptors is too low to serve: {request.InUse} are open at start and {fixedPart - request.InUse} are held for the runtime, the database, DNS and listening sockets, leaving {Math.Max(0, free)}. "
                + $"Raise it to at least {needed} (LimitNOFILE= in the systemd unit, or ulimit -n before starting; more for real traffic)."));
        }

        var lowered = new List<LoweredCap>();
        var apiMax = Math.Max(MinApiConnections, (long)(free * ApiShare) - ApiSlack);
        var api = (int)Math.Min(request.MaxApiConnections, apiMax);
        if (api < request.MaxApiConnections)
        {
            lowered.Add(new LoweredCap("API connections", request.MaxApiConnections, api));
        }

        var dataPlane = free - api - ApiSlack;

        // Pipes first, capped at an eighth: a spliced direction falls back to copying at its cap, whereas
        // a connection or session over its cap is refused, so pipes are the cheaper thing to go short of.
        var (spliced, pipeReserve) = PlanPipes(request, dataPlane);
        dataPlane -= pipeReserve;
        if (request.Splice && request.MaxSplicedDirections is int askedSpliced && spliced < askedSpliced)
        {
            lowered.Add(new LoweredCap("spliced directions", askedSpliced, spliced));
        }
        long tcpDemand = request.MaxConnections ?? request.MaxConnectionsPerListener;
        long udpDemand = request.MaxUdpSessions ?? request.MaxUdpSessionsPerListener;
        var need = (2 * tcpDemand) + udpDemand;
        long tcp;
        long udp;
        if (need <= dataPlane)
        {
            // Everything asked fits; a total left unset takes what the other leaves.
            (tcp, udp) = (request.MaxConnections, request.MaxUdpSessions) switch
            {
                (int t, int u) => (t, u),
                (int t, null) => (t, dataPlane - (2L * t)),
                (null, int u) => ((dataPlane - u) / 2, u),
                _ => (Share(dataPlane, tcpDemand, need), Share(dataPlane, udpDemand, need)),
            };
        }
        else
        {
            // Too little: every cap shrinks in proportion to what was asked. Floored shares never overdraw;
            // a share that rounds to 0 is lifted to 1 (a listener must carry something). A lifted TCP share
            // takes its two descriptors from the UDP share (14 connections beside 185,312 sessions would
            // otherwise overdraw by one); a lifted UDP share always fits, since a floored TCP share is below
            // half of the data plane (2 x tcpDemand < need) and so leaves at least one descriptor.
            tcp = Math.Max(1, Share(dataPlane, tcpDemand, need));
            udp = Math.Max(1, Math.Min(Share(dataPlane, udpDemand, need), dataPlane - (2 * tcp)));
        }

        var connections = ClampToInt(tcp);
        var sessions = ClampToInt(udp);
        var connectionsPerListener = Math.Min(request.MaxConnectionsPerListener, connections);
        var sessionsPerListener = Math.Min(request.MaxUdpSessionsPerListener, sessions);
        if (request.MaxConnections is int askedTcp && connections < askedTcp)
        {
            lowered.Add(new LoweredCap("TCP connections in total", askedTcp, connections));
        }

        // A per-listener cap above a configured total is the operator's own choice, not the limit's doing.
        if (connectionsPerListener < Math.Min(request.MaxConnectionsPerListener, request.MaxConnections ?? int.MaxValue))
        {
            lowered.Add(new LoweredCap("TCP connections per listener", request.MaxConnectionsPerListener, connectionsPerListener));
        }

        if (request.MaxUdpSessions is int askedUdp && sessions < askedUdp)
        {
            lowered.Add(new LoweredCap("UDP sessions in total", askedUdp, sessions));
        }

        if (sessionsPerListener < Math.Min(request.MaxUdpSessionsPerListener, request.MaxUdpSessions ?? int.MaxValue))
        {
            lowered.Add(new LoweredCap("UDP sessions per listener", request.MaxUdpSessionsPerListener, sessionsPerListener));
        }

        return new DescriptorPlan
        {
            Limit = request.Limit,
            InUse = request.InUse,
            RuntimeReserve = RuntimeReserve,
            DatabaseReserve = DatabaseReserve,
            DnsReserve = dnsReserve,
            ListenerReserve = listenerReserve,
            ApiReserve = api + ApiSlack,
            ApiConnections = api,
            DataPlaneDescriptors = dataPlane,
            Connections = connections,
            ConnectionsPerListener = connectionsPerListener,
            UdpSessions = sessions,
            UdpSessionsPerListener = sessionsPerListener,
            PipeReserve = pipeReserve,
            SplicedDirections = spliced,
            RequiredLimit = RequiredLimit(fixedPart - listenerReserve, request.MaxApiConnections + ApiSlack, need + PipesAsked(request)),
            Lowered = lowered,
        };
    }

    /// <summary>The smallest limit at which the API keeps its share and the data plane gets all it asked for.</summary>
    private static long RequiredLimit(long fixedWithoutListeners, long api, long need)
    {
        var free = Math.Max(api + need, (long)Math.Ceiling(api / ApiShare));
        var limit = fixedWithoutListeners + free + 32;

        // The listener reserve grows with the limit: settle it (it converges in a step or two).
        for (var i = 0; i < 4; i++)
        {
            limit = fixedWithoutListeners + free + ListenerReserveFor(limit);
        }

        return limit;
    }

    /// <summary>Spliced directions and the descriptors their pipes (and the loops' idle ones) take from <paramref name="dataPlane"/>.</summary>
    private static (int Spliced, long Reserve) PlanPipes(DescriptorBudgetRequest request, long dataPlane)
    {
        if (!request.Splice)
        {
            return (0, 0);
        }

        var idle = 2L * request.IdlePipes;
        var room = ((dataPlane / PipeShareDivisor) - idle) / 2;
        var spliced = (int)Math.Clamp(room, 0, request.MaxSplicedDirections ?? MultiVip.DataPlane.DataPlaneOptions.DefaultMaxSplicedDirections);
        return spliced == 0 ? (0, 0) : (spliced, (2L * spliced) + idle);
    }

    /// <summary>Descriptors the pipes would take with every spliced direction asked for (for <see cref="RequiredLimit"/>).</summary>
    private static long PipesAsked(DescriptorBudgetRequest request) => request.Splice && request.MaxSplicedDirections is int asked
        ? (2L * asked) + (2L * request.IdlePipes)
        : 0;

    private static long Share(long total, long part, long whole) => (long)Math.Floor(total * ((double)part / whole));

    private static int ClampToInt(long value) => (int)Math.Clamp(value, 1, int.MaxValue);
}
