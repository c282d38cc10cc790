namespace MultiVip.Control.Nodes;

/// <summary>
/// What one node writes about itself into the shared registry on each heartbeat: enough for every
/// other node to tell whether it is alive and which generation its data plane runs, and for an
/// operator to reach it (<see cref="ApiAddress"/>).
/// </summary>
public sealed record NodeRecord
{
    /// <summary>The node's name (--node-name; default the host name), unique in one registry, compared without case.</summary>
    public required string Name { get; init; }

    /// <summary>The URL clients use for this node's API.</summary>
    public required string ApiAddress { get; init; }

    public required DateTimeOffset StartedAt { get; init; }

    /// <summary>When the node last wrote this record, by its own clock (nodes are expected to run NTP).</summary>
    public required DateTimeOffset LastHeartbeat { get; init; }

    /// <summary>The newest generation of the desired state its data plane has applied.</summary>
    public long AppliedGeneration { get; init; }

    /// <summary>Listeners its last apply could not start, each with the data plane's reason.</summary>
    public IReadOnlyList<NodeFault> Faults { get; init; } = [];

    /// <summary>Set when the node stopped cleanly (SIGTERM, or its server disposed): it is Down at once, not after --node-down-after.</summary>
    public DateTimeOffset? StoppedAt { get; init; }

    /// <summary>The MultiVip version the node runs (a mixed-version cluster during an upgrade shows here).</summary>
    public required string Version { get; init; }

    /// <summary>
    /// With --announce vrrp or bgp: the address the node announces from (VRRP's source address, the
    /// other nodes' unicast peer; BGP's router id). Null otherwise, and in records older versions wrote.
    /// </summary>
    public string? AnnounceAddress { get; init; }

    /// <summary>
    /// The VIP pool it allocates from (--vip-pool), as <see cref="MultiVip.Model.Networking.AddressPool.Canonical"/>
    /// writes it: nodes on one store must agree on it (<see cref="VipPoolGuard"/>). Null in records older versions wrote.
    /// </summary>
    public string? VipPool { get; init; }

    /// <summary>The VIP addresses its announcer holds or announces, each with its role (MASTER, BACKUP, FAULT; announced, withdrawn).</summary>
    public IReadOnlyList<NodeHold> Holds { get; init; } = [];
}

/// <summary>One VIP address in a node's announcer and the node's role for it ("MASTER", "announced", …).</summary>
public sealed record NodeHold(string Address, string Role);

/// <summary>One listener a node's data plane could not apply: its service, the listener (tcp/address:port) and why.</summary>
public sealed record NodeFault(string ServiceName, string Listener, string Message);
