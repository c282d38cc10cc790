using System.Net;
using MultiVip.Contracts;
using MultiVip.DataPlane.Contract;
using MultiVip.Model.Services;

namespace MultiVip.Server.Api;

/// <summary>What the announcer says about each VIP of a service, for the API, the CLI and the dashboard.</summary>
internal static class NetworkViews
{
    public static IReadOnlyList<VipNetworkView> For(CloudService service, IAddressAnnouncer announcer) =>
        service.Deployment is not { } deployment ? [] : [.. deployment.VirtualIps.Select(vip => For(vip, announcer))];

    public static VipNetworkView For(VirtualIp vip, IAddressAnnouncer announcer)
    {
        var address = vip.Address is { } text && IPAddress.TryParse(text, out var parsed) ? parsed : null;
        var status = address is null ? null : announcer.GetStatus(address);
        return new VipNetworkView
        {
            VirtualIpName = vip.Name,
            Address = vip.Address,
            AddressFamily = Family(vip),
            Announcer = announcer.Name,
            Held = status?.Held ?? false,
            HeldSince = status?.HeldSince,
            LastError = status?.LastError,
            LastErrorAt = status?.LastErrorAt,
            Node = (announcer as INodeFailover)?.Node,
            State = status?.State,
            StateSince = status?.StateSince,
            OwnershipChanges = status?.StateChanges ?? 0,
        };
    }

    public static NetworkOwnershipView Ownership(IAddressAnnouncer announcer) => new()
    {
        Announcer = announcer.Name,
        Node = (announcer as INodeFailover)?.Node,
        Changes = announcer is INodeFailover failover
            ? [.. failover.History().Select(c => new OwnershipChangeView { At = c.At, Address = c.Address.ToString(), Node = c.Node, Announcer = c.Announcer, From = c.From, To = c.To, Reason = c.Reason })]
            : [],
    };

    public static string Family(VirtualIp vip) => vip.AddressFamily.ToString();
}
