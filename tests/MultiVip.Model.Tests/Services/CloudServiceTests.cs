using MultiVip.Model.Services;

namespace MultiVip.Model.Tests.Services;

public class CloudServiceTests
{
    [Theory]
    [InlineData(15, 31, 2)]
    [InlineData(5, 11, 2)]
    [InlineData(5, 16, 3)]
    [InlineData(20, 11, 1)]
    [InlineData(3600, 11, 1)]
    public void Probe_threshold_is_timeout_over_interval_at_least_one(int interval, int timeout, int expected) =>
        Assert.Equal(expected, new LoadBalancerProbe { IntervalInSeconds = interval, TimeoutInSeconds = timeout }.Threshold);

    [Fact]
    public void Probe_defaults_are_Azures()
    {
        var probe = new LoadBalancerProbe();
        Assert.Equal(15, probe.IntervalInSeconds);
        Assert.Equal(31, probe.TimeoutInSeconds);
        Assert.Equal(ProbeProtocol.Tcp, probe.Protocol);
        Assert.Equal(2, probe.Threshold);
    }

    [Fact]
    public void Endpoint_defaults_are_Azures()
    {
        var e = new InputEndpoint { Name = "web" };
        Assert.Equal(TransportProtocol.Tcp, e.Protocol);
        Assert.Equal(VirtualIp.DefaultName, e.VirtualIpName);
        Assert.Equal(4, e.IdleTimeoutInMinutes);
        Assert.Equal(LoadBalancerDistribution.None, e.Distribution);
        Assert.Empty(e.Acl);
        Assert.Null(e.Probe);
    }

    [Fact]
    public void Lookups_are_case_insensitive()
    {
        var service = Build.Service([Build.Vm("Web1", "10.0.0.4", Build.Endpoint("HTTP", 80))], "Vip2");
        var deployment = service.Deployment!;
        Assert.Equal("Vip2", deployment.FindVirtualIp("VIP2")?.Name);
        Assert.Null(deployment.FindVirtualIp("Vip3"));
        Assert.Equal("Web1", deployment.FindVm("web1")?.Name);
        Assert.Equal("HTTP", deployment.FindVm("WEB1")!.FindEndpoint("http")?.Name);
        Assert.Equal("Vip1", deployment.DefaultVirtualIp.Name);
        Assert.Single(deployment.AllEndpoints());
    }
}
