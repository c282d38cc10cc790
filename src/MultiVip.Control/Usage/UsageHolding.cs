using MultiVip.Model.Services;

namespace MultiVip.Control.Usage;

/// <summary>What a usage interval measures: one of the two things Azure bills for the seed's feature.</summary>
public enum UsageMeter
{
    /// <summary>An extra (non-default) VIP while it holds an address.</summary>
    VirtualIp,

    /// <summary>A reserved IP while it exists.</summary>
    ReservedIp,
}

/// <summary>
/// One billable thing as one committed state has it: an extra VIP holding <see cref="Address"/>, or
/// a reserved IP (with the VIP it backs, if any). A VIP is known by its service and name, a
/// reservation by its name alone (its association can change while it exists).
/// </summary>
public sealed record UsageHolding(UsageMeter Meter, string? ServiceName, string Name, string Address, string? VirtualIpName = null)
{
    /// <summary>Same thing (whatever it holds now).</summary>
    public bool SameSubject(UsageHolding other) =>
        Meter == other.Meter && Names.Equal(Name, other.Name) && (Meter == UsageMeter.ReservedIp || Names.Equal(ServiceName, other.ServiceName));

    /// <summary>Same thing holding the same: nothing to record between the two.</summary>
    public bool SameHolding(UsageHolding other) =>
        SameSubject(other) && Address == other.Address && Names.Equal(ServiceName, other.ServiceName) && Names.Equal(VirtualIpName, other.VirtualIpName);
}

/// <summary>
/// A holding begins or ends at <see cref="At"/>: written in the same transaction as the change that
/// caused it. <see cref="OperationId"/> is that change's operation; null when start-up reconciled the
/// record with the state (a data dir from before usage was recorded).
/// </summary>
public sealed record UsageTransition(bool Starts, UsageHolding Holding, DateTimeOffset At, Guid? OperationId);

/// <summary>An interval as the store recorded it; <see cref="End"/> is null while it is still held.</summary>
public sealed record RecordedInterval(UsageHolding Holding, DateTimeOffset Start, DateTimeOffset? End);

/// <summary>Bytes one VIP carried in one bucket (or, read back, over a range).</summary>
public sealed record TrafficSample(string ServiceName, string VirtualIpName, DateTimeOffset BucketStart, long BytesIn, long BytesOut);
