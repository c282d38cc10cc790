using Microsoft.Extensions.Logging;
using MultiVip.DataPlane.Contract;

namespace MultiVip.Network.Announcing;

/// <summary>Picks the announcer from the server's options: <c>local</c> with --vip-interface, <c>none</c> without.</summary>
internal static class AddressAnnouncers
{
    public static async Task<IAddressAnnouncer> CreateAsync(string? vipInterface, TimeProvider time, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(vipInterface))
        {
            return new NoAddressAnnouncer(time);
        }

        return await LocalAddressAnnouncer.StartAsync(
            new LocalAnnouncerOptions { Interface = vipInterface.Trim() },
            time,
            loggers.CreateLogger<LocalAddressAnnouncer>(),
            cancellationToken);
    }

    public static AnnouncingDataPlane Wrap(IDataPlane dataPlane, IDrainingAddresses draining, IAddressAnnouncer announcer, TimeProvider time, ILoggerFactory loggers) =>
        new(dataPlane, draining, announcer, time, loggers.CreateLogger<AnnouncingDataPlane>());
}
