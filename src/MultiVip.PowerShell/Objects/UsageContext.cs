using System.Globalization;
using MultiVip.Contracts;

namespace MultiVip.PowerShell.Objects;

/// <summary>
/// Get-AzureServiceUsage: the totals, with the VIPs and reserved IPs as collections, the way
/// Get-AzureDeployment carries .VirtualIPs (docs/usage.md).
/// </summary>
public sealed class ServiceUsageContext
{
    internal ServiceUsageContext(UsageReport u)
    {
        ServiceName = u.ServiceName;
        StartTime = u.From.UtcDateTime;
        EndTime = u.To.UtcDateTime;
        VipHours = u.VipHours;
        ReservedIPHours = u.ReservedIpHours;
        BytesIn = u.BytesIn;
        BytesOut = u.BytesOut;
        VirtualIPs = [.. u.VirtualIps.Select(v => new VirtualIPUsageContext(v))];
        ReservedIPs = [.. u.ReservedIps.Select(r => new ReservedIPUsageContext(r))];
    }

    /// <summary>Empty for the whole subscription's usage.</summary>
    public string? ServiceName { get; }

    public DateTime StartTime { get; }

    public DateTime EndTime { get; }

    /// <summary>Hours the extra VIPs held an address, together.</summary>
    public double VipHours { get; }

    public double ReservedIPHours { get; }

    public long BytesIn { get; }

    public long BytesOut { get; }

    public IReadOnlyList<VirtualIPUsageContext> VirtualIPs { get; }

    public IReadOnlyList<ReservedIPUsageContext> ReservedIPs { get; }
}

/// <summary>One VIP: hours it held an address (none for the default VIP, which is not billed) and bytes it carried.</summary>
public sealed class VirtualIPUsageContext
{
    internal VirtualIPUsageContext(VirtualIpUsage v)
    {
        ServiceName = v.ServiceName;
        VirtualIPName = v.Name;
        IsDnsProgrammed = v.IsDnsProgrammed;
        Hours = v.Hours;
        BytesIn = v.BytesIn;
        BytesOut = v.BytesOut;
        Intervals = [.. v.Intervals.Select(UsageIntervalContext.From)];
    }

    public string ServiceName { get; }

    public string VirtualIPName { get; }

    public bool IsDnsProgrammed { get; }

    public double Hours { get; }

    public long BytesIn { get; }

    public long BytesOut { get; }

    public IReadOnlyList<UsageIntervalContext> Intervals { get; }

    /// <summary>What a collection property shows: <c>{Vip1, Vip2 4.5h}</c>.</summary>
    public override string ToString() =>
        IsDnsProgrammed ? VirtualIPName : string.Create(CultureInfo.InvariantCulture, $"{VirtualIPName} {Hours:0.####}h");
}

public sealed class ReservedIPUsageContext
{
    internal ReservedIPUsageContext(ReservedIpUsage r)
    {
        ReservedIPName = r.Name;
        Address = r.Address;
        Hours = r.Hours;
        Intervals = [.. r.Intervals.Select(UsageIntervalContext.From)];
    }

    public string ReservedIPName { get; }

    public string Address { get; }

    public double Hours { get; }

    public IReadOnlyList<UsageIntervalContext> Intervals { get; }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{ReservedIPName} {Hours:0.####}h");
}

/// <summary>A stretch something was held, clipped to the report's range (UTC).</summary>
public sealed record UsageIntervalContext(DateTime StartTime, DateTime EndTime, string Address, bool Open, string? ServiceName, string? VirtualIPName, double Hours)
{
    internal static UsageIntervalContext From(UsageInterval i) =>
        new(i.Start.UtcDateTime, i.End.UtcDateTime, i.Address, i.Open, i.ServiceName, i.VirtualIpName, i.Hours);

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{StartTime:yyyy-MM-dd HH:mm}-{EndTime:HH:mm}{(Open ? "*" : "")}");
}
