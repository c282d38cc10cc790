using MultiVip.Control.Commands;
using MultiVip.Control.State;
using MultiVip.Model.Errors;
using MultiVip.Model.Networking;
using MultiVip.Model.Operations;
using MultiVip.Model.ReservedIps;
using MultiVip.Model.Services;
using MultiVip.Model.Validation;

namespace MultiVip.Control.Tests.Commands;

/// <summary>
/// A change being built: reads see the change's own writes, addresses are never handed out twice,
/// a rule violation costs nothing, and <see cref="Mutation.Build"/> bumps each version once and
/// carries the version it replaces. Pure: no store, no control plane.
/// </summary>
public sealed class MutationTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Allocation_skips_addresses_in_use_reserved_in_this_change_or_handed_out_before_and_says_when_the_pool_is_full()
    {
        var pool = AddressPool.Parse(["127.73.1.1-127.73.1.5"]);
        var world = World([Service("a", Vip("Vip1", "127.73.1.1", dns: true))], [Reserved("r", "127.73.1.2")]);
        var m = new Mutation(world, pool, ServiceLimits.Default, Now);
        m.PutReservedIp(Reserved("new", "127.73.1.3"));

        Assert.Equal("127.73.1.4", m.AllocateAddress());
        Assert.Equal("127.73.1.5", m.AllocateAddress());
        var full = Assert.Throws<MultiVipException>(() => m.AllocateAddress());
        Assert.Equal(ErrorCode.ConflictError, full.Code);
        Assert.Equal(Messages.PoolExhausted(pool.ToString()), full.Message);
        Assert.True(m.CursorMoved);
        Assert.Equal("127.73.1.5", Ipv4.ToText(m.Cursor!.Value));

        // The world it started from is untouched.
        Assert.Equal(2, world.Addresses.Count);
        Assert.Null(world.AllocationCursor);
    }

    [Fact]
    public void A_service_that_breaks_a_rule_is_not_staged_and_costs_no_address()
    {
        var pool = AddressPool.Parse(["127.73.2.0/24"]);
        var world = World([Service("a")], []);
        var twoVips = Service("a", Vip("Vip1", null, dns: true), Vip("Vip2", null));

        var refused = new Mutation(world, pool, ServiceLimits.Default with { MaxVirtualIpsPerDeployment = 1 }, Now);
        // The rule's problem is recorded (the change is refused once, with all of them, by Mutation.Run).
        refused.PutService(twoVips);
        Assert.Equal([Messages.TooManyVirtualIps(1)], refused.Problems.Errors.Select(e => e.Message));
        var error = Assert.Throws<MultiVipException>(refused.Problems.ThrowIfAny);
        Assert.Equal(Messages.TooManyVirtualIps(1), error.Message);
        Assert.False(refused.CursorMoved);
        Assert.Null(refused.FindService("a")!.Deployment);
        var (change, _) = refused.Build(Operation(), 2);
        Assert.Empty(change.UpsertServices);
        Assert.Null(change.AllocationCursor);

        // Within the limit the same service is staged, and its default VIP gets the first address.
        var accepted = new Mutation(world, pool, ServiceLimits.Default, Now);
        accepted.PutService(twoVips);
        Assert.True(accepted.CursorMoved);
        var staged = accepted.FindService("a")!.Deployment!.VirtualIps;
        Assert.Equal("127.73.2.1", staged[0].Address);
        Assert.Null(staged[1].Address);
    }

    [Fact]
    public void Reads_see_the_change_own_writes_and_deletes_before_anything_is_committed()
    {
        var world = World([Service("a")], [Reserved("r1", "127.73.3.1"), Reserved("r2", "127.73.3.2")]);
        var m = new Mutation(world, AddressPool.Parse(["127.73.3.0/24"]), ServiceLimits.Default, Now);

        m.PutService(Service("b") with { Label = "staged" });
        m.DeleteService("A");
        m.DeleteReservedIp("r1");
        m.PutReservedIp(Reserved("r3", "127.73.3.3"));

        Assert.Equal("staged", m.FindService("B")!.Label);
        Assert.Null(m.FindService("a"));
        var missing = Assert.Throws<MultiVipException>(() => m.RequireService("a"));
        Assert.Equal(ErrorCode.ResourceNotFound, missing.Code);
        Assert.Equal(Messages.ServiceNotFound("a"), missing.Message);
        Assert.Equal(["r2", "r3"], m.AllReservedIps().Select(r => r.Name).Order());
        Assert.Equal(["A", "b"], m.TouchedServices.Order(StringComparer.OrdinalIgnoreCase));

        Assert.True(world.Services.ContainsKey("a"));
        Assert.False(world.Services.ContainsKey("b"));
    }

    [Fact]
    public void Build_bumps_each_version_once_and_carries_the_version_it_replaces()
    {
        var world = World([Service("a") with { Version = 3 }, Service("gone") with { Version = 7 }], [Reserved("r", "127.73.4.9") with { Version = 2 }]) with { Generation = 11 };
        var m = new Mutation(world, AddressPool.Parse(["127.73.4.0/24"]), ServiceLimits.Default, Now);
        m.PutService(world.Services["a"] with { Label = "changed" });
        m.PutService(world.Services["a"] with { Label = "changed twice" });
        m.DeleteService("gone");
        m.PutService(Service("new"));
        m.DeleteService("never-existed");
        m.PutReservedIp(world.ReservedIps["r"] with { Label = "relabelled" });

        var operation = Operation();
        var (change, next) = m.Build(operation, 12);

        Assert.Same(operation, change.Operation);
        Assert.Equal(12, change.Generation);
        Assert.Equal([("a", 4L, 3L), ("new", 1L, 0L)], change.UpsertServices.Select(u => (u.Service.Name, u.Service.Version, u.ExpectedVersion)));
        Assert.Equal("changed twice", change.UpsertServices[0].Service.Label);
        Assert.Equal([("gone", 7L)], change.DeleteServices);
        Assert.Equal([("r", 3L, 2L)], change.UpsertReservedIps.Select(u => (u.ReservedIp.Name, u.ReservedIp.Version, u.ExpectedVersion)));
        Assert.Empty(change.DeleteReservedIps);
        Assert.Null(change.AllocationCursor);

        Assert.Equal(12, next.Generation);
        Assert.Equal(["a", "new"], next.Services.Keys.Order());
        Assert.Equal(4, next.Services["a"].Version);
        Assert.Equal(3, next.ReservedIps["r"].Version);
        Assert.Equal(11, world.Generation);
        Assert.Equal(3, world.Services["a"].Version);
    }

    [Fact]
    public void An_address_moves_from_a_vip_to_its_reservation_within_one_change()
    {
        var world = World([Service("a", Vip("Vip1", "127.73.5.1", dns: true))], []);
        Assert.Equal("virtual IP Vip1 of a", world.Addresses[Address("127.73.5.1")]);
        var m = new Mutation(world, AddressPool.Parse(["127.73.5.0/24"]), ServiceLimits.Default, Now);

        m.PutReservedIp(Reserved("keep", "127.73.5.1") with { ServiceName = "a", DeploymentName = "a", VirtualIpName = "Vip1" });
        var service = world.Services["a"];
        m.PutService(service with { Deployment = service.Deployment! with { VirtualIps = [Vip("Vip1", "127.73.5.1", dns: true) with { ReservedIpName = "keep" }] } });
        var (change, next) = m.Build(Operation(), 2);

        Assert.Equal("reserved IP keep", next.Addresses[Address("127.73.5.1")]);
        Assert.Single(next.Addresses);
        Assert.Equal("keep", change.UpsertServices.Single().Service.Deployment!.VirtualIps[0].ReservedIpName);
        Assert.False(m.CursorMoved);
    }

    [Fact]
    public void An_extra_vip_has_an_address_exactly_while_an_endpoint_names_it()
    {
        var pool = AddressPool.Parse(["127.73.6.0/24"]);
        var vm = new VirtualMachine
        {
            Name = "vm",
            Address = "127.73.6.200",
            Endpoints = [new InputEndpoint { Name = "web", LocalPort = 8080, PublicPort = 80, VirtualIpName = "Vip2" }],
        };
        var world = World([Service("a", Vip("Vip1", "127.73.6.1", dns: true), Vip("Vip2", null))], []);

        var add = new Mutation(world, pool, ServiceLimits.Default, Now);
        var service = world.Services["a"];
        add.PutService(service with { Deployment = service.Deployment! with { VirtualMachines = [vm] } });
        var (_, withEndpoint) = add.Build(Operation(), 2);
        Assert.Equal("127.73.6.2", withEndpoint.Services["a"].Deployment!.FindVirtualIp("Vip2")!.Address);
        Assert.Equal("virtual IP Vip2 of a", withEndpoint.Addresses[Address("127.73.6.2")]);

        var remove = new Mutation(withEndpoint, pool, ServiceLimits.Default, Now);
        var current = withEndpoint.Services["a"];
        remove.PutService(current with { Deployment = current.Deployment! with { VirtualMachines = [vm with { Endpoints = [] }] } });
        var (_, without) = remove.Build(Operation(), 3);
        Assert.Null(without.Services["a"].Deployment!.FindVirtualIp("Vip2")!.Address);
        Assert.False(without.Addresses.ContainsKey(Address("127.73.6.2")));
        Assert.True(without.Addresses.ContainsKey(Address("127.73.6.1")));
    }

    private static WorldState World(IReadOnlyList<CloudService> services, IReadOnlyList<ReservedIp> reserved) =>
        WorldState.From(new StoredState(services, reserved, null, 1, []));

    private static CloudService Service(string name, params VirtualIp[] vips) => new()
    {
        Name = name,
        Version = 1,
        CreatedAt = Now,
        Deployment = vips.Length == 0 ? null : new Deployment { Name = name, VirtualIps = vips, VirtualMachines = [] },
    };

    private static VirtualIp Vip(string name, string? address, bool dns = false) => new() { Name = name, Address = address, IsDnsProgrammed = dns };

    private static ReservedIp Reserved(string name, string address) => new() { Name = name, Address = address, Id = Guid.NewGuid(), Version = 1 };

    private static uint Address(string text) => Ipv4.TryParseStrict(text, out var address) ? address : throw new FormatException(text);

    private static Operation Operation() => new()
    {
        OperationId = Guid.NewGuid(),
        OperationDescription = "Test",
        OperationStatus = OperationStatus.InProgress,
        CreatedAt = Now,
    };
}
