using System.ComponentModel.DataAnnotations;

namespace MultiVip.Contracts;

// Request bodies of the REST API. Enumerations travel as strings and are parsed by the server with
// the domain's messages, so a typo gets "'tpc' is not an endpoint protocol. Use tcp or udp." rather
// than a JSON converter error. Omitted (null) optional fields take Azure's defaults.
// The attributes only describe the wire for the OpenAPI document ([Required]: the server refuses the
// request without it; [AllowedValues]: the canonical spellings, matched case-insensitively; [Range]:
// the bounds the domain's rules check); the rules themselves stay in MultiVip.Model.

public sealed record CreateServiceRequest
{
    [Required]
    public string? Name { get; init; }

    public string? Label { get; init; }

    public string? Description { get; init; }

    public string? Location { get; init; }
}

/// <summary>Registers an existing machine as a VM; the first VM creates the Production deployment.</summary>
public sealed record AddVmRequest
{
    [Required]
    public string? Name { get; init; }

    /// <summary>The machine's internal address (IPv4 or IPv6 literal) traffic is forwarded to.</summary>
    [Required]
    public string? Address { get; init; }

    /// <summary>Name of the default VIP when this VM creates the deployment (Vip1 when omitted).</summary>
    public string? DefaultVirtualIpName { get; init; }
}

public sealed record AddVirtualIpRequest
{
    [Required]
    public string? Name { get; init; }

    /// <summary>IPv4 (default) or IPv6. Left out of the JSON when null, so older servers take the request.</summary>
    [AllowedValues("IPv4", "IPv6")]
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? AddressFamily { get; init; }
}

public sealed record ProbeRequest
{
    [Required]
    [AllowedValues("tcp", "http")]
    public string? Protocol { get; init; }

    /// <summary>Defaults to the endpoint's local port.</summary>
    [Range(1, 65535)]
    public int? Port { get; init; }

    /// <summary>The HTTP probe's path (http only).</summary>
    public string? Path { get; init; }

    [Range(5, int.MaxValue)]
    public int? IntervalInSeconds { get; init; }

    [Range(11, int.MaxValue)]
    public int? TimeoutInSeconds { get; init; }
}

public sealed record AclRuleRequest
{
    [Required]
    [Range(0, 65535)]
    public int? Order { get; init; }

    [Required]
    [AllowedValues("permit", "deny")]
    public string? Action { get; init; }

    /// <summary>CIDR, IPv4 or IPv6.</summary>
    [Required]
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
    [AllowedValues("tcp", "udp")]
    public string? Protocol { get; init; }

    [Range(1, 65535)]
    public int? LocalPort { get; init; }

    /// <summary>Defaults to the local port, as Azure's did.</summary>
    [Range(1, 65535)]
    public int? PublicPort { get; init; }

    /// <summary>The default VIP when omitted.</summary>
    public string? VirtualIpName { get; init; }

    /// <summary>A custom probe; on a load-balanced set, null keeps the probe (the cmdlet's default parameter set).</summary>
    public ProbeRequest? Probe { get; init; }

    public IReadOnlyList<AclRuleRequest>? Acl { get; init; }

    [Range(4, 30)]
    public int? IdleTimeoutInMinutes { get; init; }

    [AllowedValues("none", "sourceIP", "sourceIPProtocol")]
    public string? Distribution { get; init; }

    public bool? DirectServerReturn { get; init; }

    [AllowedValues("none", "v1", "v2")]
    public string? ProxyProtocol { get; init; }
}

/// <summary>Every option of Add-AzureEndpoint / Set-AzureEndpoint.</summary>
[RequiredMembers(nameof(Protocol), nameof(LocalPort))]
public sealed record EndpointRequest : EndpointSettings
{
    [Required]
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

/// <summary>
/// Set-AzureVMState: take a VM out of rotation for maintenance without removing its endpoints.
/// draining: no new connections, established ones go on, disabled once none is left; disabled: no
/// traffic (what is still open drains for --drain-timeout); enabled: back in rotation.
/// </summary>
public sealed record SetVmStateRequest
{
    [Required]
    [AllowedValues("enabled", "draining", "disabled")]
    public string? State { get; init; }
}

/// <summary>Set-AzureLoadBalancedEndpoint: what is given changes on every member; the rest stays.</summary>
public sealed record SetLoadBalancedSetRequest : EndpointSettings;

public sealed record CreateReservedIpRequest
{
    [Required]
    public string? Name { get; init; }

    public string? Location { get; init; }

    public string? Label { get; init; }

    /// <summary>With a service: reserve the address its VIP already has.</summary>
    public string? ServiceName { get; init; }

    public string? VirtualIpName { get; init; }

    /// <summary>IPv4 (default) or IPv6, for a reservation taken from the pool (no service given).</summary>
    [AllowedValues("IPv4", "IPv6")]
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? AddressFamily { get; init; }
}

public sealed record AssociateReservedIpRequest
{
    [Required]
    public string? ServiceName { get; init; }

    /// <summary>The default VIP when omitted.</summary>
    public string? VirtualIpName { get; init; }
}

/// <summary>
/// Inherited members a request requires although its base leaves them optional (an endpoint needs a
/// protocol and a local port; a change of a load-balanced set does not): for the OpenAPI document.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class RequiredMembersAttribute(params string[] names) : Attribute
{
    public IReadOnlyList<string> Names { get; } = names;
}
