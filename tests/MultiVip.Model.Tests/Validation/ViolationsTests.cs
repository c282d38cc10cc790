using MultiVip.Model.Errors;
using MultiVip.Model.Services;
using MultiVip.Model.Validation;

namespace MultiVip.Model.Tests.Validation;

public class ViolationsTests
{
    [Fact]
    public void Every_broken_rule_of_a_service_is_reported_in_one_refusal()
    {
        var service = Build.Service(
            Build.Vm("vm1", "10.0.0.4", Build.Endpoint("web", 80), Build.Endpoint("web2", 8080, 80) with { IdleTimeoutInMinutes = 99 }),
            Build.Vm("VM1", "10.0.0.5", Build.Endpoint("ssh", 22, 0)));

        var ex = Assert.Throws<MultiVipException>(() => DeploymentRules.Validate(service, ServiceLimits.Default));

        string[] expected =
        [
            Messages.VmExists("VM1", "mysvc"),
            Messages.IdleTimeout(99),
            Messages.PortRange,
            Messages.PublicPortInUse(80, "tcp", "Vip1", "vm1", "web"),
        ];
        Assert.Equal(expected, ex.Errors.Select(e => e.Message));
        Assert.Equal([ErrorCode.ConflictError, ErrorCode.BadRequest, ErrorCode.BadRequest, ErrorCode.ConflictError], ex.Errors.Select(e => e.Code));
        Assert.Equal(ErrorCode.ConflictError, ex.Code);
        Assert.Equal(Messages.All(expected), ex.Message);
        Assert.StartsWith("The change has 4 problems: (1) A VM named 'VM1' already exists", ex.Message, StringComparison.Ordinal);
        Assert.Contains("(3) Ports must be in the range of 1 - 65535. (4) Public port 80/tcp", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void One_problem_is_its_own_message()
    {
        var ex = Assert.Throws<MultiVipException>(() => EndpointRules.Validate(Build.Endpoint("e", 80) with { IdleTimeoutInMinutes = 3 }, ServiceLimits.Default));

        Assert.Equal(Messages.IdleTimeout(3), ex.Message);
        Assert.Equal([new ErrorDetail(ErrorCode.BadRequest, Messages.IdleTimeout(3))], ex.Errors);
    }

    [Fact]
    public void The_same_problem_found_twice_is_reported_once()
    {
        // Local port 0 with the public port defaulted to it: one port problem, not two.
        var ex = Assert.Throws<MultiVipException>(() => EndpointRules.Validate(Build.Endpoint("e", 0), ServiceLimits.Default));

        Assert.Equal(Messages.PortRange, Assert.Single(ex.Errors).Message);
    }

    [Fact]
    public void Each_value_gets_at_most_one_problem()
    {
        // A 300-character description breaks two limits (ACL's and free text's); the user needs one sentence.
        var rule = new AclRule { Order = 1, RemoteSubnet = "10.0.0.0/8", Description = new string('\n', 300) };
        var ex = Assert.Throws<MultiVipException>(() => EndpointRules.Acl([rule], ServiceLimits.Default));

        Assert.Equal(Messages.AclDescription(EndpointRules.MaxAclDescription), Assert.Single(ex.Errors).Message);
    }

    [Fact]
    public void Read_records_a_parse_error_and_goes_on()
    {
        var violations = new Violations();

        Assert.Null(violations.Read(() => EnumParsing.ParseProtocol("tpc")));
        Assert.Equal(TransportProtocol.Udp, violations.Read(() => EnumParsing.ParseProtocol("udp")));
        Assert.Null(violations.Read(() => EnumParsing.ParseDistribution("random")));

        Assert.Equal([Messages.Protocol("tpc"), Messages.Distribution("random")], violations.Errors.Select(e => e.Message));
        var ex = Assert.Throws<MultiVipException>(violations.ThrowIfAny);
        Assert.Equal(2, ex.Errors.Count);
    }

    [Fact]
    public void Nothing_found_throws_nothing() => new Violations().ThrowIfAny();

    [Fact]
    public void All_numbers_each_message_and_ends_it_with_a_period() => Assert.Equal(
        "The change has 2 problems: (1) Ports must be in the range of 1 - 65535. (2) Two ACL rules have order 1. Give every rule of an endpoint a distinct order.",
        Messages.All([Messages.PortRange, Messages.AclOrderDuplicate(1)]));
}
