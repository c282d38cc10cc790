namespace MultiVip.DataPlane;

/// <summary>
/// Tuning of the data plane (TCP and UDP). The defaults suit a host carrying a few hundred listeners;
/// each property says what changing it risks.
/// </summary>
public sealed record DataPlaneOptions
{
    /// <summary>
    /// How long connections of a removed listener, or of a backend removed from a listener, may keep
    /// running before they are reset. Default 30 s. Shorter cuts long transfers during every
    /// reconfiguration; longer keeps removed VMs receiving traffic and delays shutdown (SIGTERM)
    /// by up to this much.
    /// </summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Connections one listener carries at once; beyond it new clients are accepted and reset at
    /// once. Default 10000. Each connection costs two sockets (file descriptors) and, while data
    /// flows, up to two pooled buffers: raising it without raising the process's fd limit
    /// (ulimit -n) makes accept fail for every listener, not just the busy one.
    /// </summary>
    public int MaxConnectionsPerListener { get; init; } = 10_000;

    /// <summary>
    /// Connections all TCP listeners carry together; beyond it new clients are reset at once, as over
    /// the per-listener cap. Default 50000 (100,000 descriptors). The server sizes it from the
    /// process's descriptor limit so the data plane can never take the descriptors the API, DNS and
    /// the database need; an embedder that raises it without raising ulimit -n brings back accept
    /// failing with EMFILE for every listener and the API alike.
    /// </summary>
    public int MaxConnections { get; init; } = 50_000;

