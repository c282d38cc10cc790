using System.Collections.Immutable;
using MultiVip.Control.State;
using MultiVip.Model.Errors;
using MultiVip.Model.Networking;
using MultiVip.Model.ReservedIps;
using MultiVip.Model.Services;
using MultiVip.Model.Validation;

namespace MultiVip.Control.Commands;

/// <summary>
/// A change being built against one <see cref="WorldState"/>. Commands read through it (seeing their
/// own pending writes), stage new aggregates, and allocate addresses; nothing is visible to anyone
/// until <see cref="ControlPlane"/> has committed the result to the store.
/// </summary>
internal sealed class Mutation
{
    private readonly Dictionary<string, CloudService?> _services = new(Names.Comparer);
    private readonly Dictionary<string, ReservedIp?> _reserved = new(Names.Comparer);
    private readonly HashSet<IpNumber> _allocated = [];
    private readonly AddressPool _pool;

    public Mutation(WorldState world, AddressPool pool, ServiceLimits limits, DateTimeOffset now)
    {
        World = world;
        _pool = pool;
        Limits = limits;
        Now = now;
        Cursor = world.AllocationCursor;
        CursorV6 = world.AllocationCursorV6;
    }

    public WorldState World { get; }

    public ServiceLimits Limits { get; }

    public DateTimeOffset Now { get; }

    public uint? Cursor { get; private set; }

    public bool CursorMoved { get; private set; }

    public IpNumber? CursorV6 { get; private set; }

    public bool CursorV6Moved { get; private set; }

    /// <summary>The default VIP of a new deployment is IPv4, as in Azure — unless the pool has only IPv6 addresses.</summary>
    public VipAddressFamily DefaultVipFamily =>
        _pool.Has(System.Net.Sockets.AddressFamily.InterNetwork) ? VipAddressFamily.IPv4 : VipAddressFamily.IPv6;

    /// <summary>
    /// Every problem the change has found so far. A command records what it can and goes on, so
    /// the change is refused once, with all of them (see <see cref="Run"/>).
    /// </summary>
    public Violations Problems { get; } = new();

    /// <summary>Services this change touches, for attributing data-plane faults to the operation.</summary>
    public IEnumerable<string> TouchedServices => _services.Keys;

    public CloudService? FindService(string name) =>
        _services.TryGetValue(name, out var staged) ? staged : World.Services.GetValueOrDefault(name);

    public CloudService RequireService(string name) =>
        FindService(name) ?? throw MultiVipException.NotFound(Messages.ServiceNotFound(name));

    public Deployment RequireDeployment(CloudService service) =>
        service.Deployment ?? throw MultiVipException.NotFound(Messages.NoDeployment(service.Name));

    public ReservedIp? FindReservedIp(string name) =>
        _reserved.TryGetValue(name, out var staged) ? staged : World.ReservedIps.GetValueOrDefault(name);

    public ReservedIp RequireReservedIp(string name) =>
        FindReservedIp(name) ?? throw MultiVipException.NotFound(Messages.ReservedIpNotFound(name));

    public IEnumerable<ReservedIp> AllReservedIps() =>
        World.ReservedIps.Values.Where(r => !_reserved.ContainsKey(r.Name))
            .Concat(_reserved.Values.OfType<ReservedIp>());

    /// <summary>
    /// Runs <paramref name="command"/> against this change and refuses it with every problem found:
    /// those it recorded, and the one it stopped at (a resource that does not exist, say).
    /// </summary>
    public void Run(Action<Mutation> command)
    {
        try
        {
            command(this);
        }
        catch (MultiVipException stop) when (Problems.Any)
        {
            Problems.Add(stop);
        }

        Problems.ThrowIfAny();
    }

    /// <summary>
    /// Endpoints built from a request by <paramref name="read"/>. A request that cannot be read
    /// completely (a missing field, an unknown spelling) is refused here with what could not be
    /// read and every endpoint rule the rest breaks; the deployment-wide rules run only on
    /// endpoints read completely, since they would judge the placeholders.
    /// </summary>
    public List<InputEndpoint> ReadEndpoints(Func<Violations, IEnumerable<InputEndpoint>> read)
    {
        var unreadable = new Violations();
        var endpoints = read(unreadable).ToList();
        if (unreadable.Any)
        {
            foreach (var endpoint in endpoints)
            {
                EndpointRules.Check(endpoint, Limits, unreadable);
            }

            unreadable.ThrowIfAny();
        }

        return endpoints;
    }

    /// <summary>
    /// Checks every invariant of a service (<see cref="DeploymentRules"/>) into <see cref="Problems"/>
    /// and stages it only if the change has no problem, then settles its VIP addresses (allocating
    /// or releasing) — so a rule violation never costs an address.
    /// </summary>
    public void PutService(CloudService service, string? changedVm = null)
    {
        DeploymentRules.Check(service, Limits, Problems, changedVm);
        if (Problems.Any)
        {
            return;
        }

        _services[service.Name] = SettleAddresses(service);
    }

    public void DeleteService(string name) => _services[name] = null;

    public void PutReservedIp(ReservedIp reserved)
    {
        ReservedIpRules.Check(reserved, Problems);
        _reserved[reserved.Name] = reserved;
    }

    public void DeleteReservedIp(string name) => _reserved[name] = null;

