using System.Collections.Immutable;
using MultiVip.Model.Networking;
using MultiVip.Model.ReservedIps;
using MultiVip.Model.Services;

namespace MultiVip.Control.State;

/// <summary>
/// The whole desired state in memory, immutable. Readers take the current reference without locks;
/// the single writer builds the next one and swaps it in after the store committed it.
/// </summary>
public sealed record WorldState
{
    public static readonly WorldState Empty = new()
    {
        Services = ImmutableDictionary.Create<string, CloudService>(Names.Comparer),
        ReservedIps = ImmutableDictionary.Create<string, ReservedIp>(Names.Comparer),
        Addresses = ImmutableDictionary<uint, string>.Empty,
    };

    public required ImmutableDictionary<string, CloudService> Services { get; init; }

    public required ImmutableDictionary<string, ReservedIp> ReservedIps { get; init; }

    /// <summary>Every address in use (by a dynamic VIP or a reservation) and who holds it.</summary>
    public required ImmutableDictionary<uint, string> Addresses { get; init; }

    public uint? AllocationCursor { get; init; }

    /// <summary>Bumped by every committed change; the data plane reports which generation it applied.</summary>
    public long Generation { get; init; }

    public static WorldState From(StoredState stored)
    {
        var world = Empty with { AllocationCursor = stored.AllocationCursor, Generation = stored.Generation };
        var services = world.Services.ToBuilder();
        var reserved = world.ReservedIps.ToBuilder();
        var addresses = world.Addresses.ToBuilder();
        foreach (var service in stored.Services)
        {
            services[service.Name] = service;
            foreach (var (address, owner) in AddressesOf(service))
            {
                addresses[address] = owner;
            }
        }

        foreach (var ip in stored.ReservedIps)
        {
            reserved[ip.Name] = ip;
            foreach (var (address, owner) in AddressesOf(ip))
            {
                addresses[address] = owner;
            }
        }

        return world with { Services = services.ToImmutable(), ReservedIps = reserved.ToImmutable(), Addresses = addresses.ToImmutable() };
    }

    /// <summary>Dynamic VIP addresses of a service; a reserved VIP's address belongs to its reservation.</summary>
    public static IEnumerable<(uint Address, string Owner)> AddressesOf(CloudService service)
    {
        foreach (var vip in service.Deployment?.VirtualIps ?? [])
        {
            if (vip.Address is { } text && vip.ReservedIpName is null && Ipv4.TryParseStrict(text, out var address))
            {
                yield return (address, $"virtual IP {vip.Name} of {service.Name}");
            }
        }
    }

    public static IEnumerable<(uint Address, string Owner)> AddressesOf(ReservedIp reserved)
    {
        if (Ipv4.TryParseStrict(reserved.Address, out var address))
        {
            yield return (address, $"reserved IP {reserved.Name}");
        }
    }
}
