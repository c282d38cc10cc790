namespace MultiVip.Contracts.Tests;

public class ApiRoutesTests
{
    [Fact]
    public void Routes_nest_and_escape_names()
    {
        Assert.Equal("/api/services/my%20svc", ApiRoutes.Service("my svc"));
        Assert.Equal("/api/services/s/vms/vm1/endpoints/a%2Fb", ApiRoutes.Endpoint("s", "vm1", "a/b"));
        Assert.Equal("/api/services/s/load-balanced-sets/lb", ApiRoutes.LoadBalancedSet("s", "lb"));
        Assert.Equal("/api/services/s/virtual-ips/Vip2", ApiRoutes.VirtualIp("s", "Vip2"));
        Assert.Equal("/api/services/s/deployment", ApiRoutes.Deployment("s"));
        Assert.Equal("/api/reserved-ips/r1/association", ApiRoutes.ReservedIpAssociation("r1"));
        var id = Guid.NewGuid();
        Assert.Equal($"/api/operations/{id}", ApiRoutes.Operation(id));
    }
}
