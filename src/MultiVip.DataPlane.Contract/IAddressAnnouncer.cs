using System.Net;

namespace MultiVip.DataPlane.Contract;

/// <summary>
/// The seam between "which VIP addresses exist" (the control plane's desired state) and "how the
/// network learns where they are" (MetalLB's allocator/announcer split): an announcer knows nothing
/// of pools, services or endpoints, only the set of addresses to hold. Implementations: <c>none</c>
/// (the addresses are already there, as loopback ones are) and <c>local</c> (adds them to an
/// interface and announces them with gratuitous ARP / unsolicited neighbour advertisements).
/// </summary>
public interface IAddressAnnouncer : IAsyncDisposable
{
    /// <summary>"none", "local": shown by the API and in metrics.</summary>
    string Name { get; }

    /// <summary>True when this announcer adds and removes addresses, so listeners must bind before the address exists.</summary>
    bool ManagesAddresses { get; }

    /// <summary>
    /// Makes the held set exactly <paramref name="addresses"/>: adds and announces the new ones,
    /// withdraws the ones no longer in it. With <paramref name="verify"/> it also re-reads the system
    /// (restoring an address someone removed); without it an unchanged set costs nothing. A failure
    /// for one address never throws: it is reported by <see cref="GetStatus"/> and retried on the next call.
    /// </summary>
    Task HoldAsync(IReadOnlySet<IPAddress> addresses, bool verify, CancellationToken cancellationToken);

    /// <summary>One entry per address of the last <see cref="HoldAsync"/>.</summary>
    IReadOnlyList<AddressStatus> GetStatus();

    /// <summary>The status of one address; null when it was not in the last <see cref="HoldAsync"/>.</summary>
    AddressStatus? GetStatus(IPAddress address);
}

/// <summary>An address the desired state says this node holds, and whose it is (for messages and views).</summary>
public sealed record HeldAddress(IPAddress Address, string ServiceName, string VirtualIpName)
{
    public string? ReservedIpName { get; init; }
}

/// <summary>Whether this node holds an address on the network, since when, and the last thing that went wrong.</summary>
public sealed record AddressStatus(IPAddress Address, bool Held, DateTimeOffset? HeldSince, string? LastError, DateTimeOffset? LastErrorAt)
{
    /// <summary>
    /// With an announcer shared by several nodes: this node's role for the address as its engine
    /// reports it (VRRP: MASTER, BACKUP, FAULT, STOPPED; BGP: announced, withdrawn), since when, and
    /// how often it changed since the start. Null for the single-node announcers.
    /// </summary>
    public string? State { get; init; }

    public DateTimeOffset? StateSince { get; init; }

    public long StateChanges { get; init; }
}

/// <summary>
/// An announcer that shares the VIP addresses with other MultiVip nodes (keepalived's VRRP, BIRD's
/// BGP): it knows which node it is, gives the addresses up at once when this node stops (so a peer
/// takes over while this one drains), and remembers the last ownership changes.
/// </summary>
public interface INodeFailover
{
    /// <summary>How this node is named in views, metrics and the history (until the node registry names nodes).</summary>
    string Node { get; }

    /// <summary>
    /// The address this node announces from, as the other nodes reach it: VRRP's source address on
    /// --vrrp-interface (what the others list as a unicast peer), BGP's router id. Written into the
    /// node registry with each heartbeat.
    /// </summary>
    string? AnnounceAddress { get; }

    /// <summary>Gives up every address now, so another node takes over: the first step of a clean stop.</summary>
    Task ReleaseAsync(CancellationToken cancellationToken);

    /// <summary>The last ownership changes of this node, oldest first (bounded, in memory).</summary>
    IReadOnlyList<OwnershipChange> History();
}

/// <summary>One change of this node's role for an address (VRRP BACKUP to MASTER, BGP announced to withdrawn, …).</summary>
public sealed record OwnershipChange(DateTimeOffset At, IPAddress Address, string Node, string Announcer, string From, string To, string Reason);

/// <summary>
/// Addresses whose listeners are gone from the desired state but still draining connections: an
/// announcer must keep holding them until the drain ends, or the connections would lose their address.
/// </summary>
public interface IDrainingAddresses
{
    IReadOnlySet<IPAddress> DrainingAddresses();

    /// <summary>Raised when a removed listener finished draining (its address may now be withdrawn).</summary>
    event Action? DrainCompleted;
}
