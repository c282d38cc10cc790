using MultiVip.Model.Errors;
using MultiVip.Model.Services;
using MultiVip.Model.Validation;

namespace MultiVip.Model.Tests.Validation;

/// <summary>Floating IP endpoints on different VIPs may share a local port (the AlwaysOn multi-listener layout); others may not.</summary>
public sealed class DsrLocalPortTests
{
    private static InputEndpoint Sql(string name, string vip, bool dsr) => new()
    {
        Name = name, Protocol = TransportProtocol.Tcp, LocalPort = 1433, PublicPort = 1433, VirtualIpName = vip, DirectServerReturn = dsr,
    };

    [Fact]
    public void Dsr_endpoints_on_different_vips_share_a_local_port()
    {
        var violations = new Violations();
        EndpointRules.UniqueOnVm([Sql("ag1", "ag1", dsr: true), Sql("ag2", "ag2", dsr: true)], violations);
        Assert.False(violations.Any);
    }

    [Theory]
    [InlineData(false, "ag2")]
    [InlineData(true, "ag1")]
    public void Other_endpoints_still_need_their_own_local_port(bool dsr, string secondVip)
    {
        var violations = new Violations();
        EndpointRules.UniqueOnVm([Sql("ag1", "ag1", dsr), Sql("ag2", secondVip, dsr)], violations);
        Assert.True(violations.Any);
    }

    [Fact]
    public void Floating_ip_needs_the_local_port_to_equal_the_public_port()
    {
        const string expected = "The endpoint 'sql' has EnableDirectServerReturn (floating IP): its local port 1433 must equal the public port 1434, " +
            "since the VM receives the packets still addressed to the VIP and port 1434. Set the local port to 1434 (and have the service listen on it), or turn direct server return off.";
        var endpoint = Sql("sql", VirtualIp.DefaultName, dsr: true) with { PublicPort = 1434 };
        AssertError.Throws(ErrorCode.BadRequest, expected, () => EndpointRules.Validate(endpoint, ServiceLimits.Default));

        // The server's one place for rules (every API, CLI and dashboard change) refuses the service with it.
        var service = Build.Service(Build.Vm("vm1", "10.0.0.4", endpoint));
        AssertError.Throws(ErrorCode.BadRequest, expected, () => DeploymentRules.Validate(service, ServiceLimits.Default));
    }

    [Theory]
    [InlineData(true, 1433)]
    [InlineData(false, 1434)]
    public void Equal_ports_with_floating_ip_and_any_ports_without_it_are_valid(bool dsr, int publicPort)
    {
        var endpoint = Sql("sql", VirtualIp.DefaultName, dsr) with { PublicPort = publicPort };
        EndpointRules.Validate(endpoint, ServiceLimits.Default);
        DeploymentRules.Validate(Build.Service(Build.Vm("vm1", "10.0.0.4", endpoint)), ServiceLimits.Default);
    }
}
