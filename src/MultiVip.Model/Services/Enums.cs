using System.Text.Json.Serialization;

namespace MultiVip.Model.Services;

/// <summary>Transport protocol of an input endpoint.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<TransportProtocol>))]
public enum TransportProtocol
{
    Tcp,
    Udp,
}

/// <summary>How a load-balanced set probes its members.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ProbeProtocol>))]
public enum ProbeProtocol
{
    Tcp,
    Http,
}

/// <summary>Which tuple of a flow picks the member of a load-balanced set.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<LoadBalancerDistribution>))]
public enum LoadBalancerDistribution
{
    /// <summary>5-tuple: source IP and port, destination IP and port, protocol.</summary>
    None,

    /// <summary>2-tuple: source IP, destination IP.</summary>
    SourceIP,

    /// <summary>3-tuple: source IP, destination IP, protocol.</summary>
    SourceIPProtocol,
}

[JsonConverter(typeof(JsonStringEnumConverter<AclAction>))]
public enum AclAction
{
    Permit,
    Deny,
}

/// <summary>PROXY protocol header sent to backends so they see the client's address (opt-in).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ProxyProtocolVersion>))]
public enum ProxyProtocolVersion
{
    None,
    V1,
    V2,
}

/// <summary>
/// A VM in or out of rotation, as HAProxy's ready / drain / maint: <see cref="Draining"/> takes no
/// new connections while established ones go on, and becomes <see cref="Disabled"/> once the VM
/// carries none; <see cref="Disabled"/> takes no traffic at all.
/// </summary>
[JsonConverter(typeof(JsonStringEnumConverter<VmState>))]
public enum VmState
{
    Enabled,
    Draining,
    Disabled,
}

/// <summary>Parses the spellings users type (case-insensitive), with the domain's error messages.</summary>
public static class EnumParsing
{
    public static TransportProtocol ParseProtocol(string value) => value.Trim().ToLowerInvariant() switch
    {
        "tcp" => TransportProtocol.Tcp,
        "udp" => TransportProtocol.Udp,
        _ => throw Errors.MultiVipException.BadRequest(Errors.Messages.Protocol(value)),
    };

    public static ProbeProtocol ParseProbeProtocol(string value) => value.Trim().ToLowerInvariant() switch
    {
        "tcp" => ProbeProtocol.Tcp,
        "http" => ProbeProtocol.Http,
        _ => throw Errors.MultiVipException.BadRequest(Errors.Messages.ProbeProtocol(value)),
    };

    public static LoadBalancerDistribution ParseDistribution(string value) => value.Trim().ToLowerInvariant() switch
    {
        "none" or "" => LoadBalancerDistribution.None,
        "sourceip" => LoadBalancerDistribution.SourceIP,
        "sourceipprotocol" => LoadBalancerDistribution.SourceIPProtocol,
        _ => throw Errors.MultiVipException.BadRequest(Errors.Messages.Distribution(value)),
    };

    public static AclAction ParseAclAction(string value) => value.Trim().ToLowerInvariant() switch
    {
        "permit" => AclAction.Permit,
        "deny" => AclAction.Deny,
        _ => throw Errors.MultiVipException.BadRequest(Errors.Messages.AclAction(value)),
    };

    public static ProxyProtocolVersion ParseProxyProtocol(string value) => value.Trim().ToLowerInvariant() switch
    {
        "none" or "" or "off" => ProxyProtocolVersion.None,
        "v1" or "1" => ProxyProtocolVersion.V1,
        "v2" or "2" => ProxyProtocolVersion.V2,
        _ => throw Errors.MultiVipException.BadRequest(
            $"'{value}' is not a PROXY protocol version. Use none, v1 or v2."),
    };

    public static VmState ParseVmState(string value) => value.Trim().ToLowerInvariant() switch
    {
        "enabled" or "enable" => VmState.Enabled,
        "draining" or "drain" => VmState.Draining,
        "disabled" or "disable" => VmState.Disabled,
        _ => throw Errors.MultiVipException.BadRequest(
            $"'{value}' is not a VM state. Use enabled (in rotation), draining (no new connections, then disabled) or disabled."),
    };

    public static string ToWire(this VmState s) => s switch
    {
        VmState.Draining => "draining",
        VmState.Disabled => "disabled",
        _ => "enabled",
    };

    public static string ToWire(this TransportProtocol p) => p == TransportProtocol.Tcp ? "tcp" : "udp";

    public static string ToWire(this ProbeProtocol p) => p == ProbeProtocol.Tcp ? "tcp" : "http";

    public static string ToWire(this LoadBalancerDistribution d) => d switch
    {
        LoadBalancerDistribution.SourceIP => "sourceIP",
        LoadBalancerDistribution.SourceIPProtocol => "sourceIPProtocol",
        _ => "none",
    };

    public static string ToWire(this AclAction a) => a == AclAction.Permit ? "permit" : "deny";

    public static string ToWire(this ProxyProtocolVersion p) => p switch
    {
        ProxyProtocolVersion.V1 => "v1",
        ProxyProtocolVersion.V2 => "v2",
        _ => "none",
    };
}
