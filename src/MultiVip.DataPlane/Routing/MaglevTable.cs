namespace MultiVip.DataPlane.Routing;

/// <summary>
/// Maglev consistent hashing (Eisenbud et al., NSDI 2016): every member fills the lookup table in
/// its own pseudo-random permutation order, taking turns, so each member owns ~M/N slots and a
/// membership change moves little more than the changed member's share of flows.
/// </summary>
internal sealed class MaglevTable
{
    /// <summary>
    /// Prime (the permutation needs skip coprime with the size) and at least 100× the largest set
    /// Azure's limits allow (50 VMs per service), which keeps the spread within ~1%. One fixed size,
    /// not a size per set: a size that changed with the member count would reshuffle every flow
    /// whenever a set grew. 5003 ushort entries cost 10 KiB per load-balanced listener; the earlier
    /// 65537 cost 128 KiB each, 1.3 GB at 10,000 listeners (bench/run, control plane at scale).
    /// Sets larger than 50 still balance, within a few percent.
    /// </summary>
    public const int DefaultSize = 5003;

    private const ulong OffsetSeed = 0x9E3779B97F4A7C15UL;
    private const ulong SkipSeed = 0xC2B2AE3D27D4EB4FUL;

    private readonly ushort[] _lookup;

    /// <param name="memberNames">Stable member identities, in the order the caller indexes members.</param>
    public MaglevTable(IReadOnlyList<string> memberNames, int size = DefaultSize)
    {
        ArgumentOutOfRangeException.ThrowIfZero(memberNames.Count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(memberNames.Count, ushort.MaxValue);
        Size = size;
        MemberCount = memberNames.Count;
        _lookup = new ushort[size];

        var n = memberNames.Count;

        // Fill in an order that does not depend on the caller's list order (sorted by name), so two
        // nodes given the same members in different orders build the same table.
        var order = new int[n];
        for (var i = 0; i < n; i++)
        {
            order[i] = i;
        }

        Array.Sort(order, (a, b) => string.CompareOrdinal(memberNames[a], memberNames[b]));

        var offset = new long[n];
        var skip = new long[n];
        var next = new long[n];
        for (var i = 0; i < n; i++)
        {
            offset[i] = (long)(StableHash.Hash(memberNames[i], OffsetSeed) % (ulong)size);
            skip[i] = (long)(StableHash.Hash(memberNames[i], SkipSeed) % (ulong)(size - 1)) + 1;
        }

        var filled = new bool[size];
        var remaining = size;
        while (true)
        {
            foreach (var member in order)
            {
                long slot;
                do
                {
                    slot = (offset[member] + (next[member] * skip[member])) % size;
                    next[member]++;
                }
                while (filled[slot]);

                filled[slot] = true;
                _lookup[slot] = (ushort)member;
                if (--remaining == 0)
                {
                    return;
                }
            }
        }
    }

    public int Size { get; }

    public int MemberCount { get; }

    public int Lookup(ulong flowHash) => _lookup[(int)(flowHash % (ulong)Size)];

    /// <summary>The member owning <paramref name="slot"/>: the kernel plane renders the table as slot → member.</summary>
    public int MemberAt(int slot) => _lookup[slot];

    /// <summary>
    /// The flow's preference order: its slot's member first, then members met by stepping through
    /// the table with a flow-specific stride (so fallbacks are spread by the same weights as primaries
    /// rather than all piling onto one neighbour), then anyone not met yet. Returns how many were written.
    /// </summary>
    public int FillPreference(ulong flowHash, Span<int> destination) =>
        FillPreference((int)(flowHash % (ulong)Size), flowHash, destination);

    /// <summary>
    /// As <see cref="FillPreference(ulong, Span{int})"/>, starting at a slot chosen elsewhere (the
    /// kernel's jhash, <see cref="KernelFlowHash"/>) and stepping by a stride from <paramref name="strideHash"/>.
    /// </summary>
    public int FillPreference(int firstSlot, ulong strideHash, Span<int> destination)
    {
        var wanted = Math.Min(destination.Length, MemberCount);
        if (wanted == 0)
        {
            return 0;
        }

        var count = 0;
        var slot = (long)firstSlot;
        var stride = (long)((strideHash >> 32) % (ulong)(Size - 1)) + 1;

        // Bounded walk: enough to meet every member of a normal set, never a full scan per connection.
        for (var step = 0; step < 64 * wanted && count < wanted; step++)
        {
            var member = _lookup[(slot + (step * stride)) % Size];
            if (destination[..count].IndexOf(member) < 0)
            {
                destination[count++] = member;
            }
        }

        for (var member = 0; member < MemberCount && count < wanted; member++)
        {
            if (destination[..count].IndexOf(member) < 0)
            {
                destination[count++] = member;
            }
        }

        return count;
    }
}
