using System.Globalization;
using MultiVip.Model.Errors;

namespace MultiVip.Contracts;

// What Azure bills for the seed's feature, as MultiVip records it (docs/usage.md): an extra
// (non-default) VIP while it holds an address, a reserved IP while it exists, and the bytes each
// VIP carried.

/// <summary>
/// Usage of one cloud service (or, with no <see cref="ServiceName"/>, of every service and every
/// reserved IP) over [<see cref="From"/>, <see cref="To"/>). Hours are exact to the tick; bytes
/// are counted in minute buckets, each counted when it starts inside the range.
/// </summary>
public sealed record UsageReport
{
    /// <summary>The service reported on; null for the whole subscription.</summary>
    public string? ServiceName { get; init; }

    public required DateTimeOffset From { get; init; }

    public required DateTimeOffset To { get; init; }

    /// <summary>When the report was made: what is still held is counted up to here (or <see cref="To"/> if earlier).</summary>
    public required DateTimeOffset GeneratedAt { get; init; }

    /// <summary>Hours of the extra VIPs together; the default VIP is not billed.</summary>
    public double VipHours { get; init; }

    public double ReservedIpHours { get; init; }

    public long BytesIn { get; init; }

    public long BytesOut { get; init; }

    public required IReadOnlyList<VirtualIpUsage> VirtualIps { get; init; }

    public required IReadOnlyList<ReservedIpUsage> ReservedIps { get; init; }
}

/// <summary>One VIP: the hours it held an address (extra VIPs only) and the bytes it carried.</summary>
public sealed record VirtualIpUsage
{
    public required string ServiceName { get; init; }

    public required string Name { get; init; }

    /// <summary>The default VIP always has an address and is not billed: its <see cref="Hours"/> stay 0.</summary>
    public bool IsDnsProgrammed { get; init; }

    public double Hours { get; init; }

    /// <summary>Bytes from clients to the VMs.</summary>
    public long BytesIn { get; init; }

    /// <summary>Bytes from the VMs back to clients.</summary>
    public long BytesOut { get; init; }

    /// <summary>When the VIP held an address, clipped to the range.</summary>
    public required IReadOnlyList<UsageInterval> Intervals { get; init; }
}

/// <summary>
/// One reserved IP: the hours it existed in the range. In a service's report, only the hours it
/// backed a VIP of that service; in the subscription's report, all of them.
/// </summary>
public sealed record ReservedIpUsage
{
    public required string Name { get; init; }

    public required string Address { get; init; }

    public double Hours { get; init; }

    /// <summary>Each stretch with the association it had (ServiceName/VirtualIpName null when unassociated), clipped to the range.</summary>
    public required IReadOnlyList<UsageInterval> Intervals { get; init; }
}

/// <summary>A stretch of time something was held, clipped to the report's range.</summary>
public sealed record UsageInterval
{
    public required DateTimeOffset Start { get; init; }

    public required DateTimeOffset End { get; init; }

    public required string Address { get; init; }

    /// <summary>Still held when the report was made; <see cref="End"/> is then the report's end.</summary>
    public bool Open { get; init; }

    /// <summary>For a reserved IP: the service whose VIP it backed during this stretch.</summary>
    public string? ServiceName { get; init; }

    public string? VirtualIpName { get; init; }

    public double Hours { get; init; }
}

/// <summary>The range of a usage report: parsing of its ISO 8601 bounds and the default (this month so far).</summary>
public static class UsageRange
{
    private static readonly string[] Formats =
    [
        "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK",
        "yyyy-MM-dd'T'HH:mm:ssK",
        "yyyy-MM-dd'T'HH:mmK",
        "yyyy-MM-dd",
    ];

    /// <summary>
    /// Parses an ISO 8601 date or date-time (<c>2025-01-15</c>, <c>2025-01-15T10:00:00Z</c>,
    /// <c>2025-01-15T10:00+01:00</c>). A time without an offset is UTC.
    /// </summary>
    public static DateTimeOffset ParseTime(string text, string name)
    {
        if (!DateTimeOffset.TryParseExact(text.Trim(), Formats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time))
        {
            throw MultiVipException.BadRequest(
                $"'{text}' is not a time for {name}. Use ISO 8601: a date like 2025-01-15 or a time like 2025-01-15T10:00:00Z (UTC when no offset is given).");
        }

        return time;
    }

    /// <summary>The range a report covers: the given bounds, else from the start of this month (UTC) to now.</summary>
    public static (DateTimeOffset From, DateTimeOffset To) Resolve(string? from, string? to, DateTimeOffset now)
    {
        var end = to is null ? now : ParseTime(to, "to");
        var start = from is null ? StartOfMonth(to is null ? now : end) : ParseTime(from, "from");
        if (start >= end)
        {
            throw MultiVipException.BadRequest(
                $"The usage range is empty: from ({Text(start)}) must be before to ({Text(end)}). Give an earlier from or a later to.");
        }

        return (start, end);
    }

    /// <summary>Midnight UTC on the first day of the month <paramref name="time"/> falls in.</summary>
    public static DateTimeOffset StartOfMonth(DateTimeOffset time)
    {
        var utc = time.ToUniversalTime();
        return new DateTimeOffset(utc.Year, utc.Month, 1, 0, 0, 0, TimeSpan.Zero);
    }

    /// <summary>The query string of a usage URL: only the bounds given.</summary>
    public static string Query(DateTimeOffset? from, DateTimeOffset? to)
    {
        var parts = new List<string>(2);
        if (from is { } f)
        {
            parts.Add("from=" + Uri.EscapeDataString(Text(f)));
        }

        if (to is { } t)
        {
            parts.Add("to=" + Uri.EscapeDataString(Text(t)));
        }

        return parts.Count == 0 ? "" : "?" + string.Join('&', parts);
    }

    private static string Text(DateTimeOffset time) => time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);
}
