namespace MultiVip.Client;

/// <summary>How the client waits for operations. The defaults suit an interactive CLI.</summary>
public sealed record MultiVipClientOptions
{
    /// <summary>First poll delay; most operations finish within a few tens of milliseconds.</summary>
    public TimeSpan InitialPollDelay { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Upper bound of the doubling poll delay, so a slow operation costs at most 4 requests a second.</summary>
    public TimeSpan MaxPollDelay { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How long to wait for an operation before giving up (it keeps running on the server).</summary>
    public TimeSpan OperationTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Timeout of one HTTP request.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(100);
}
