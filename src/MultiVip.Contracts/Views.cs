using MultiVip.Model.Services;

namespace MultiVip.Contracts;

// Response bodies that are not plain domain records.

public sealed record ServiceView
{
    public required string Name { get; init; }

    public string? Label { get; init; }

    public string? Description { get; init; }

    public required string Location { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    public long Version { get; init; }

    public string? DeploymentName { get; init; }

    public int VmCount { get; init; }

    public static ServiceView From(CloudService s) => new()
    {
        Name = s.Name,
        Label = s.Label,
        Description = s.Description,
        Location = s.Location,
        CreatedAt = s.CreatedAt,
        Version = s.Version,
        DeploymentName = s.Deployment?.Name,
        VmCount = s.Deployment?.VirtualMachines.Count ?? 0,
    };
}

/// <summary>Get-AzureDeployment: the deployment, its VIPs, VMs, load-balanced sets and live backend health.</summary>
public sealed record DeploymentView
{
    public required string ServiceName { get; init; }

    public required string Name { get; init; }

    public required string Slot { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>The service's version; the ETag for deployment-wide changes.</summary>
    public long Version { get; init; }

    /// <summary>The reserved IP backing the default VIP, if any.</summary>
    public string? ReservedIpName { get; init; }

    /// <summary>
    /// http://&lt;service&gt;.&lt;zone&gt;/ in the server's DNS zone (Azure's Url, http://&lt;service&gt;.cloudapp.net/):
    /// the name that resolves to the default VIP through the server's DNS.
    /// </summary>
    public string? Url { get; init; }

    public required IReadOnlyList<VirtualIp> VirtualIps { get; init; }

    public required IReadOnlyList<VirtualMachine> VirtualMachines { get; init; }

    public required IReadOnlyList<LoadBalancedSetView> LoadBalancedSets { get; init; }

    public IReadOnlyList<BackendHealthView> Health { get; init; } = [];

    /// <summary>Per VIP: whether this node holds its address on the network (docs/network.md).</summary>
    public IReadOnlyList<VipNetworkView> Network { get; init; } = [];
}

/// <summary>
/// A VIP on the network: whether this node holds its address (on --vip-interface, or as one of the
/// host's own addresses without it), since when, and the last error adding or announcing it.
/// </summary>
public sealed record VipNetworkView
{
    public required string VirtualIpName { get; init; }

    public string? Address { get; init; }

    /// <summary>IPv4 or IPv6.</summary>
    public required string AddressFamily { get; init; }

    /// <summary>The announcer in use: "local" (--vip-interface), "none", "vrrp" or "bgp" (--announce).</summary>
    public required string Announcer { get; init; }

    /// <summary>With vrrp or bgp: the node this view is from (its VRRP source address or BGP router id).</summary>
    public string? Node { get; init; }

    /// <summary>
    /// With vrrp: keepalived's state on this node (MASTER holds the address; BACKUP, FAULT, STOPPED do
    /// not). With bgp: announced or withdrawn. Null for none and local.
    /// </summary>
    public string? State { get; init; }

    public DateTimeOffset? StateSince { get; init; }

    /// <summary>How often this node's state for the address changed since it started.</summary>
    public long OwnershipChanges { get; init; }

    /// <summary>True while this node holds the address; false when the VIP has none or holding it failed.</summary>
    public bool Held { get; init; }

    public DateTimeOffset? HeldSince { get; init; }

    public string? LastError { get; init; }

    public DateTimeOffset? LastErrorAt { get; init; }
}

/// <summary>A load-balanced set as the union of its members' endpoints.</summary>
public sealed record LoadBalancedSetView
{
    public required string Name { get; init; }

    public required string VirtualIpName { get; init; }

    public TransportProtocol Protocol { get; init; }

    [System.ComponentModel.DataAnnotations.Range(1, 65535)]
    public int PublicPort { get; init; }

    public LoadBalancerProbe? Probe { get; init; }

