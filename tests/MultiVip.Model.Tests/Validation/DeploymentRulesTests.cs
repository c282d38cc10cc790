using MultiVip.Model.Errors;
using MultiVip.Model.Services;
using MultiVip.Model.Validation;

namespace MultiVip.Model.Tests.Validation;

public class DeploymentRulesTests
{
    private static readonly ServiceLimits Limits = ServiceLimits.Default;

    private static void Valid(CloudService s, string? changedVm = null) => DeploymentRules.Validate(s, Limits, changedVm);

    private static MultiVipException Invalid(CloudService s, string? changedVm = null) =>
        Assert.Throws<MultiVipException>(() => DeploymentRules.Validate(s, Limits, changedVm));

    [Fact]
    public void A_service_without_a_deployment_is_valid() => Valid(new CloudService { Name = "empty" });

    [Fact]
    public void Endpoint_names_are_unique_per_vm_case_insensitively()
    {
        var s = Build.Service(Build.Vm("vm1", "10.0.0.4", Build.Endpoint("Web", 80), Build.Endpoint("WEB", 81)));
        var ex = Invalid(s);
        Assert.Equal(ErrorCode.ConflictError, ex.Code);
        Assert.Equal(
            "An endpoint named 'WEB' has already been defined for this VM. Specify a different endpoint name or use Set-Endpoint to change the configuration settings of the existing endpoint.",
            ex.Message);
    }

    [Fact]
    public void The_same_endpoint_name_on_two_vms_is_fine() => Valid(Build.Service(
        Build.Vm("vm1", "10.0.0.4", Build.Endpoint("web", 80, set: "lb")),
        Build.Vm("vm2", "10.0.0.5", Build.Endpoint("web", 80, set: "lb"))));

    [Fact]
    public void Local_ports_are_unique_per_vm_and_protocol()
    {
        var s = Build.Service(Build.Vm("vm1", "10.0.0.4", Build.Endpoint("a", 8080, 80), Build.Endpoint("b", 8080, 81)));
        var ex = Invalid(s);
        Assert.Equal(ErrorCode.ConflictError, ex.Code);
        Assert.Equal(
            "Local Port 8080 for endpoint b is already in use by one of the other endpoints in this role. Ensure that the local port numbers are unique across endpoints within a role.",
            ex.Message);
    }

    [Fact]
    public void The_same_local_port_with_another_protocol_is_fine() => Valid(Build.Service(Build.Vm("vm1", "10.0.0.4",
        Build.Endpoint("dns-tcp", 53), Build.Endpoint("dns-udp", 53, protocol: TransportProtocol.Udp))));

    [Fact]
    public void The_same_local_port_on_two_vms_is_fine() => Valid(Build.Service(
        Build.Vm("vm1", "10.0.0.4", Build.Endpoint("a", 8080, 80)),
        Build.Vm("vm2", "10.0.0.5", Build.Endpoint("a", 8080, 81))));

    [Fact]
    public void Public_ports_are_unique_per_vip_and_protocol_across_the_deployment()
    {
        var s = Build.Service(
            Build.Vm("vm1", "10.0.0.4", Build.Endpoint("web", 80)),
            Build.Vm("vm2", "10.0.0.5", Build.Endpoint("web2", 8080, 80)));
        var ex = Invalid(s);
        Assert.Equal(ErrorCode.ConflictError, ex.Code);
        Assert.Equal(Messages.PublicPortInUse(80, "tcp", "Vip1", "vm1", "web"), ex.Message);
    }

    [Fact]
    public void Public_port_clash_on_one_vm_is_rejected()
    {
        var ex = Invalid(Build.Service(Build.Vm("vm1", "10.0.0.4", Build.Endpoint("a", 8080, 80), Build.Endpoint("b", 8081, 80))));
        Assert.Equal(Messages.PublicPortInUse(80, "tcp", "Vip1", "vm1", "a"), ex.Message);
    }

    [Fact]
    public void Vip_names_compare_case_insensitively_for_public_ports()
    {
        var s = Build.Service(
            [Build.Vm("vm1", "10.0.0.4", Build.Endpoint("a", 80, vip: "Vip2")), Build.Vm("vm2", "10.0.0.5", Build.Endpoint("b", 80, vip: "VIP2"))],
            "Vip2");
        Assert.Equal(ErrorCode.ConflictError, Invalid(s).Code);
    }

    [Fact]
    public void The_same_public_port_with_another_protocol_is_fine() => Valid(Build.Service(
        Build.Vm("vm1", "10.0.0.4", Build.Endpoint("a", 53)),
        Build.Vm("vm2", "10.0.0.5", Build.Endpoint("b", 53, protocol: TransportProtocol.Udp))));

