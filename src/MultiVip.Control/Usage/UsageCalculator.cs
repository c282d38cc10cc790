using MultiVip.Control.State;
using MultiVip.Contracts;
using MultiVip.Model.Services;

namespace MultiVip.Control.Usage;

/// <summary>
/// The arithmetic of a usage report, pure: recorded intervals clipped to [from, to), with what is
/// still held counted up to now; hours summed in ticks (exact) and converted once.
/// </summary>
public static class UsageCalculator
{
    /// <summary>
    /// The part of [start, end) inside [from, to); an interval still held (no end) runs to
    /// <paramref name="now"/>. Null when nothing of it is inside.
    /// </summary>
    public static (DateTimeOffset Start, DateTimeOffset End)? Clip(DateTimeOffset start, DateTimeOffset? end, DateTimeOffset from, DateTimeOffset to, DateTimeOffset now)
    {
        var clippedStart = start > from ? start : from;
        var stop = end ?? now;
        var clippedEnd = stop < to ? stop : to;
        return clippedEnd > clippedStart ? (clippedStart, clippedEnd) : null;
    }

    public static double Hours(long ticks) => ticks / (double)TimeSpan.TicksPerHour;

    /// <summary>
    /// Builds the report of one service (or, with <paramref name="serviceName"/> null, of every
    /// service and reserved IP). <paramref name="current"/> lists the VIPs that exist now, so each
    /// appears even with nothing to bill; VIPs and reserved IPs that existed only earlier come from
    /// the records.
    /// </summary>
    public static UsageReport Report(
        string? serviceName,
        DateTimeOffset from,
        DateTimeOffset to,
        DateTimeOffset now,
        IEnumerable<RecordedInterval> intervals,
        IEnumerable<TrafficSample> traffic,
        WorldState current)
    {
        var vips = new Dictionary<(string Service, string Name), VipRow>(VipNameComparer.Instance);
        var currentServices = serviceName is null
            ? current.Services.Values.OrderBy(s => s.Name, Names.Comparer)
            : current.Services.GetValueOrDefault(serviceName) is { } one ? [one] : Enumerable.Empty<CloudService>();
        foreach (var service in currentServices)
        {
            var order = 0;
            foreach (var vip in service.Deployment?.VirtualIps ?? [])
            {
                vips[(service.Name, vip.Name)] = new VipRow(service.Name, vip.Name, vip.IsDnsProgrammed, order++);
            }
        }

        var reserved = new Dictionary<string, ReservedRow>(Names.Comparer);
        foreach (var recorded in intervals)
        {
            var holding = recorded.Holding;
            if (serviceName is not null && !Names.Equal(holding.ServiceName, serviceName))
            {
                continue;
            }

            if (Clip(recorded.Start, recorded.End, from, to, now) is not { } clipped)
            {
                continue;
            }

            var interval = new UsageInterval
            {
                Start = clipped.Start,
                End = clipped.End,
                Address = holding.Address,
                Open = recorded.End is null,
                ServiceName = holding.Meter == UsageMeter.ReservedIp ? holding.ServiceName : null,
                VirtualIpName = holding.Meter == UsageMeter.ReservedIp ? holding.VirtualIpName : null,
                Hours = Hours((clipped.End - clipped.Start).Ticks),
            };
            var ticks = (clipped.End - clipped.Start).Ticks;
            if (holding.Meter == UsageMeter.VirtualIp)
            {
                var row = Row(vips, holding.ServiceName!, holding.Name);
                row.Intervals.Add(interval);
                row.Ticks += ticks;
            }
            else
            {
                if (!reserved.TryGetValue(holding.Name, out var row))
                {
                    reserved[holding.Name] = row = new ReservedRow(holding.Name);
                }

                row.Intervals.Add(interval);
                row.Ticks += ticks;
                row.Address = holding.Address;
            }
        }

        foreach (var sample in traffic)
        {
            if (serviceName is not null && !Names.Equal(sample.ServiceName, serviceName))
            {
                continue;
            }

            if (sample.BucketStart < from || sample.BucketStart >= to)
            {
                continue;
            }

            var row = Row(vips, sample.ServiceName, sample.VirtualIpName);
            row.BytesIn += sample.BytesIn;
            row.BytesOut += sample.BytesOut;
        }

        var vipUsage = vips.Values
            .OrderBy(v => v.ServiceName, Names.Comparer).ThenBy(v => v.Order).ThenBy(v => v.Name, Names.Comparer)
            .Select(v => new VirtualIpUsage
            {
                ServiceName = v.ServiceName,
                Name = v.Name,
                IsDnsProgrammed = v.IsDnsProgrammed,
                Hours = Hours(v.Ticks),
                BytesIn = v.BytesIn,
                BytesOut = v.BytesOut,
                Intervals = [.. v.Intervals.OrderBy(i => i.Start)],
            })
            .ToList();
        var reservedUsage = reserved.Values.OrderBy(r => r.Name, Names.Comparer)
            .Select(r => new ReservedIpUsage
            {
                Name = r.Name,
                Address = r.Address,
                Hours = Hours(r.Ticks),
                Intervals = [.. r.Intervals.OrderBy(i => i.Start)],
            })
            .ToList();
        return new UsageReport
        {
            ServiceName = serviceName is null ? null : current.Services.GetValueOrDefault(serviceName)?.Name ?? serviceName,
            From = from,
            To = to,
            GeneratedAt = now,
            VipHours = Hours(vips.Values.Sum(v => v.Ticks)),
            ReservedIpHours = Hours(reserved.Values.Sum(r => r.Ticks)),
            BytesIn = vips.Values.Sum(v => v.BytesIn),
            BytesOut = vips.Values.Sum(v => v.BytesOut),
            VirtualIps = vipUsage,
            ReservedIps = reservedUsage,
        };
    }

    private static VipRow Row(Dictionary<(string Service, string Name), VipRow> vips, string service, string name)
    {
        if (!vips.TryGetValue((service, name), out var row))
        {
            // A VIP that is gone (removed, or its service deleted): it was an extra VIP, or it has no hours anyway.
            vips[(service, name)] = row = new VipRow(service, name, isDnsProgrammed: false, int.MaxValue);
        }

        return row;
    }

    private sealed class VipRow(string serviceName, string name, bool isDnsProgrammed, int order)
    {
        public string ServiceName { get; } = serviceName;

        public string Name { get; } = name;

        public bool IsDnsProgrammed { get; } = isDnsProgrammed;

        public int Order { get; } = order;

        public List<UsageInterval> Intervals { get; } = [];

        public long Ticks { get; set; }

        public long BytesIn { get; set; }

        public long BytesOut { get; set; }
    }

    private sealed class ReservedRow(string name)
    {
        public string Name { get; } = name;

        public string Address { get; set; } = "";

        public List<UsageInterval> Intervals { get; } = [];

        public long Ticks { get; set; }
    }
}
