using MultiVip.Contracts;
using MultiVip.Model.Networking;
using MultiVip.Model.Validation;

namespace MultiVip.Server.Hosting;

/// <summary>Everything `multivip serve` can be told; every default works on a fresh Linux box without privileges.</summary>
public sealed record ServerOptions
{
    /// <summary>Where the database, the token and the endpoint file live.</summary>
    public string DataDir { get; init; } = ".multivip";

    /// <summary>
    /// The state database shared by several nodes: a postgresql:// URL or an Npgsql connection
    /// string (it may hold a password: never printed). Null: SQLite in <see cref="DataDir"/>.
    /// </summary>
    public string? Store { get; init; }

    /// <summary>The REST API's listen URL. Port 0 picks a free port (written to &lt;data-dir&gt;/endpoint).</summary>
    public string Api { get; init; } = ApiRoutes.DefaultApi;

    /// <summary>VIP address pools: CIDRs or first-last ranges.</summary>
    public IReadOnlyList<string> VipPools { get; init; } = [AddressPool.DefaultPool];

    public ServiceLimits Limits { get; init; } = ServiceLimits.Default;

    /// <summary>
    /// The interface VIP addresses are added to and announced on (ARP/NDP); null: MultiVip adds no
    /// addresses and they must exist already (docs/network.md). Needs CAP_NET_ADMIN and CAP_NET_RAW.
    /// </summary>
    public string? VipInterface { get; init; }

    /// <summary>
    /// Which plane carries listeners: "userspace" (the proxy, default) or "nftables" (the kernel, via the
    /// table inet multivip; needs CAP_NET_ADMIN; PROXY-protocol endpoints stay in user space). docs/kernel-plane.md.
    /// </summary>
    public string DataPlane { get; init; } = MultiVip.DataPlane.Contract.Planes.UserSpace;

    /// <summary>With the nftables plane: "always" masquerades forwarded connections to the node's address; "never" keeps the client's (backends route via the node).</summary>
    public string KernelSnat { get; init; } = DefaultKernelSnat;

    public const string DefaultKernelSnat = "always";
    /// How VIP addresses reach the network: none, local (--vip-interface), vrrp (keepalived), bgp
    /// (BIRD). Null: local with --vip-interface, none without.
    /// </summary>
    public string? Announce { get; init; }

    /// <summary>The --vrrp-* and --bgp-* settings of `--announce vrrp|bgp`.</summary>
    public FailoverOptions Failover { get; init; } = new();

    /// <summary>How long connections of a removed or moved endpoint may run on, and how long SIGTERM waits.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Connections a listener accepts at once; beyond it new ones are refused with a reset.</summary>
    public int MaxConnectionsPerListener { get; init; } = 10_000;

    /// <summary>UDP sessions one listener keeps; when full, the least recently used session is evicted for a new client.</summary>
    public int MaxUdpSessionsPerListener { get; init; } = 10_000;

    /// <summary>TCP connections of all listeners together; null sizes it from the descriptor limit (<see cref="DescriptorBudget"/>).</summary>
    public int? MaxConnections { get; init; }

    /// <summary>UDP sessions of all listeners together; null sizes it from the descriptor limit.</summary>
    public int? MaxUdpSessions { get; init; }

    /// <summary>Connections the API (and dashboard, /metrics) accepts at once; lowered at start if the descriptor limit cannot hold it.</summary>
    public int MaxApiConnections { get; init; } = DefaultMaxApiConnections;

    public const int DefaultMaxApiConnections = 512;

    /// <summary>Per-attempt limit on connecting to a backend; then the next member of the set is tried.</summary>
    public TimeSpan ConnectTimeout { get; init; } = new MultiVip.DataPlane.DataPlaneOptions().BackendConnectTimeout;

    /// <summary>Backends tried for one client connection (the one its flow maps to, then the next in its preference order).</summary>
    public int ConnectAttempts { get; init; } = new MultiVip.DataPlane.DataPlaneOptions().MaxConnectAttempts;

    /// <summary>What drives the TCP data plane's sockets: the data plane's own epoll loops (default on Linux) or System.Net.Sockets.</summary>
    public MultiVip.DataPlane.SocketEngine SocketEngine { get; init; } = new MultiVip.DataPlane.DataPlaneOptions().SocketEngine;

