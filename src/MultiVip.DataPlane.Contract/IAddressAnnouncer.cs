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
public sealed record AddressStatus(IPAddress Address, bool Held, DateTimeOffset? HeldSince, string? LastError, DateTimeOffset? LastErrorAt);

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
