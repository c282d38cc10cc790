using MultiVip.Control.State;
using MultiVip.Control.Usage;
using MultiVip.Model.ReservedIps;
using MultiVip.Model.Services;

namespace MultiVip.Control.Tests.Usage;

/// <summary>What a change begins and ends, read off the states before and after it.</summary>
public sealed class UsageTransitionsTests
{
    private static readonly DateTimeOffset At = new(2030, 1, 15, 10, 0, 0, TimeSpan.Zero);
    private static readonly Guid Op = Guid.NewGuid();

    private static CloudService Service(params VirtualIp[] extra) => new()
    {
        Name = "myService",
        Deployment = new Deployment
        {
            Name = "myService",
            VirtualIps = [new VirtualIp { Name = "Vip1", Address = "127.71.0.1", IsDnsProgrammed = true }, .. extra],
            VirtualMachines = [],
        },
    };

    private static WorldState World(CloudService? service = null, params ReservedIp[] reserved) => WorldState.Empty with
    {
        Services = service is null ? WorldState.Empty.Services : WorldState.Empty.Services.Add(service.Name, service),
        ReservedIps = reserved.Aggregate(WorldState.Empty.ReservedIps, (d, r) => d.Add(r.Name, r)),
    };

    private static IReadOnlyList<UsageTransition> Between(WorldState before, WorldState after) =>
        UsageTransitions.Between(before, after, ["myService"], ["r1"], At, Op);

    private static string Text(UsageTransition t) =>
        $"{(t.Starts ? "start" : "end")} {t.Holding.Meter} {t.Holding.Name} {t.Holding.Address} {t.Holding.ServiceName}/{t.Holding.VirtualIpName}";

    [Fact]
    public void An_extra_vip_starts_when_it_gets_an_address_and_ends_when_it_loses_it()
    {
        var none = World(Service(new VirtualIp { Name = "Vip2" }));
        var held = World(Service(new VirtualIp { Name = "Vip2", Address = "127.71.0.2" }));

        Assert.Equal(["start VirtualIp Vip2 127.71.0.2 myService/"], Between(none, held).Select(Text));
        Assert.Equal(["end VirtualIp Vip2 127.71.0.2 myService/"], Between(held, none).Select(Text));
        Assert.Empty(Between(held, held));
        Assert.All(Between(none, held), t => Assert.Equal((At, (Guid?)Op), (t.At, t.OperationId)));
    }

    [Fact]
    public void The_default_vip_is_never_billed_and_a_new_service_starts_only_its_extra_vips()
    {
        var created = World(Service(new VirtualIp { Name = "Vip2", Address = "127.71.0.2" }, new VirtualIp { Name = "Vip3" }));

        Assert.Equal(["start VirtualIp Vip2 127.71.0.2 myService/"], Between(World(), created).Select(Text));
        Assert.Equal(["end VirtualIp Vip2 127.71.0.2 myService/"], Between(created, World()).Select(Text));
    }

    [Fact]
    public void A_new_address_ends_the_old_holding_and_starts_a_new_one_at_the_same_instant()
    {
        var before = World(Service(new VirtualIp { Name = "Vip2", Address = "127.71.0.2" }));
        var after = World(Service(new VirtualIp { Name = "Vip2", Address = "127.71.0.7", ReservedIpName = "r1" }));

        Assert.Equal(["end VirtualIp Vip2 127.71.0.2 myService/", "start VirtualIp Vip2 127.71.0.7 myService/"], Between(before, after).Select(Text));
    }

    [Fact]
    public void A_reserved_ip_starts_when_created_restarts_when_its_association_changes_and_ends_when_removed()
    {
        var reserved = new ReservedIp { Name = "r1", Address = "127.71.0.9" };
        var associated = reserved with { ServiceName = "myService", VirtualIpName = "Vip3" };

        Assert.Equal(["start ReservedIp r1 127.71.0.9 /"], Between(World(), World(null, reserved)).Select(Text));
        Assert.Equal(
            ["end ReservedIp r1 127.71.0.9 /", "start ReservedIp r1 127.71.0.9 myService/Vip3"],
            Between(World(null, reserved), World(null, associated)).Select(Text));
        Assert.Equal(["end ReservedIp r1 127.71.0.9 /"], Between(World(null, reserved), World()).Select(Text));
        Assert.Empty(Between(World(null, reserved with { Version = 7, Label = "relabelled" }), World(null, reserved)));
    }

    [Fact]
    public void Holdings_of_a_state_are_its_extra_vips_with_addresses_and_its_reserved_ips()
    {
        var world = World(
            Service(new VirtualIp { Name = "Vip2", Address = "127.71.0.2" }, new VirtualIp { Name = "Vip3" }),
            new ReservedIp { Name = "r1", Address = "127.71.0.9" });

        Assert.Equal(
            [new UsageHolding(UsageMeter.VirtualIp, "myService", "Vip2", "127.71.0.2"), new UsageHolding(UsageMeter.ReservedIp, null, "r1", "127.71.0.9")],
            UsageTransitions.Holdings(world));
    }
}
