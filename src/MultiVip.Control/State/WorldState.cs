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
        Addresses = ImmutableDictionary<IpNumber, string>.Empty,
    };

    public required ImmutableDictionary<string, CloudService> Services { get; init; }

    public required ImmutableDictionary<string, ReservedIp> ReservedIps { get; init; }

    /// <summary>Every address in use (by a dynamic VIP or a reservation) and who holds it.</summary>
    public required ImmutableDictionary<IpNumber, string> Addresses { get; init; }

    /// <summary>The last IPv4 address handed out (allocation walks on from it).</summary>
    public uint? AllocationCursor { get; init; }

    /// <summary>The last IPv6 address handed out.</summary>
    public IpNumber? AllocationCursorV6 { get; init; }

    /// <summary>Bumped by every committed change; the data plane reports which generation it applied.</summary>
    public long Generation { get; init; }

    public static WorldState From(StoredState stored)
    {
        var world = Empty with { AllocationCursor = stored.AllocationCursor, AllocationCursorV6 = stored.AllocationCursorV6, Generation = stored.Generation };
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

    /// <summary>
    /// This state with what other writers committed after it (<see cref="IStateStore.LoadChangesSinceAsync"/>):
    /// every address the changed aggregates held is released before what they hold now is added, as
    /// an address may have moved between owners; an address can only have moved to an aggregate that
    /// changed too, so nothing else needs looking at.
    /// </summary>
    public WorldState Apply(StoredChanges changes)
    {
        var services = Services.ToBuilder();
        var reserved = ReservedIps.ToBuilder();
        var addresses = Addresses.ToBuilder();
        foreach (var name in changes.DeletedServices.Concat(changes.UpsertedServices.Select(s => s.Name)))
        {
            if (services.TryGetValue(name, out var old))
            {
                foreach (var (address, _) in AddressesOf(old))
                {
                    addresses.Remove(address);
                }

                services.Remove(name);
            }
        }

        foreach (var name in changes.DeletedReservedIps.Concat(changes.UpsertedReservedIps.Select(r => r.Name)))
        {
            if (reserved.TryGetValue(name, out var old))
            {
                foreach (var (address, _) in AddressesOf(old))
                {
                    addresses.Remove(address);
                }

                reserved.Remove(name);
            }
        }

        foreach (var service in changes.UpsertedServices)
        {
            services[service.Name] = service;
            foreach (var (address, owner) in AddressesOf(service))
            {
                addresses[address] = owner;
            }
        }

        foreach (var ip in changes.UpsertedReservedIps)
        {
            reserved[ip.Name] = ip;
            foreach (var (address, owner) in AddressesOf(ip))
            {
                addresses[address] = owner;
            }
        }

        return this with
        {
            Services = services.ToImmutable(),
            ReservedIps = reserved.ToImmutable(),
            Addresses = addresses.ToImmutable(),
            AllocationCursor = changes.AllocationCursor ?? AllocationCursor,
            AllocationCursorV6 = changes.AllocationCursorV6 ?? AllocationCursorV6,
            Generation = Math.Max(Generation, changes.Generation),
        };
    }

    /// <summary>Dynamic VIP addresses of a service; a reserved VIP's address belongs to its reservation.</summary>
    public static IEnumerable<(IpNumber Address, string Owner)> AddressesOf(CloudService service)
    {
        foreach (var vip in service.Deployment?.VirtualIps ?? [])
        {
            if (vip.Address is { } text && vip.ReservedIpName is null && IpNumber.TryParse(text, out var address))
            {
                yield return (address, $"virtual IP {vip.Name} of {service.Name}");
            }
        }
    }

    public static IEnumerable<(IpNumber Address, string Owner)> AddressesOf(ReservedIp reserved)
    {
        if (IpNumber.TryParse(reserved.Address, out var address))
        {
            yield return (address, $"reserved IP {reserved.Name}");
        }
    }
}
