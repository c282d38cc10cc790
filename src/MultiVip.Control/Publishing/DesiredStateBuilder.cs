using System.Net;
using MultiVip.Control.State;
using MultiVip.DataPlane.Contract;
using MultiVip.Model.Services;

namespace MultiVip.Control.Publishing;

/// <summary>
/// Projects the world onto listeners: one per (VIP address, protocol, public port). Specs are cached
/// per service version, so a change rebuilds only the services it touched.
/// </summary>
internal sealed class DesiredStateBuilder
{
    private Dictionary<string, (long Version, IReadOnlyList<ListenerSpec> Specs, IReadOnlyList<HeldAddress> Addresses)> _cache = new(Names.Comparer);

    public DesiredState Build(WorldState world)
    {
        var next = new Dictionary<string, (long, IReadOnlyList<ListenerSpec>, IReadOnlyList<HeldAddress>)>(world.Services.Count, Names.Comparer);
        var listeners = new List<ListenerSpec>();
        var addresses = new List<HeldAddress>();
        foreach (var service in world.Services.Values)
        {
            if (!_cache.TryGetValue(service.Name, out var cached) || cached.Version != service.Version)
            {
                cached = (service.Version, ForService(service), AddressesOf(service));
            }

            next[service.Name] = cached;
            listeners.AddRange(cached.Specs);
            addresses.AddRange(cached.Addresses);
        }

        _cache = next;
        return new DesiredState(world.Generation, listeners) { Addresses = addresses };
    }

    /// <summary>
    /// The addresses a service's VIPs hold. The control plane already applies the seed's lifecycle to
    /// <see cref="VirtualIp.Address"/> (default VIP always, extra VIP while an endpoint names it,
    /// reserved IP while associated), so a VIP holds its address exactly when it has one. A reserved
    /// IP that backs no VIP has no VIP here, and is not held: nothing would answer on it.
    /// </summary>
    public static IReadOnlyList<HeldAddress> AddressesOf(CloudService service)
    {
        if (service.Deployment is not { } deployment)
        {
            return [];
        }

        var held = new List<HeldAddress>(deployment.VirtualIps.Count);
        foreach (var vip in deployment.VirtualIps)
        {
            if (vip.Address is { } address && IPAddress.TryParse(address, out var parsed))
            {
                held.Add(new HeldAddress(parsed, service.Name, vip.Name) { ReservedIpName = vip.ReservedIpName });
            }
        }

        return held;
    }

    public static IReadOnlyList<ListenerSpec> ForService(CloudService service)
    {
        if (service.Deployment is not { } deployment)
        {
            return [];
        }

        var groups = new Dictionary<ListenerKey, List<(VirtualMachine Vm, InputEndpoint Endpoint)>>();
        foreach (var (vm, endpoint) in deployment.AllEndpoints())
        {
            var vip = deployment.FindVirtualIp(endpoint.VirtualIpName);
            if (vip?.Address is not { } address)
            {
                continue;
            }

            var key = new ListenerKey(IPAddress.Parse(address), endpoint.Protocol, endpoint.PublicPort);
            if (!groups.TryGetValue(key, out var members))
            {
                groups[key] = members = [];
            }

            members.Add((vm, endpoint));
        }

        var specs = new List<ListenerSpec>(groups.Count);
        foreach (var (key, members) in groups)
        {
            var first = members[0].Endpoint;
            // A disabled VM's backends leave the listener (what they still carry drains for
            // --drain-timeout, as a removed endpoint's); a draining VM's stay, out of rotation,
            // so its connections go on. The listener stays even with no backend left: clients get
            // a reset, as when every member is unhealthy, and the VIP keeps its port.
            var backends = members
                .Where(m => m.Vm.State != VmState.Disabled)
                .OrderBy(m => m.Vm.Name, StringComparer.OrdinalIgnoreCase)
                .Select(m =>
                {
                    var vmAddress = IPAddress.Parse(m.Vm.Address);
                    return new BackendSpec(m.Vm.Name, m.Endpoint.Name, new IPEndPoint(vmAddress, m.Endpoint.LocalPort))
                    {
                        ProbeTarget = m.Endpoint.Probe is { } probe ? new IPEndPoint(vmAddress, probe.Port) : null,
                        Draining = m.Vm.State == VmState.Draining,
                    };
                })
                .ToList();
            specs.Add(new ListenerSpec
            {
                Key = key,
                ServiceName = service.Name,
                VirtualIpName = first.VirtualIpName,
                LoadBalancedSetName = first.LoadBalancedSetName,
                Backends = backends,
                Probe = first.Probe,
                Distribution = first.Distribution,
                Acl = first.Acl,
                IdleTimeout = TimeSpan.FromMinutes(first.IdleTimeoutInMinutes),
                ProxyProtocol = first.ProxyProtocol,
                DirectServerReturn = first.DirectServerReturn,
            });
        }

        return specs;
    }
}
