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

    /// <summary>The announcer in use: "local" (--vip-interface) or "none".</summary>
    public required string Announcer { get; init; }

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
}
