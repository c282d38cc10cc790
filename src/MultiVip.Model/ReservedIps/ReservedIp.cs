namespace MultiVip.Model.ReservedIps;

/// <summary>
/// An address taken out of the dynamic pool for good. While associated it backs one VIP, which then
/// keeps the address whatever happens to its endpoints.
/// </summary>
public sealed record ReservedIp
{
    public required string Name { get; init; }

    public required string Address { get; init; }

    /// <summary>Stable id, like Azure's.</summary>
    public Guid Id { get; init; }

    public string? Label { get; init; }

    public string Location { get; init; } = "local";

    public DateTimeOffset CreatedAt { get; init; }

    public long Version { get; init; }

    public string? ServiceName { get; init; }

    public string? DeploymentName { get; init; }

    public string? VirtualIpName { get; init; }

    /// <summary>Azure shows "Created" for every existing reservation.</summary>
    public string State => "Created";

    public bool InUse => ServiceName is not null;
}
