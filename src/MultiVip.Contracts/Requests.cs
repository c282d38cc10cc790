namespace MultiVip.Contracts;

// Request bodies of the REST API. Enumerations travel as strings and are parsed by the server with
// the domain's messages, so a typo gets "'tpc' is not an endpoint protocol. Use tcp or udp." rather
// than a JSON converter error. Omitted (null) optional fields take Azure's defaults.

public sealed record CreateServiceRequest
{
    public string? Name { get; init; }

    public string? Label { get; init; }

    public string? Description { get; init; }

    public string? Location { get; init; }
}

/// <summary>Registers an existing machine as a VM; the first VM creates the Production deployment.</summary>
public sealed record AddVmRequest
{
    public string? Name { get; init; }

    public string? Address { get; init; }

    /// <summary>Name of the default VIP when this VM creates the deployment (Vip1 when omitted).</summary>
    public string? DefaultVirtualIpName { get; init; }
}

public sealed record AddVirtualIpRequest
{
    public string? Name { get; init; }

    /// <summary>IPv4 (default) or IPv6. Left out of the JSON when null, so older servers take the request.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? AddressFamily { get; init; }
}

public sealed record ProbeRequest
{
    public string? Protocol { get; init; }

    /// <summary>Defaults to the endpoint's local port.</summary>
    public int? Port { get; init; }

    public string? Path { get; init; }

    public int? IntervalInSeconds { get; init; }

    public int? TimeoutInSeconds { get; init; }
}

public sealed record AclRuleRequest
{
    public int? Order { get; init; }

    public string? Action { get; init; }

    public string? RemoteSubnet { get; init; }

    public string? Description { get; init; }
}

/// <summary>
/// The settings of an endpoint that Add-AzureEndpoint, Set-AzureEndpoint and
/// Set-AzureLoadBalancedEndpoint share: declared once, so a new endpoint field is one line here and
/// one in each direction of <see cref="EndpointMapping"/>. Null means not given: Azure's default
/// when an endpoint is created, the current value when a load-balanced set is changed.
/// </summary>
public abstract record EndpointSettings
{
    public string? Protocol { get; init; }

    public int? LocalPort { get; init; }

    /// <summary>Defaults to the local port, as Azure's did.</summary>
    public int? PublicPort { get; init; }

    /// <summary>The default VIP when omitted.</summary>
    public string? VirtualIpName { get; init; }

    /// <summary>A custom probe; on a load-balanced set, null keeps the probe (the cmdlet's default parameter set).</summary>
    public ProbeRequest? Probe { get; init; }

    public IReadOnlyList<AclRuleRequest>? Acl { get; init; }

    public int? IdleTimeoutInMinutes { get; init; }

    public string? Distribution { get; init; }

    public bool? DirectServerReturn { get; init; }

    public string? ProxyProtocol { get; init; }
}

/// <summary>Every option of Add-AzureEndpoint / Set-AzureEndpoint.</summary>
public sealed record EndpointRequest : EndpointSettings
{
    public string? Name { get; init; }

    public string? LoadBalancedSetName { get; init; }

    /// <summary>A TCP probe on the local port with the default interval and timeout.</summary>
    public bool? DefaultProbe { get; init; }
}

/// <summary>Update-AzureVM: the VM's whole endpoint list, committed at once (send If-Match with the VM's ETag).</summary>
public sealed record UpdateVmRequest
{
    public IReadOnlyList<EndpointRequest>? Endpoints { get; init; }
}

/// <summary>Set-AzureLoadBalancedEndpoint: what is given changes on every member; the rest stays.</summary>
public sealed record SetLoadBalancedSetRequest : EndpointSettings;

public sealed record CreateReservedIpRequest
{
    public string? Name { get; init; }

    public string? Location { get; init; }

    public string? Label { get; init; }

    /// <summary>With a service: reserve the address its VIP already has.</summary>
    public string? ServiceName { get; init; }

    public string? VirtualIpName { get; init; }

    /// <summary>IPv4 (default) or IPv6, for a reservation taken from the pool (no service given).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? AddressFamily { get; init; }
}

public sealed record AssociateReservedIpRequest
{
    public string? ServiceName { get; init; }

    /// <summary>The default VIP when omitted.</summary>
    public string? VirtualIpName { get; init; }
}
