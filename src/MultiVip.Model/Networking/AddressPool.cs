using System.Net.Sockets;
using MultiVip.Model.Errors;

namespace MultiVip.Model.Networking;

/// <summary>An inclusive range of IPv4 or IPv6 addresses (one family) that VIPs are allocated from.</summary>
public readonly record struct AddressRange
{
    public AddressRange(IpNumber first, IpNumber last)
    {
        if (first.Family != last.Family || first > last)
        {
            throw new ArgumentException($"{first}-{last} is not a range: both ends must be of one family, first <= last.");
        }

        First = first;
        Last = last;
    }

    public IpNumber First { get; }

    public IpNumber Last { get; }

    public AddressFamily Family => First.Family;

    /// <summary>Addresses in the range; saturates at UInt128.MaxValue (only ::/0 would overflow).</summary>
    public UInt128 Count => Last.Value - First.Value == UInt128.MaxValue ? UInt128.MaxValue : Last.Value - First.Value + 1;

    public bool Contains(IpNumber address) => address.Family == First.Family && address.Value >= First.Value && address.Value <= Last.Value;

    public override string ToString() => First == Last ? First.ToString() : $"{First}-{Last}";

    /// <summary>
    /// Parses a CIDR ("127.100.0.0/16", "2001:db8:100::/120") or a range ("127.100.0.10-127.100.0.20").
    /// An IPv4 CIDR of /30 or wider leaves out the network and broadcast addresses, as on any real
    /// subnet; an IPv6 prefix of /126 or wider leaves out its first address, the subnet-router
    /// anycast address (RFC 4291 2.6.1) — IPv6 has no broadcast.
    /// </summary>
    public static AddressRange Parse(string text)
    {
        var trimmed = text.Trim();
        var dash = trimmed.IndexOf('-', StringComparison.Ordinal);
        if (dash > 0)
        {
            if (IpNumber.TryParse(trimmed.AsSpan(0, dash), out var first)
                && IpNumber.TryParse(trimmed.AsSpan(dash + 1), out var last)
                && first.Family == last.Family
                && first <= last)
            {
                return new AddressRange(first, last);
            }

            throw MultiVipException.BadRequest(Messages.InvalidRange(text));
        }

        if (!IpSubnet.TryParse(trimmed, out var subnet) || !trimmed.Contains('/', StringComparison.Ordinal))
        {
            throw MultiVipException.BadRequest(Messages.InvalidRange(text));
        }

        if (subnet.Family == AddressFamily.InterNetworkV6)
        {
            return subnet.PrefixLength <= 126 ? new AddressRange(subnet.First + 1, subnet.Last) : new AddressRange(subnet.First, subnet.Last);
        }

        return subnet.PrefixLength <= 30
            ? new AddressRange(subnet.First + 1, subnet.Last - 1)
            : new AddressRange(subnet.First, subnet.Last);
    }
}

/// <summary>The configured VIP pool: one or more ranges of either family, in the order given.</summary>
public sealed class AddressPool
{
    public const string DefaultPool = "127.100.0.0/16";

    public AddressPool(IEnumerable<AddressRange> ranges)
    {
        Ranges = ranges.ToArray();
        if (Ranges.Count == 0)
        {
            throw MultiVipException.BadRequest(Messages.InvalidRange(""));
        }

        for (var i = 0; i < Ranges.Count; i++)
        {
            for (var j = i + 1; j < Ranges.Count; j++)
            {
                if (Ranges[i].Family == Ranges[j].Family && Ranges[i].First <= Ranges[j].Last && Ranges[j].First <= Ranges[i].Last)
                {
                    throw MultiVipException.BadRequest(
                        $"The VIP pools {Ranges[i]} and {Ranges[j]} overlap. Give each address only once.");
                }
            }
        }
    }

    public IReadOnlyList<AddressRange> Ranges { get; }

    /// <summary>Addresses in the pool, both families together (saturating).</summary>
    public UInt128 Size => Ranges.Aggregate(UInt128.Zero, (sum, r) => UInt128.MaxValue - sum < r.Count ? UInt128.MaxValue : sum + r.Count);

    public static AddressPool Parse(IEnumerable<string> specs) => new(specs.Select(AddressRange.Parse));

    public bool Contains(IpNumber address) => Ranges.Any(r => r.Contains(address));

    /// <summary>Whether any range is of <paramref name="family"/> (a VIP of that family can get an address).</summary>
    public bool Has(AddressFamily family) => Ranges.Any(r => r.Family == family);

    public override string ToString() => string.Join(", ", Ranges);

    /// <summary>
    /// The pool written one way whatever way it was given (ranges ordered by first address, each
    /// as first-last): two nodes compare their --vip-pool by it, so 10.0.0.0/24 and
    /// 10.0.0.1-10.0.0.254 (the same addresses) agree.
    /// </summary>
    public string Canonical => string.Join(", ", Ranges.OrderBy(r => r.First));

    /// <summary>
    /// The next free address after <paramref name="cursor"/> in pool order, wrapping once, among the
    /// ranges of the cursor's family (IPv4 when there is no cursor). Walking on from the last allocation
    /// (rather than taking the lowest free address) delays the reuse of a just-released address, so a
    /// stale DNS answer or client cache does not reach another tenant.
    /// </summary>
    public IpNumber? NextFree(IpNumber? cursor, Func<IpNumber, bool> isTaken) =>
        NextFree(cursor?.Family ?? AddressFamily.InterNetwork, cursor, isTaken);

    /// <summary>As <see cref="NextFree(IpNumber?, Func{IpNumber, bool})"/>, among the ranges of <paramref name="family"/>.</summary>
    public IpNumber? NextFree(AddressFamily family, IpNumber? cursor, Func<IpNumber, bool> isTaken)
    {
        var ranges = Ranges.Where(r => r.Family == family).ToArray();
        foreach (var candidate in Sequence(ranges, cursor))
        {
            if (!isTaken(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private static IEnumerable<IpNumber> Sequence(AddressRange[] ranges, IpNumber? cursor)
    {
        // Positions are indexes into the concatenation of the ranges.
        var start = UInt128.Zero;
        if (cursor is { } c)
        {
            var offset = UInt128.Zero;
            foreach (var range in ranges)
            {
                if (range.Contains(c))
                {
                    start = offset + (c.Value - range.First.Value) + 1;
                    break;
                }

                offset += range.Count;
            }
        }

        var size = ranges.Aggregate(UInt128.Zero, (sum, r) => sum + r.Count);
        for (var i = UInt128.Zero; i < size; i++)
        {
            yield return At(ranges, (start + i) % size);
        }
    }

    private static IpNumber At(AddressRange[] ranges, UInt128 position)
    {
        foreach (var range in ranges)
        {
            if (position < range.Count)
            {
                return range.First + position;
            }

            position -= range.Count;
        }

        throw new ArgumentOutOfRangeException(nameof(position));
    }
}