    /// <summary>
    /// Per-attempt limit on connecting to a backend. Default 5 s. Shorter fails over faster from a
    /// black-holed VM but gives up on slow, healthy ones; longer holds the client in limbo.
    /// </summary>
    public TimeSpan BackendConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Backends tried for one client connection (the chosen one, then the next in that flow's
    /// preference order). Default 3. Higher hides more dead members from clients but multiplies
    /// the worst-case connect delay by this factor (attempts × <see cref="BackendConnectTimeout"/>).
    /// </summary>
    public int MaxConnectAttempts { get; init; } = 3;

    /// <summary>
    /// UDP sessions (client address and port → backend) one UDP listener keeps at once. Default 10000.
    /// Each session holds one connected socket (a file descriptor) towards its backend. When the table
    /// is full a new client evicts the least recently used session rather than being refused: UDP
    /// clients never say goodbye (a DNS resolver uses a new source port per query), so the oldest
    /// entry is almost always a finished exchange, whereas refusing would stall every new client
    /// until idle timeouts free room. Lower it to bound fds under a flood of spoofed sources; raise it
    /// together with ulimit -n.
    /// </summary>
    public int MaxUdpSessionsPerListener { get; init; } = 10_000;

    /// <summary>
    /// UDP sessions all UDP listeners keep together (one descriptor each). Default 50000; the server
    /// sizes it from the descriptor limit. When it is reached a new client evicts the least recently
    /// used session of the listener holding the most sessions (the flooded one, usually); if none can
    /// be evicted the datagram is dropped and counted. Spoofed sources cost at most this many sockets.
    /// </summary>
    public int MaxUdpSessions { get; init; } = 50_000;

    /// <summary>
    /// Bind listeners with IP_FREEBIND, so they start before their address is on an interface. Default
    /// false: a missing address is then reported as a listener fault. The server turns it on when an
    /// announcer (--vip-interface) adds the addresses itself; with it on and no announcer, a mistyped
    /// pool would bind silently and receive nothing.
    /// </summary>
    public bool FreeBind { get; init; }

    /// <summary>
    /// What drives the TCP data plane's sockets. Default <see cref="SocketEngine.Epoll"/> on Linux
    /// (x86-64, arm64): the data plane's own epoll loops, one per core, with fewer system calls per
    /// connection; <see cref="SocketEngine.Dotnet"/> elsewhere, or to rule the engine out when
    /// diagnosing. Both pass the same behaviour tests; bench/run measures the difference.
    /// </summary>
    public SocketEngine SocketEngine { get; init; } = Sockets.Epoll.LibC.IsSupported ? SocketEngine.Epoll : SocketEngine.Dotnet;

    /// <summary>
    /// Whether the epoll engine moves a bulk direction with splice(2) through a pipe instead of recv and
    /// send through a buffer (docs/data-plane.md#splice). Default <see cref="SpliceMode.Auto"/>: a direction
    /// that has filled the copy buffer <see cref="SpliceAfterFullReads"/> times switches, short
    /// request/response traffic never does. <see cref="SpliceMode.Never"/> always copies (to rule splice
    /// out when diagnosing). The dotnet engine always copies.
    /// </summary>
    public SpliceMode Splice { get; init; } = SpliceMode.Auto;

    /// <summary>
    /// Directions spliced at once in the whole data plane; beyond it a bulk direction keeps copying.
    /// Default 4096. Each holds a pipe (two file descriptors); the server sizes it from the descriptor
    /// limit (at most an eighth of the data plane's descriptors go to pipes), so raising it past what the
    /// limit holds only lowers it again at start.
    /// </summary>
    public int MaxSplicedDirections { get; init; } = DefaultMaxSplicedDirections;

    public const int DefaultMaxSplicedDirections = 4096;

    /// <summary>Empty pipes each epoll loop (one per core) keeps for the next spliced direction; two descriptors each, reserved by the server's budget.</summary>
    public const int IdlePipesPerCore = 4;

    /// <summary>
    /// Full-buffer reads (64 KiB each) after which a direction counts as bulk and switches to splice:
    /// 4 is 256 KiB, more than a typical HTTP response, so keep-alive and new-connection traffic never
    /// pays for the pipe. 0 splices from the first byte (the behaviour tests run every path that way).
    /// </summary>
    internal int SpliceAfterFullReads { get; init; } = 4;

    internal void Validate()
    {
        if (SocketEngine == SocketEngine.Epoll && !Sockets.Epoll.LibC.IsSupported)
        {
            throw new ArgumentException(
                $"the epoll socket engine needs Linux on x86-64 or arm64 (this is {System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier}); use the dotnet engine (--socket-engine dotnet).",
                nameof(SocketEngine));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(DrainTimeout, TimeSpan.Zero, nameof(DrainTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(MaxConnectionsPerListener, 0, nameof(MaxConnectionsPerListener));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(BackendConnectTimeout, TimeSpan.Zero, nameof(BackendConnectTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(MaxConnectAttempts, 0, nameof(MaxConnectAttempts));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(MaxUdpSessionsPerListener, 0, nameof(MaxUdpSessionsPerListener));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(MaxConnections, 0, nameof(MaxConnections));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(MaxUdpSessions, 0, nameof(MaxUdpSessions));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(MaxSplicedDirections, 0, nameof(MaxSplicedDirections));
        ArgumentOutOfRangeException.ThrowIfLessThan(SpliceAfterFullReads, 0, nameof(SpliceAfterFullReads));
    }
}

/// <summary>The socket layer of the TCP data plane (<see cref="DataPlaneOptions.SocketEngine"/>).</summary>
public enum SocketEngine
{
    /// <summary>The data plane's own non-blocking sockets on edge-triggered epoll loops, one per core (Linux).</summary>
    Epoll,

    /// <summary>The runtime's System.Net.Sockets (any platform).</summary>
    Dotnet,
}

/// <summary>Whether bulk directions of the epoll engine are spliced (<see cref="DataPlaneOptions.Splice"/>).</summary>
public enum SpliceMode
{
    /// <summary>A direction that turns out to be bulk switches to splice(2) through a pipe.</summary>
    Auto,

    /// <summary>Every direction copies through a pooled buffer (recv and send).</summary>
    Never,
}
