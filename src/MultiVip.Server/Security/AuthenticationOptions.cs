namespace MultiVip.Server.Security;

/// <summary>
/// How the API and the dashboard guard themselves: the failed-credential limiter, dashboard
/// sessions and the Host names the server answers to. Defaults suit a server on loopback.
/// </summary>
public sealed record AuthenticationOptions
{
    /// <summary>Wrong credentials one client address may present per <see cref="FailureWindow"/> before further wrong ones get 429.</summary>
    public int FailureLimit { get; init; } = 10;

    /// <summary>The window the failures are counted in; it starts at an address's first failure.</summary>
    public TimeSpan FailureWindow { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Client addresses the limiter tracks at once. Beyond it, failures from further addresses share
    /// one counter, so a flood from many addresses is still limited and cannot grow the table.
    /// </summary>
    public int MaxTrackedAddresses { get; init; } = 10_000;

    /// <summary>How long a dashboard sign-in lasts (absolute, not renewed by use).</summary>
    public TimeSpan SessionLifetime { get; init; } = TimeSpan.FromHours(12);

    /// <summary>Dashboard sessions kept at once; a sign-in beyond it ends the oldest session.</summary>
    public int MaxSessions { get; init; } = 1_000;

    /// <summary>
    /// Host names (name or name:port) the API and dashboard answer to besides the address a client
    /// connected to (and localhost on loopback): a DNS name, or the address a port forward exposes.
    /// </summary>
    public IReadOnlyList<string> AllowedHosts { get; init; } = [];

    /// <summary>The clock of the limiter and of session expiry; tests drive it.</summary>
    internal TimeProvider Time { get; init; } = TimeProvider.System;
}
