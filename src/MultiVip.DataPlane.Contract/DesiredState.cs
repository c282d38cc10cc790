using System.Net;
using MultiVip.Model.Services;
using MultiVip.Model.Validation;

namespace MultiVip.DataPlane.Contract;

/// <summary>
/// What the data plane should be doing, as one immutable snapshot. The control plane publishes a
/// new snapshot (with a higher <see cref="Generation"/>) after every committed change; the data
/// plane diffs it against what runs and touches only listeners whose <see cref="ListenerSpec"/> changed.
/// </summary>
public sealed record DesiredState(long Generation, IReadOnlyList<ListenerSpec> Listeners)
{
    public static readonly DesiredState Empty = new(0, []);

    /// <summary>
    /// The VIP addresses this node must hold on the network, by the seed's rules: the default VIP
    /// always, an extra VIP while it has an address, a reserved IP while it backs a VIP. What
    /// <see cref="IAddressAnnouncer"/> makes true; listeners are a separate concern.
    /// </summary>
    public IReadOnlyList<HeldAddress> Addresses { get; init; } = [];
}

/// <summary>One public socket: a VIP address, a protocol and a public port.</summary>
public readonly record struct ListenerKey(IPAddress Address, TransportProtocol Protocol, int Port)
{
    public override string ToString() => $"{Protocol.ToWire()}/{new IPEndPoint(Address, Port)}";
}

/// <summary>A backend of a listener: the VM's internal address and the endpoint's local port.</summary>
public sealed record BackendSpec(string VmName, string EndpointName, IPEndPoint Target)
{
    /// <summary>Where the probe connects (the VM's address and the probe port), when the listener has a probe.</summary>
    public IPEndPoint? ProbeTarget { get; init; }

    /// <summary>
    /// Out of rotation for maintenance (the VM is draining): no new connection or UDP session is sent
    /// to it, while its established connections go on for as long as they last. Not part of the
    /// backend's traffic identity, so turning it on or off never cuts a connection.
    /// </summary>
    public bool Draining { get; init; }
}

/// <summary>
/// Everything the data plane needs for one listener. A single endpoint has one backend and no probe;
/// a load-balanced set has one backend per member and the set's probe.
/// </summary>
public sealed record ListenerSpec
{
    public required ListenerKey Key { get; init; }

    public required string ServiceName { get; init; }

    public required string VirtualIpName { get; init; }

    /// <summary>Null for an endpoint that is not in a load-balanced set.</summary>
    public string? LoadBalancedSetName { get; init; }

    public required IReadOnlyList<BackendSpec> Backends { get; init; }

    public LoadBalancerProbe? Probe { get; init; }

    public LoadBalancerDistribution Distribution { get; init; }

    public IReadOnlyList<AclRule> Acl { get; init; } = [];

    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(InputEndpoint.DefaultIdleTimeoutInMinutes);

    public ProxyProtocolVersion ProxyProtocol { get; init; }

    /// <summary>
    /// Azure's floating IP: the VM receives packets still addressed to VIP:public port and answers the
    /// client itself. Only the kernel plane can carry it; the user-space proxy ignores it.
    /// </summary>
    public bool DirectServerReturn { get; init; }

    /// <summary>Value equality over the lists too: the data plane's diff uses this to leave unchanged listeners alone.</summary>
    public bool IsEquivalentTo(ListenerSpec other) =>
        ReferenceEquals(this, other) // the control plane reuses unchanged services' specs: O(1) for them
        || Key == other.Key
        && ServiceName == other.ServiceName
        && VirtualIpName == other.VirtualIpName
        && LoadBalancedSetName == other.LoadBalancedSetName
        && Backends.SequenceEqual(other.Backends)
        && Equals(Probe, other.Probe)
        && Distribution == other.Distribution
        && DeploymentRules.AclEquals(Acl, other.Acl)
        && IdleTimeout == other.IdleTimeout
        && ProxyProtocol == other.ProxyProtocol
        && DirectServerReturn == other.DirectServerReturn;
}
