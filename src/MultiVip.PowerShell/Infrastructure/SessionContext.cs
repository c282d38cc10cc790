namespace MultiVip.PowerShell.Infrastructure;

/// <summary>
/// What Set-MultiVipContext stored for this pwsh process. Unset values fall through to the same
/// resolution as the CLI (MULTIVIP_API / MULTIVIP_TOKEN, then the data dir), so a shell opened by
/// ./multivip-ps next to a running `multivip serve` needs no setup at all.
/// </summary>
internal static class SessionContext
{
    private static readonly object Gate = new();
    private static (string? Api, string? Token, string? DataDir) s_values;

    public static (string? Api, string? Token, string? DataDir) Current
    {
        get
        {
            lock (Gate)
            {
                return s_values;
            }
        }
    }

    public static void Set(string? api, string? token, string? dataDir)
    {
        lock (Gate)
        {
            s_values = (api, token, dataDir);
        }
    }
}
