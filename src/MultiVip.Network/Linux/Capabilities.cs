using System.Globalization;

namespace MultiVip.Network.Linux;

/// <summary>The process's effective capabilities, read from /proc/self/status (no libcap needed).</summary>
internal static class Capabilities
{
    public const int NetAdmin = 12;
    public const int NetRaw = 13;

    public static bool Has(int capability, string statusPath = "/proc/self/status")
    {
        if (!File.Exists(statusPath))
        {
            return false;
        }

        foreach (var line in File.ReadLines(statusPath))
        {
            if (line.StartsWith("CapEff:", StringComparison.Ordinal)
                && ulong.TryParse(line.AsSpan("CapEff:".Length).Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var mask))
            {
                return (mask & (1UL << capability)) != 0;
            }
        }

        return false;
    }
}