    /// <summary>Whether the epoll engine splices bulk directions (docs/data-plane.md#splice).</summary>
    public MultiVip.DataPlane.SpliceMode Splice { get; init; } = new MultiVip.DataPlane.DataPlaneOptions().Splice;

    /// <summary>Directions spliced at once; null sizes it from the descriptor limit (at most an eighth of the data plane's share).</summary>
    public int? MaxSplicedDirections { get; init; }

    /// <summary>
    /// Where the embedded authoritative DNS server listens (UDP and TCP), as ip:port; port 0 picks a
    /// free port (see <see cref="RunningServer.DnsEndPoint"/>). "off" (or null) disables it.
    /// </summary>
    public string? Dns { get; init; } = DefaultDns;

    /// <summary>The zone whose names are the services: &lt;service&gt;.&lt;zone&gt; resolves to the default VIP.</summary>
    public string DnsZone { get; init; } = DefaultDnsZone;

    public const string DefaultDns = "127.0.0.1:5300";

    public const string DefaultDnsZone = "cloudapp.internal";

    /// <summary>Largest accepted request body. API bodies are small; this bounds what a bad client can make us buffer.</summary>
    public long MaxRequestBodyBytes { get; init; } = 1024 * 1024;

    /// <summary>PEM certificate and key for HTTPS; required to bind the API to a non-loopback address.</summary>
    public string? TlsCertificate { get; init; }

    public string? TlsKey { get; init; }

    /// <summary>Allow a non-loopback API bind without TLS (the token would cross the network in clear).</summary>
    public bool Insecure { get; init; }

    /// <summary>Console log format: text lines (default) or one JSON object per line.</summary>
    public LogFormat LogFormat { get; init; } = LogFormat.Text;

    /// <summary>Failed-credential limits, dashboard session lifetime, extra Host names (docs/reliability.md#authentication).</summary>
    public MultiVip.Server.Security.AuthenticationOptions Authentication { get; init; } = new();

    /// <summary>Log level at start; a &lt;data-dir&gt;/log-level file overrides it, re-read on SIGHUP (see LogLevelSetting).</summary>
    public LogLevel LogLevel { get; init; } = LogLevel.Information;

    /// <summary>
    /// Take over from a server already running on this data dir (its listening sockets, then its
    /// data dir), and offer the same to a successor; false (--no-takeover): neither, a second server
    /// on the data dir is refused. docs/operations.md, "Restart and upgrade without dropping connections".
    /// </summary>
    public bool Takeover { get; init; } = true;
    /// <summary>This node's name in the node registry (`multivip node list`); null: the host name. Validated by <see cref="MultiVip.Control.Nodes.NodeName"/>.</summary>
    public string? NodeName { get; init; }

    /// <summary>A node whose heartbeat is older than this is Down: it holds no operation up.</summary>
    public TimeSpan NodeDownAfter { get; init; } = MultiVip.Control.Nodes.NodeStates.DefaultDownAfter;

    /// <summary>Use a token given here instead of the generated one (tests, automation).</summary>
    /// <summary>The per-connection access log (--access-log PATH); null: off.</summary>
    public string? AccessLog { get; init; }

    /// <summary>Size in bytes at which the access log is rotated (--access-log-max-size).</summary>
    public long AccessLogMaxBytes { get; init; } = DefaultAccessLogMaxBytes;

    public const long DefaultAccessLogMaxBytes = MultiVip.DataPlane.Logging.AccessLogOptions.DefaultMaxBytes;

    /// <summary>Rotated access log files kept (--access-log-files).</summary>
    public int AccessLogFiles { get; init; } = MultiVip.DataPlane.Logging.AccessLogOptions.DefaultFiles;

    public string? Token { get; init; }

    /// <summary>
    /// The clock of the control plane (operation times, and so usage intervals) and of usage
    /// sampling; tests drive it. The data plane always runs on the system clock: its probes and
    /// timeouts must fire in real time.
    /// </summary>
    internal TimeProvider Time { get; init; } = TimeProvider.System;
}