    public LoadBalancerDistribution Distribution { get; init; }

    public required IReadOnlyList<LoadBalancedSetMember> Members { get; init; }
}

public sealed record LoadBalancedSetMember(string VmName, string EndpointName, [property: System.ComponentModel.DataAnnotations.Range(1, 65535)] int LocalPort);

/// <summary>Live state of one backend (VM endpoint) as the data plane reports it.</summary>
public sealed record BackendHealthView
{
    public required string VmName { get; init; }

    public required string EndpointName { get; init; }

    public required string Listener { get; init; }

    public HealthState State { get; init; }

    public DateTimeOffset? LastProbeAt { get; init; }

    public string? LastError { get; init; }

    public long ActiveConnections { get; init; }

    public long TotalConnections { get; init; }

    /// <summary>The VM is draining: no new connections; <see cref="ActiveConnections"/> counts down to 0, then the VM is disabled.</summary>
    public bool Draining { get; init; }
    /// <summary>The data plane carrying this listener: "userspace" or "nftables" (serve --data-plane).</summary>
    public string Plane { get; init; } = "userspace";
}

/// <summary>
/// One node of those sharing the state (`multivip node list`): where its API is, how fresh its
/// heartbeat is, which generation its data plane applied, and its state — Ready (current),
/// Lagging (behind: operations wait for it) or Down (no heartbeat for --node-down-after: nothing
/// waits for it).
/// </summary>
public sealed record NodeView
{
    public required string Name { get; init; }

    public required string ApiAddress { get; init; }

    /// <summary>Ready, Lagging or Down.</summary>
    public required string State { get; init; }

    public DateTimeOffset StartedAt { get; init; }

    public DateTimeOffset LastHeartbeat { get; init; }

    public double HeartbeatAgeSeconds { get; init; }

    /// <summary>When the node stopped cleanly (then it is Down at once); null while it runs or after a crash.</summary>
    public DateTimeOffset? StoppedAt { get; init; }

    public long AppliedGeneration { get; init; }

    /// <summary>The generation of the state the answering node holds; Ready nodes applied at least this.</summary>
    public long CurrentGeneration { get; init; }

    public required string Version { get; init; }

    /// <summary>Whether this is the node that answered the request.</summary>
    public bool IsLocal { get; init; }

    public required IReadOnlyList<NodeFaultView> Faults { get; init; }

    /// <summary>With --announce vrrp or bgp: the address it announces from (VRRP source address and the others' unicast peer; BGP router id).</summary>
    public string? AnnounceAddress { get; init; }

    /// <summary>The VIP addresses its announcer holds or announces, with its role: MASTER, BACKUP, FAULT (VRRP); announced, withdrawn (BGP).</summary>
    public IReadOnlyList<NodeHoldView> Holds { get; init; } = [];
}

/// <summary>One VIP address in a node's announcer and the node's role for it.</summary>
public sealed record NodeHoldView(string Address, string Role);

/// <summary>A listener a node's data plane could not apply, with the data plane's reason.</summary>
public sealed record NodeFaultView(string ServiceName, string Listener, string Message);
/// This node's VIP ownership with --announce vrrp or bgp: its name, and the last changes of its role
/// per address (bounded, in memory; oldest first). GET /api/network/ownership.
/// </summary>
public sealed record NetworkOwnershipView
{
    public required string Announcer { get; init; }

    public string? Node { get; init; }

    public IReadOnlyList<OwnershipChangeView> Changes { get; init; } = [];
}

/// <summary>One change of a node's role for a VIP address: BACKUP to MASTER (it took the address over), announced to withdrawn, …</summary>
public sealed record OwnershipChangeView
{
    public required DateTimeOffset At { get; init; }

    public required string Address { get; init; }

    public required string Node { get; init; }

    public required string Announcer { get; init; }

    public required string From { get; init; }

    public required string To { get; init; }

    public required string Reason { get; init; }
}