    [Fact]
    public void Members_of_one_load_balanced_set_share_the_public_port() => Valid(Build.Service(
        Build.Vm("vm1", "10.0.0.4", Build.Endpoint("web", 8080, 80, set: "lb") with { Probe = Build.TcpProbe(8080) }),
        Build.Vm("vm2", "10.0.0.5", Build.Endpoint("web", 8081, 80, set: "LB") with { Probe = Build.TcpProbe(8080) })));

    [Fact]
    public void Two_sets_on_one_public_port_clash()
    {
        var ex = Invalid(Build.Service(
            Build.Vm("vm1", "10.0.0.4", Build.Endpoint("web", 80, set: "lb1")),
            Build.Vm("vm2", "10.0.0.5", Build.Endpoint("web", 80, set: "lb2"))));
        Assert.Equal(Messages.PublicPortInUse(80, "tcp", "Vip1", "vm1", "web"), ex.Message);
    }

    [Fact]
    public void A_set_and_a_lone_endpoint_on_one_public_port_clash()
    {
        var ex = Invalid(Build.Service(
            Build.Vm("vm1", "10.0.0.4", Build.Endpoint("web", 80)),
            Build.Vm("vm2", "10.0.0.5", Build.Endpoint("web", 80, set: "lb"))));
        Assert.Equal(ErrorCode.ConflictError, ex.Code);
        Assert.StartsWith("Public port 80/tcp on virtual IP 'Vip1'", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>The seed's multi-tenant TLS scenario: every tenant has its own VIP on 443, forwarded to its own local port.</summary>
    [Fact]
    public void Several_vips_on_public_port_443_are_allowed()
    {
        string[] vips = ["Vip2", "Vip3", "Vip4", "Vip5"];
        InputEndpoint[] Tenants() =>
        [
            Build.Endpoint("tenant1", 8443, 443, set: "t1"),
            .. vips.Select((v, i) => Build.Endpoint($"tenant{i + 2}", 8444 + i, 443, vip: v, set: $"t{i + 2}")),
        ];
        Valid(Build.Service([Build.Vm("vm1", "10.0.0.4", Tenants()), Build.Vm("vm2", "10.0.0.5", Tenants())], vips));
    }

    [Fact]
    public void Unknown_vip_name_is_not_found()
    {
        var ex = Invalid(Build.Service(Build.Vm("vm1", "10.0.0.4", Build.Endpoint("web", 80, vip: "Vip9"))));
        Assert.Equal(ErrorCode.ResourceNotFound, ex.Code);
        Assert.Equal(Messages.VirtualIpNotFound("Vip9", "mysvc"), ex.Message);
    }

    private static CloudService TwoMembers(Func<InputEndpoint, InputEndpoint> changeSecond, params string[] extraVips)
    {
        var member = Build.Endpoint("web", 8080, 80, set: "lb") with { Probe = Build.TcpProbe(8080) };
        return Build.Service(
            [Build.Vm("vm1", "10.0.0.4", member), Build.Vm("vm2", "10.0.0.5", changeSecond(member))], extraVips);
    }

    [Fact]
    public void Identical_members_are_consistent() => Valid(TwoMembers(e => e with { LocalPort = 9090 }));

    public static TheoryData<string, Func<InputEndpoint, InputEndpoint>> Mismatches => new()
    {
        { "VirtualIPName", e => e with { VirtualIpName = "Vip2" } },
        { "Protocol", e => e with { Protocol = TransportProtocol.Udp } },
        { "PublicPort", e => e with { PublicPort = 81 } },
        { "the probe", e => e with { Probe = e.Probe! with { IntervalInSeconds = 5 } } },
        { "the probe", e => e with { Probe = new LoadBalancerProbe { Protocol = ProbeProtocol.Http, Port = 8080, Path = "/h" } } },
        { "LoadBalancerDistribution", e => e with { Distribution = LoadBalancerDistribution.SourceIP } },
        { "IdleTimeoutInMinutes", e => e with { IdleTimeoutInMinutes = 10 } },
        { "the PROXY protocol setting", e => e with { ProxyProtocol = ProxyProtocolVersion.V2 } },
        // Floating IP keeps the port (EndpointRules.DirectServerReturnPorts): the member's local port is its public port.
        { "EnableDirectServerReturn", e => e with { DirectServerReturn = true, LocalPort = e.PublicPort } },
        { "the ACL", e => e with { Acl = [new AclRule { Order = 1, RemoteSubnet = "10.0.0.0/8" }] } },
    };

    [Theory]
    [MemberData(nameof(Mismatches))]
    public void Load_balanced_set_members_must_agree(string field, Func<InputEndpoint, InputEndpoint> change)
    {
        var ex = Invalid(TwoMembers(change, "Vip2"));
        Assert.Equal(ErrorCode.ConflictError, ex.Code);
        Assert.StartsWith($"Endpoints of load-balanced set 'lb' must share {field}: the set uses ", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Mismatch_message_names_both_values()
    {
        var ex = Invalid(TwoMembers(e => e with { IdleTimeoutInMinutes = 10 }));
        Assert.Equal(Messages.LoadBalancedSetMismatch("lb", "IdleTimeoutInMinutes", "4", "10"), ex.Message);
        ex = Invalid(TwoMembers(e => e with { Probe = null }));
        Assert.Equal(Messages.LoadBalancedSetMismatch("lb", "the probe",
            "tcp probe on port 8080 every 15s, timeout 31s", "no probe"), ex.Message);
    }

    [Fact]
    public void Member_vip_names_compare_case_insensitively() => Valid(TwoMembers(e => e with { VirtualIpName = "VIP1" }));

    [Fact]
    public void Acls_in_another_order_are_the_same_acl()
    {
        AclRule a = new() { Order = 1, RemoteSubnet = "10.0.0.0/8" };
        AclRule b = new() { Order = 2, Action = AclAction.Deny, RemoteSubnet = "0.0.0.0/0" };
        var member = Build.Endpoint("web", 80, set: "lb");
        Valid(Build.Service(
            Build.Vm("vm1", "10.0.0.4", member with { Acl = [a, b] }),
            Build.Vm("vm2", "10.0.0.5", member with { Acl = [b, a] })));
        Assert.True(DeploymentRules.AclEquals([a, b], [b, a]));
        Assert.False(DeploymentRules.AclEquals([a, b], [a, b with { RemoteSubnet = "1.0.0.0/8" }]));
        Assert.False(DeploymentRules.AclEquals([a], [a, b]));
    }

    [Fact]
    public void A_vm_can_be_in_a_set_only_once()
    {
        var ex = Invalid(Build.Service(Build.Vm("vm1", "10.0.0.4",
            Build.Endpoint("a", 8080, 80, set: "lb"), Build.Endpoint("b", 8081, 80, set: "LB"))));
        Assert.Equal(ErrorCode.ConflictError, ex.Code);
        Assert.Equal(Messages.LoadBalancedSetTwiceOnVm("LB", "vm1"), ex.Message);
    }

    [Fact]
    public void Endpoint_rules_run_for_every_endpoint() => Assert.Equal(Messages.PortRange,
        Invalid(Build.Service(Build.Vm("vm1", "10.0.0.4", Build.Endpoint("a", 80, 0)))).Message);

    [Fact]
    public void Five_vips_are_allowed_and_a_sixth_fails()
    {
        Valid(Build.Service([], "Vip2", "Vip3", "Vip4", "Vip5"));
        var ex = Invalid(Build.Service([], "Vip2", "Vip3", "Vip4", "Vip5", "Vip6"));
        Assert.Equal(ErrorCode.ConflictError, ex.Code);
        Assert.Equal(
            "A deployment can have at most 5 virtual IPs. Remove an unused virtual IP or raise the limit (--max-vips-per-deployment).",
            ex.Message);
    }

    [Fact]
    public void Vip_limit_is_configurable()
    {
        var six = Build.Service([], "Vip2", "Vip3", "Vip4", "Vip5", "Vip6");
        DeploymentRules.Validate(six, Limits with { MaxVirtualIpsPerDeployment = 6 });
        var ex = Assert.Throws<MultiVipException>(() =>
            DeploymentRules.Validate(Build.Service([], "Vip2"), Limits with { MaxVirtualIpsPerDeployment = 1 }));
        Assert.Equal(Messages.TooManyVirtualIps(1), ex.Message);
    }

    [Fact]
    public void Duplicate_vip_names_are_rejected()
    {
        var ex = Invalid(Build.Service([], "vip2", "VIP2"));
        Assert.Equal(Messages.VirtualIpExists("VIP2", "mysvc"), ex.Message);
    }

    [Fact]
    public void Bad_vip_name_is_rejected() =>
        Assert.Equal(ErrorCode.BadRequest, Invalid(Build.Service([], "my vip")).Code);

    [Fact]
    public void Exactly_one_default_vip_is_an_invariant()
    {
        var s = Build.Service();
        var twoDefaults = s with
        {
            Deployment = s.Deployment! with { VirtualIps = [.. s.Deployment.VirtualIps, new VirtualIp { Name = "Vip2", IsDnsProgrammed = true }] },
        };
        Assert.Throws<InvalidOperationException>(() => Valid(twoDefaults));
    }

    private static VirtualMachine[] Vms(int count) =>
        Enumerable.Range(1, count).Select(i => Build.Vm($"vm{i}", $"10.0.{i / 256}.{i % 256}")).ToArray();

    [Fact]
    public void Vm_limit_is_50_by_default_and_configurable()
    {
        Valid(Build.Service(Vms(50)));
        var ex = Invalid(Build.Service(Vms(51)));
        Assert.Equal(Messages.TooManyVms(50), ex.Message);
        Assert.Equal(ErrorCode.ConflictError, ex.Code);
        DeploymentRules.Validate(Build.Service(Vms(51)), Limits with { MaxVmsPerService = 51 });
        Assert.Throws<MultiVipException>(() => DeploymentRules.Validate(Build.Service(Vms(3)), Limits with { MaxVmsPerService = 2 }));
    }

    [Fact]
    public void Vm_names_and_addresses_are_unique()
    {
        Assert.Equal(Messages.VmExists("VM1", "mysvc"),
            Invalid(Build.Service(Build.Vm("vm1", "10.0.0.4"), Build.Vm("VM1", "10.0.0.5"))).Message);
        Assert.Equal(Messages.VmAddressInUse("10.0.0.4", "vm1"),
            Invalid(Build.Service(Build.Vm("vm1", "10.0.0.4"), Build.Vm("vm2", "10.0.0.4"))).Message);
    }

    private static VirtualMachine VmWithEndpoints(string name, string address, int count, int firstPort) =>
        Build.Vm(name, address, Enumerable.Range(0, count).Select(i => Build.Endpoint($"e{i}", firstPort + i)).ToArray());

    [Fact]
    public void Endpoint_limit_is_150_per_service_by_default_and_configurable()
    {
        var at = Build.Service(VmWithEndpoints("vm1", "10.0.0.4", 100, 1000), VmWithEndpoints("vm2", "10.0.0.5", 50, 2000));
        Valid(at);
        var over = Build.Service(VmWithEndpoints("vm1", "10.0.0.4", 100, 1000), VmWithEndpoints("vm2", "10.0.0.5", 51, 2000));
        var ex = Invalid(over);
        Assert.Equal(ErrorCode.ConflictError, ex.Code);
        Assert.Equal(Messages.TooManyEndpoints(150), ex.Message);
        DeploymentRules.Validate(over, Limits with { MaxEndpointsPerService = 151 });
        Assert.Equal(Messages.TooManyEndpoints(3), Assert.Throws<MultiVipException>(() =>
            DeploymentRules.Validate(Build.Service(VmWithEndpoints("vm1", "10.0.0.4", 4, 1000)), Limits with { MaxEndpointsPerService = 3 })).Message);
    }

    [Fact]
    public void Public_port_message_points_at_the_changed_vm()
    {
        var s = Build.Service(
            Build.Vm("vm1", "10.0.0.4", Build.Endpoint("web", 80)),
            Build.Vm("vm2", "10.0.0.5", Build.Endpoint("api", 8080, 80)));
        // The endpoint the user just added (on the changed VM) is reported; the owner is the other one.
        Assert.Equal(Messages.PublicPortInUse(80, "tcp", "Vip1", "vm1", "web"), Invalid(s, "vm2").Message);
        Assert.Equal(Messages.PublicPortInUse(80, "tcp", "Vip1", "vm2", "api"), Invalid(s, "VM1").Message);
    }

    [Fact]
    public void Set_mismatch_message_points_at_the_changed_vm()
    {
        var member = Build.Endpoint("web", 80, set: "lb");
        var s = Build.Service(
            Build.Vm("vm1", "10.0.0.4", member with { IdleTimeoutInMinutes = 10 }),
            Build.Vm("vm2", "10.0.0.5", member));
        Assert.Equal(Messages.LoadBalancedSetMismatch("lb", "IdleTimeoutInMinutes", "4", "10"), Invalid(s, "vm1").Message);
        Assert.Equal(Messages.LoadBalancedSetMismatch("lb", "IdleTimeoutInMinutes", "10", "4"), Invalid(s, "vm2").Message);
    }

    [Fact]
    public void Describe_probe_mentions_the_path()
    {
        Assert.Equal("no probe", DeploymentRules.Describe(null));
        Assert.Equal("http probe on port 80 path /health every 5s, timeout 11s", DeploymentRules.Describe(
            new LoadBalancerProbe { Protocol = ProbeProtocol.Http, Port = 80, Path = "/health", IntervalInSeconds = 5, TimeoutInSeconds = 11 }));
    }
}
