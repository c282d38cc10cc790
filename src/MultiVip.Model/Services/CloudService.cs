using System.ComponentModel.DataAnnotations;

namespace MultiVip.Model.Services;

// [Range] describes the bounds the rules in Validation check, for the OpenAPI document; it checks nothing.

/// <summary>
/// A cloud service: a DNS name and at most one Production deployment. The unit of versioning:
/// every committed change bumps <see cref="Version"/>, which is the service's ETag.
/// </summary>
public sealed record CloudService
{
    public required string Name { get; init; }

    public string? Label { get; init; }

    public string? Description { get; init; }

    public string Location { get; init; } = "local";

    public DateTimeOffset CreatedAt { get; init; }

    public long Version { get; init; }

    /// <summary>The Production deployment; created with the first VM, removed with the last.</summary>
    public Deployment? Deployment { get; init; }
}

/// <summary>The Production deployment of a cloud service: its VIPs and its VMs.</summary>
public sealed record Deployment
{
    public const string ProductionSlot = "Production";

    public required string Name { get; init; }

    public string Slot { get; init; } = ProductionSlot;

    public DateTimeOffset CreatedAt { get; init; }

    public required IReadOnlyList<VirtualIp> VirtualIps { get; init; }

    public required IReadOnlyList<VirtualMachine> VirtualMachines { get; init; }

    /// <summary>The VIP whose address the service's DNS name resolves to.</summary>
    public VirtualIp DefaultVirtualIp => VirtualIps.First(v => v.IsDnsProgrammed);

    public VirtualIp? FindVirtualIp(string name) =>
        VirtualIps.FirstOrDefault(v => Names.Equal(v.Name, name));

    public VirtualMachine? FindVm(string name) =>
        VirtualMachines.FirstOrDefault(v => Names.Equal(v.Name, name));

    /// <summary>Every endpoint with the VM it belongs to.</summary>
    public IEnumerable<(VirtualMachine Vm, InputEndpoint Endpoint)> AllEndpoints() =>
        VirtualMachines.SelectMany(vm => vm.Endpoints.Select(e => (vm, e)));
}

/// <summary>A public virtual IP of a deployment.</summary>
public sealed record VirtualIp
{
    public const string DefaultName = "Vip1";

    public required string Name { get; init; }

    /// <summary>Empty until an endpoint uses the VIP (always set for the default VIP).</summary>
    public string? Address { get; init; }

    /// <summary>True only for the default VIP: the service's DNS name resolves to it.</summary>
    public bool IsDnsProgrammed { get; init; }

    /// <summary>Set while a reserved IP backs this VIP; the address then outlives its endpoints.</summary>
    public string? ReservedIpName { get; init; }

    /// <summary>IPv4 (the default, as in Azure) or IPv6: the pool ranges its address comes from.</summary>
    public VipAddressFamily AddressFamily { get; init; }
}

/// <summary>A machine the operator owns, registered with its internal address.</summary>
public sealed record VirtualMachine
{
    public required string Name { get; init; }

    /// <summary>Internal address traffic is forwarded to (IPv4 or IPv6 literal).</summary>
    public required string Address { get; init; }

    /// <summary>Bumped on every change of this VM; the VM's ETag for read-modify-write clients.</summary>
    public long Version { get; init; }

    public IReadOnlyList<InputEndpoint> Endpoints { get; init; } = [];

    /// <summary>
    /// Whether the VM's backends take new connections: maintenance without removing endpoints
    /// (docs/operations.md#vm-maintenance). Stored, so it survives restarts.
    /// </summary>
    public VmState State { get; init; } = VmState.Enabled;

    public InputEndpoint? FindEndpoint(string name) =>
        Endpoints.FirstOrDefault(e => Names.Equal(e.Name, name));
}

/// <summary>Maps VIP:public port to this VM's local port, alone or as a member of a load-balanced set.</summary>
public sealed record InputEndpoint
{
    public const int DefaultIdleTimeoutInMinutes = 4;

    public required string Name { get; init; }

    public TransportProtocol Protocol { get; init; } = TransportProtocol.Tcp;

    [Range(1, 65535)]
    public int LocalPort { get; init; }

    [Range(1, 65535)]
    public int PublicPort { get; init; }

    /// <summary>The VIP this endpoint listens on; always resolved (the default VIP when the user named none).</summary>
    public string VirtualIpName { get; init; } = VirtualIp.DefaultName;

    public string? LoadBalancedSetName { get; init; }

    public LoadBalancerProbe? Probe { get; init; }

    public IReadOnlyList<AclRule> Acl { get; init; } = [];

    [Range(4, 30)]
    public int IdleTimeoutInMinutes { get; init; } = DefaultIdleTimeoutInMinutes;

    public LoadBalancerDistribution Distribution { get; init; } = LoadBalancerDistribution.None;

    /// <summary>Stored and shown as Azure does; a user-space proxy cannot do DSR (see docs/limits).</summary>
    public bool DirectServerReturn { get; init; }

    public ProxyProtocolVersion ProxyProtocol { get; init; } = ProxyProtocolVersion.None;
}

/// <summary>Health probe of a load-balanced set.</summary>
public sealed record LoadBalancerProbe
{
    public const int DefaultIntervalInSeconds = 15;
    public const int DefaultTimeoutInSeconds = 31;
    public const int MinimumIntervalInSeconds = 5;
    public const int MinimumTimeoutInSeconds = 11;

    public ProbeProtocol Protocol { get; init; } = ProbeProtocol.Tcp;

    [Range(1, 65535)]
    public int Port { get; init; }

    public string? Path { get; init; }

    public int IntervalInSeconds { get; init; } = DefaultIntervalInSeconds;

    public int TimeoutInSeconds { get; init; } = DefaultTimeoutInSeconds;

    /// <summary>
    /// Consecutive failures that take a member out of rotation, and successes that bring it back:
    /// timeout / interval, as Azure counts it (2 with the defaults), never less than 1.
    /// </summary>
    public int Threshold => Math.Max(1, TimeoutInSeconds / IntervalInSeconds);
}

/// <summary>One rule of an endpoint ACL. Lower <see cref="Order"/> is evaluated first; first match wins.</summary>
public sealed record AclRule
{
    [Range(0, 65535)]
    public int Order { get; init; }

    public AclAction Action { get; init; }

    public required string RemoteSubnet { get; init; }

    public string? Description { get; init; }
}
