using System.Globalization;

namespace MultiVip.DataPlane.Nftables;

/// <summary>
/// Active connections per backend of the kernel plane, from conntrack's table: the flows carrying one
/// of MultiVip's marks (<see cref="NftRuleset.MarkPrefix"/>, set by the DNAT rules), TCP only while
/// ESTABLISHED (a closing or TIME_WAIT entry is no longer a connection the backend serves), UDP while
/// the entry lives (it goes with the idle timeout, or at once when the backend leaves: see
/// <see cref="NftCommand.DeleteUdpFlowsAsync"/>).
/// <para>
/// One <c>conntrack -L --mark 0x4d000000/0xff000000</c> for both families: the kernel filters the dump
/// by mark (ctnetlink's mark/mask filter), so only MultiVip's flows cross to user space, and they are
/// counted line by line as they arrive (memory by backend, not by flow). DSR listeners have none: their
/// packets are dropped after the copy is sent (never confirmed) and the copy is untracked, so the node
/// holds no state for them and cannot count them.
/// </para>
/// </summary>
internal static class ConntrackActive
{
    /// <summary>Active flows by backend id (the low bits of the mark).</summary>
    public static IReadOnlyDictionary<int, long> Read(string conntrack)
    {
        var (code, counts, error) = NftCommand.RunReading(conntrack, ["-L", "--mark", $"0x{NftRuleset.MarkPrefix:x8}/0x{NftRuleset.MarkMask:x8}"], Count);
        return code == 0 ? counts : throw new NftException($"conntrack -L exited with {code}: {error}");
    }

    /// <summary>
    /// Counts conntrack's default output ("tcp 6 431999 ESTABLISHED src=… [ASSURED] mark=1291845639 use=1",
    /// "udp 17 29 src=… mark=…"): one line per flow, the protocol first, TCP's state fourth.
    /// </summary>
    public static Dictionary<int, long> Count(TextReader lines)
    {
        var counts = new Dictionary<int, long>();
        while (lines.ReadLine() is { } line)
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 4)
            {
                continue;
            }

            var live = fields[0] switch
            {
                "tcp" => fields[3] == "ESTABLISHED",
                "udp" => true,
                _ => false,
            };
            var mark = Array.Find(fields, f => f.StartsWith("mark=", StringComparison.Ordinal));
            if (!live || mark is null || !uint.TryParse(mark.AsSpan("mark=".Length), NumberStyles.None, CultureInfo.InvariantCulture, out var value)
                || (value & NftRuleset.MarkMask) != NftRuleset.MarkPrefix)
            {
                continue;
            }

            var backend = (int)(value & NftRuleset.MaxBackendId);
            counts[backend] = counts.GetValueOrDefault(backend) + 1;
        }

        return counts;
    }
}
