using System.Net;
using Microsoft.Extensions.Logging;
using MultiVip.DataPlane.Contract;
using MultiVip.Model.Errors;

namespace MultiVip.Network.Announcing;

/// <summary>What `multivip serve` said about announcing (--announce, --vip-interface, --vrrp-*, --bgp-*).</summary>
internal sealed record AnnouncerSettings
{
    /// <summary>none, local, vrrp, bgp; null: local with <see cref="VipInterface"/>, none without.</summary>
    public string? Mode { get; init; }

    public string? VipInterface { get; init; }

    public string DataDir { get; init; } = ".";

    public VrrpOptions? Vrrp { get; init; }

    public BgpOptions? Bgp { get; init; }

    public static readonly IReadOnlyList<string> Modes = ["none", "local", "vrrp", "bgp"];

    public string EffectiveMode => Mode?.Trim().ToLowerInvariant() is { Length: > 0 } mode
        ? mode
        : string.IsNullOrWhiteSpace(VipInterface) ? "none" : "local";
}

/// <summary>
/// Picks the announcer from the server's options: <c>local</c> with --vip-interface, <c>none</c>
/// without; <c>vrrp</c> and <c>bgp</c> when --announce asks for them.
/// </summary>
internal static class AddressAnnouncers
{
    public static Task<IAddressAnnouncer> CreateAsync(string? vipInterface, TimeProvider time, ILoggerFactory loggers, CancellationToken cancellationToken) =>
        CreateAsync(new AnnouncerSettings { VipInterface = vipInterface }, time, loggers, cancellationToken);

    public static async Task<IAddressAnnouncer> CreateAsync(AnnouncerSettings settings, TimeProvider time, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        switch (settings.EffectiveMode)
        {
            case "none":
                return new NoAddressAnnouncer(time);
            case "local":
                if (string.IsNullOrWhiteSpace(settings.VipInterface))
                {
                    throw MultiVipException.BadRequest("--announce local needs --vip-interface IFACE (the interface the VIP addresses are added to).");
                }

                return await LocalAddressAnnouncer.StartAsync(
                    new LocalAnnouncerOptions { Interface = settings.VipInterface.Trim() },
                    time,
                    loggers.CreateLogger<LocalAddressAnnouncer>(),
                    cancellationToken);
            case "vrrp":
                return await VrrpAnnouncer.StartAsync(
                    settings.Vrrp ?? throw MultiVipException.BadRequest("--announce vrrp needs --vrrp-interface IFACE (the interface on the segment the nodes share)."),
                    time,
                    loggers.CreateLogger<VrrpAnnouncer>(),
                    cancellationToken);
            case "bgp":
                return await BgpAnnouncer.StartAsync(
                    settings.Bgp ?? throw MultiVipException.BadRequest("--announce bgp needs --bgp-asn N and at least one --bgp-peer ADDR[:ASN]."),
                    time,
                    loggers,
                    cancellationToken);
            default:
                throw MultiVipException.BadRequest($"'{settings.Mode}' is not an announcer: use --announce none, local, vrrp or bgp.");
        }
    }

    public static AnnouncingDataPlane Wrap(IDataPlane dataPlane, IDrainingAddresses draining, IAddressAnnouncer announcer, TimeProvider time, ILoggerFactory loggers)
    {
        if (announcer is BgpAnnouncer bgp)
        {
            // BGP withdraws an address no listener on it can serve (no backend in rotation).
            bgp.UseHealth(dataPlane);
        }

        return new(dataPlane, draining, announcer, time, loggers.CreateLogger<AnnouncingDataPlane>());
    }

    /// <summary>Parses --vrrp-peer values: IP addresses, with a sentence naming a bad one.</summary>
    public static IReadOnlyList<IPAddress> ParsePeers(IEnumerable<string> values, string option)
    {
        var peers = new List<IPAddress>();
        foreach (var value in values)
        {
            if (!IPAddress.TryParse(value.Trim(), out var address))
            {
                throw MultiVipException.BadRequest($"'{value}' is not an IP address ({option}): give the other node's address on the shared segment, such as 192.0.2.2.");
            }

            peers.Add(address);
        }

        return peers;
    }
}
