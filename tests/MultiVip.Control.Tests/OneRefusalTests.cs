using MultiVip.Contracts;
using MultiVip.Control.Commands;
using MultiVip.Model.Errors;

namespace MultiVip.Control.Tests;

/// <summary>
/// A change is checked once, by the Model's rules, and refused once with every problem it has —
/// including the lookup it stopped at — and a refused change stores nothing.
/// </summary>
public sealed class OneRefusalTests
{
    private static readonly CallContext Caller = new("refusal-test");

    /// <summary>VIP addresses from this suite's own range (127.72.0.0/16), one /24 per test.</summary>
    private static int s_pool = 10;

    private static string Pool() => $"127.72.{Interlocked.Increment(ref s_pool) % 200 + 10}.0/24";

    private static async Task<ControlNode> WithVmAsync(TempDataDir dir)
    {
        var node = await ControlNode.StartAsync(dir.Path, Pool());
        await node.Control.CreateServiceAsync(new CreateServiceRequest { Name = "svc" }, Caller, default);
        await node.Control.AddVmAsync("svc", new AddVmRequest { Name = "vm1", Address = "127.0.0.11" }, Caller, default);
        return node;
    }

    [Fact]
    public async Task An_endpoint_breaking_several_rules_is_refused_once_with_all_of_them()
    {
        using var dir = new TempDataDir();
        await using var node = await WithVmAsync(dir);
        var before = node.Control.Current;

        var ex = await Assert.ThrowsAsync<MultiVipException>(() => node.Control.AddEndpointAsync("svc", "vm1", new EndpointRequest
        {
            Name = "web",
            Protocol = "tcp",
            LocalPort = 0,
            LoadBalancedSetName = "lb",
            Probe = new ProbeRequest { Protocol = "http", IntervalInSeconds = 1 },
            IdleTimeoutInMinutes = 99,
            Acl = [new AclRuleRequest { Order = 1, Action = "permit", RemoteSubnet = "10.0.0.0/33" }],
        }, Caller, default));

        Assert.Equal(ErrorCode.BadRequest, ex.Code);
        Assert.Equal(
            [Messages.PortRange, Messages.ProbePathRequiredForHttp, Messages.ProbeInterval(1), Messages.IdleTimeout(99), Messages.InvalidCidr("10.0.0.0/33")],
            ex.Errors.Select(e => e.Message));
        Assert.Same(before, node.Control.Current);
        Assert.Equal(before.Generation, (await node.Store.LoadAsync(default)).Generation);
    }

    [Fact]
    public async Task Problems_of_the_request_come_with_the_lookup_it_stopped_at()
    {
        using var dir = new TempDataDir();
        await using var node = await WithVmAsync(dir);

        var ex = await Assert.ThrowsAsync<MultiVipException>(() =>
            node.Control.AddVmAsync("nope", new AddVmRequest { Name = "my vm", Address = "300.1.1.1" }, Caller, default));

        // The request's own problems first, as when they were checked before the lookup: a 400, not a 404.
        Assert.Equal(ErrorCode.BadRequest, ex.Code);
        Assert.Equal(
            [ErrorCode.BadRequest, ErrorCode.BadRequest, ErrorCode.ResourceNotFound],
            ex.Errors.Select(e => e.Code));
        Assert.Equal(Messages.InvalidAddress("300.1.1.1"), ex.Errors[1].Message);
        Assert.Equal(Messages.ServiceNotFound("nope"), ex.Errors[2].Message);
    }

    [Fact]
    public async Task An_unreadable_request_is_refused_with_what_its_readable_part_breaks_too()
    {
        using var dir = new TempDataDir();
        await using var node = await WithVmAsync(dir);

        var ex = await Assert.ThrowsAsync<MultiVipException>(() => node.Control.AddEndpointAsync("svc", "vm1", new EndpointRequest
        {
            Name = "web",
            Protocol = "tpc",
            LocalPort = 8080,
            PublicPort = 70000,
            IdleTimeoutInMinutes = 2,
        }, Caller, default));

        Assert.Equal([Messages.Protocol("tpc"), Messages.PortRange, Messages.IdleTimeout(2)], ex.Errors.Select(e => e.Message));
    }

    [Fact]
    public async Task Every_member_of_a_set_is_checked_and_a_problem_shared_by_them_is_named_once()
    {
        using var dir = new TempDataDir();
        await using var node = await WithVmAsync(dir);
        await node.Control.AddVmAsync("svc", new AddVmRequest { Name = "vm2", Address = "127.0.0.12" }, Caller, default);
        foreach (var vm in new[] { "vm1", "vm2" })
        {
            await node.Control.AddEndpointAsync("svc", vm, new EndpointRequest { Name = "web", Protocol = "tcp", LocalPort = 8080, PublicPort = 18080, LoadBalancedSetName = "lb" }, Caller, default);
        }

        var ex = await Assert.ThrowsAsync<MultiVipException>(() => node.Control.SetLoadBalancedSetAsync("svc", "lb",
            new SetLoadBalancedSetRequest { Distribution = "random", IdleTimeoutInMinutes = 31, PublicPort = 0 }, Caller, default));

        Assert.Equal([Messages.Distribution("random"), Messages.PortRange, Messages.IdleTimeout(31)], ex.Errors.Select(e => e.Message));
        Assert.All(node.Control.Current.Services["svc"].Deployment!.VirtualMachines, vm => Assert.Equal(18080, vm.Endpoints.Single().PublicPort));
    }
}