    /// <summary>The next free pool address of the family; never one in use, reserved, or handed out earlier in this change.</summary>
    public string AllocateAddress(VipAddressFamily family = VipAddressFamily.IPv4)
    {
        if (!_pool.Has(family.ToSockets()))
        {
            throw MultiVipException.Conflict(Messages.NoPoolOfFamily(family, _pool.ToString()));
        }

        IpNumber? cursor = family == VipAddressFamily.IPv6 ? CursorV6 : Cursor is { } c ? c : null;
        var next = _pool.NextFree(family.ToSockets(), cursor, a => World.Addresses.ContainsKey(a) || _allocated.Contains(a) || IsReservedInThisChange(a))
            ?? throw MultiVipException.Conflict(Messages.PoolExhausted(_pool.ToString()));
        _allocated.Add(next);
        if (family == VipAddressFamily.IPv6)
        {
            CursorV6 = next;
            CursorV6Moved = true;
        }
        else
        {
            Cursor = (uint)next.Value;
            CursorMoved = true;
        }

        return next.ToString();
    }

    /// <summary>
    /// Applies the VIP address lifecycle: the default VIP always has an address; a reserved VIP has its
    /// reservation's address; an extra VIP has an address exactly while an endpoint names it.
    /// </summary>
    private CloudService SettleAddresses(CloudService service)
    {
        if (service.Deployment is not { } deployment)
        {
            return service;
        }

        var used = new HashSet<string>(deployment.AllEndpoints().Select(x => x.Endpoint.VirtualIpName), Names.Comparer);
        var changed = false;
        var vips = new List<VirtualIp>(deployment.VirtualIps.Count);
        foreach (var vip in deployment.VirtualIps)
        {
            var settled = vip;
            if (vip.ReservedIpName is { } reservedName)
            {
                var address = RequireReservedIp(reservedName).Address;
                if (vip.Address != address)
                {
                    settled = vip with { Address = address };
                }
            }
            else if (vip.IsDnsProgrammed || used.Contains(vip.Name))
            {
                if (vip.Address is null)
                {
                    settled = vip with { Address = AllocateAddress(vip.AddressFamily) };
                }
            }
            else if (vip.Address is not null)
            {
                settled = vip with { Address = null };
            }

            changed |= !ReferenceEquals(settled, vip);
            vips.Add(settled);
        }

        return changed ? service with { Deployment = deployment with { VirtualIps = vips } } : service;
    }

    private bool IsReservedInThisChange(IpNumber address) =>
        _reserved.Values.Any(r => r is not null && IpNumber.TryParse(r.Address, out var a) && a == address);

    /// <summary>Builds the store change and the next world state; versions are bumped here, once.</summary>
    public (StateChange Change, WorldState Next) Build(Model.Operations.Operation operation, long generation)
    {
        var upserts = new List<(CloudService, long)>();
        var deletes = new List<(string, long)>();
        var services = World.Services.ToBuilder();
        var addresses = World.Addresses.ToBuilder();
        foreach (var (name, staged) in _services)
        {
            var previous = World.Services.GetValueOrDefault(name);
            if (previous is not null)
            {
                foreach (var (address, _) in WorldState.AddressesOf(previous))
                {
                    addresses.Remove(address);
                }
            }

            if (staged is null)
            {
                if (previous is not null)
                {
                    deletes.Add((previous.Name, previous.Version));
                    services.Remove(name);
                }

                continue;
            }

            var versioned = staged with { Version = (previous?.Version ?? 0) + 1 };
            upserts.Add((versioned, previous?.Version ?? 0));
            services[name] = versioned;
        }

        var reservedUpserts = new List<(ReservedIp, long)>();
        var reservedDeletes = new List<(string, long)>();
        var reserved = World.ReservedIps.ToBuilder();
        foreach (var (name, staged) in _reserved)
        {
            var previous = World.ReservedIps.GetValueOrDefault(name);
            if (previous is not null)
            {
                foreach (var (address, _) in WorldState.AddressesOf(previous))
                {
                    addresses.Remove(address);
                }
            }

            if (staged is null)
            {
                if (previous is not null)
                {
                    reservedDeletes.Add((previous.Name, previous.Version));
                    reserved.Remove(name);
                }

                continue;
            }

            var versioned = staged with { Version = (previous?.Version ?? 0) + 1 };
            reservedUpserts.Add((versioned, previous?.Version ?? 0));
            reserved[name] = versioned;
        }

        // Add after all removals: an address may change owner within one change.
        foreach (var (service, _) in upserts)
        {
            foreach (var (address, owner) in WorldState.AddressesOf(service))
            {
                addresses[address] = owner;
            }
        }

        foreach (var (ip, _) in reservedUpserts)
        {
            foreach (var (address, owner) in WorldState.AddressesOf(ip))
            {
                addresses[address] = owner;
            }
        }

        var change = new StateChange
        {
            Operation = operation,
            UpsertServices = upserts,
            DeleteServices = deletes,
            UpsertReservedIps = reservedUpserts,
            DeleteReservedIps = reservedDeletes,
            AllocationCursor = CursorMoved ? Cursor : null,
            AllocationCursorV6 = CursorV6Moved ? CursorV6 : null,
            Generation = generation,
        };
        var next = World with
        {
            Services = services.ToImmutable(),
            ReservedIps = reserved.ToImmutable(),
            Addresses = addresses.ToImmutable(),
            AllocationCursor = Cursor,
            AllocationCursorV6 = CursorV6,
            Generation = generation,
        };

        // Usage is derived here, from the states before and after, so every change that gives or
        // takes an address is recorded with it, whichever command made it.
        change = change with { Usage = Usage.UsageTransitions.Between(World, next, _services.Keys, _reserved.Keys, operation.CreatedAt, operation.OperationId) };
        return (change, next);
    }
}
