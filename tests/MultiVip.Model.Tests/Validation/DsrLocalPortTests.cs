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
}
