using MultiVip.Model.Errors;

namespace MultiVip.Model.Networking;

/// <summary>An inclusive range of IPv4 addresses that VIPs are allocated from.</summary>
public readonly record struct AddressRange(uint First, uint Last)
{
    public ulong Count => (ulong)Last - First + 1;

    public bool Contains(uint address) => address >= First && address <= Last;

    public override string ToString() => First == Last ? Ipv4.ToText(First) : $"{Ipv4.ToText(First)}-{Ipv4.ToText(Last)}";

    /// <summary>
    /// Parses a CIDR ("127.100.0.0/16") or a range ("127.100.0.10-127.100.0.20"). For a CIDR of /30
    /// or wider the network and broadcast addresses are left out, as on any real subnet.
    /// </summary>
    public static AddressRange Parse(string text)
    {
        var trimmed = text.Trim();
        var dash = trimmed.IndexOf('-', StringComparison.Ordinal);
        if (dash > 0)
        {
            if (Ipv4.TryParseStrict(trimmed.AsSpan(0, dash).Trim(), out var first)
                && Ipv4.TryParseStrict(trimmed.AsSpan(dash + 1).Trim(), out var last)
                && first <= last)
            {
                return new AddressRange(first, last);
            }

            throw MultiVipException.BadRequest(Messages.InvalidRange(text));
        }

        if (!Ipv4Subnet.TryParse(trimmed, out var subnet) || !trimmed.Contains('/', StringComparison.Ordinal))
        {
            throw MultiVipException.BadRequest(Messages.InvalidRange(text));
        }

        return subnet.PrefixLength <= 30
            ? new AddressRange(subnet.First + 1, subnet.Last - 1)
            : new AddressRange(subnet.First, subnet.Last);
    }
}

/// <summary>The configured VIP pool: one or more ranges, in the order given.</summary>
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
                if (Ranges[i].First <= Ranges[j].Last && Ranges[j].First <= Ranges[i].Last)
                {
                    throw MultiVipException.BadRequest(
                        $"The VIP pools {Ranges[i]} and {Ranges[j]} overlap. Give each address only once.");
                }
            }
        }
    }

    public IReadOnlyList<AddressRange> Ranges { get; }

    public ulong Size => Ranges.Aggregate(0UL, (sum, r) => sum + r.Count);

    public static AddressPool Parse(IEnumerable<string> specs) => new(specs.Select(AddressRange.Parse));

    public bool Contains(uint address) => Ranges.Any(r => r.Contains(address));

    public override string ToString() => string.Join(", ", Ranges);

    /// <summary>
    /// The next free address after <paramref name="cursor"/> in pool order, wrapping once. Walking on
    /// from the last allocation (rather than taking the lowest free address) delays the reuse of a
    /// just-released address, so a stale DNS answer or client cache does not reach another tenant.
    /// </summary>
    public uint? NextFree(uint? cursor, Func<uint, bool> isTaken)
    {
        var sequence = Sequence(cursor);
        foreach (var candidate in sequence)
        {
            if (!isTaken(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private IEnumerable<uint> Sequence(uint? cursor)
    {
        // Positions are indexes into the concatenation of the ranges.
        var start = 0UL;
        if (cursor is { } c)
        {
            var offset = 0UL;
            foreach (var range in Ranges)
            {
                if (range.Contains(c))
                {
                    start = offset + (c - range.First) + 1;
                    break;
                }

                offset += range.Count;
            }
        }

        var size = Size;
        for (var i = 0UL; i < size; i++)
        {
            yield return At((start + i) % size);
        }
    }

    private uint At(ulong position)
    {
        foreach (var range in Ranges)
        {
            if (position < range.Count)
            {
                return (uint)(range.First + position);
            }

            position -= range.Count;
        }

        throw new ArgumentOutOfRangeException(nameof(position));
    }
}
