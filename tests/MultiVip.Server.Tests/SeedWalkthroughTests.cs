using System.Net;
using MultiVip.Contracts;
using MultiVip.Model.Operations;
using MultiVip.Model.Services;

namespace MultiVip.Server.Tests;

/// <summary>The seed's walk-through, step by step, through the REST API of a real server.</summary>
public sealed class SeedWalkthroughTests
{
    [Fact]
    public async Task Seed_walkthrough_gives_addresses_as_the_seed_describes()
    {
        await using var f = await ServerFixture.StartAsync();
        var create = await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "myService" });
        Assert.Equal("New-AzureService", create.OperationDescription);
        Assert.Equal(OperationStatus.Succeeded, create.OperationStatus);

        await f.SendAsync(HttpMethod.Post, ApiRoutes.Vms("myService"), new AddVmRequest { Name = "myVM1", Address = "127.0.0.11" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Vms("myService"), new AddVmRequest { Name = "myVM2", Address = "127.0.0.12" });
        var addVip2 = await f.SendAsync(HttpMethod.Post, ApiRoutes.VirtualIps("myService"), new AddVirtualIpRequest { Name = "Vip2" });
        var addVip3 = await f.SendAsync(HttpMethod.Post, ApiRoutes.VirtualIps("myService"), new AddVirtualIpRequest { Name = "Vip3" });
        Assert.Equal("Add-AzureVirtualIP", addVip3.OperationDescription);
        Assert.Equal(OperationStatus.Succeeded, addVip2.OperationStatus);
        Assert.NotEqual(addVip2.OperationId, addVip3.OperationId);

        var deployment = await f.GetAsync<DeploymentView>(ApiRoutes.Deployment("myService"));
        Assert.Equal(["Vip1", "Vip2", "Vip3"], deployment.VirtualIps.Select(v => v.Name));
        var vip1 = deployment.VirtualIps[0];
        Assert.True(vip1.IsDnsProgrammed);
        Assert.StartsWith("127.100.", vip1.Address);
        Assert.All(deployment.VirtualIps.Skip(1), v =>
        {
            Assert.Null(v.Address);
            Assert.False(v.IsDnsProgrammed);
        });

        // An endpoint that names Vip2 gives Vip2 an address.
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), new EndpointRequest
        {
            Name = "myEndpoint", Protocol = "tcp", LocalPort = 8080, PublicPort = 80, VirtualIpName = "Vip2",
        });
        deployment = await f.GetAsync<DeploymentView>(ApiRoutes.Deployment("myService"));
        var vip2 = deployment.VirtualIps.Single(v => v.Name == "Vip2");
        Assert.StartsWith("127.100.", vip2.Address);
        Assert.NotEqual(vip1.Address, vip2.Address);
        Assert.Null(deployment.VirtualIps.Single(v => v.Name == "Vip3").Address);
        Assert.Equal(vip1.Address, deployment.VirtualIps[0].Address);

        // Load-balanced set on Vip2 port 81 → 8181 on both VMs, default probe.
        foreach (var vm in new[] { "myVM1", "myVM2" })
        {
            await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", vm), new EndpointRequest
            {
                Name = "myLBEndpoint", LoadBalancedSetName = "myLBSet", Protocol = "tcp", LocalPort = 8181, PublicPort = 81,
                VirtualIpName = "Vip2", DefaultProbe = true,
            });
        }

        var set = await f.GetAsync<LoadBalancedSetView>(ApiRoutes.LoadBalancedSet("myService", "myLBSet"));
        Assert.Equal("Vip2", set.VirtualIpName);
        Assert.Equal(2, set.Members.Count);
        Assert.Equal(ProbeProtocol.Tcp, set.Probe!.Protocol);
        Assert.Equal(8181, set.Probe.Port);
        Assert.Equal(15, set.Probe.IntervalInSeconds);
        Assert.Equal(31, set.Probe.TimeoutInSeconds);

        // Move the set to Vip1; the probe stays as it was.
        var move = await f.SendAsync(HttpMethod.Patch, ApiRoutes.LoadBalancedSet("myService", "myLBSet"), new SetLoadBalancedSetRequest { VirtualIpName = "Vip1" });
        Assert.Equal("Set-AzureLoadBalancedEndpoint", move.OperationDescription);
        set = await f.GetAsync<LoadBalancedSetView>(ApiRoutes.LoadBalancedSet("myService", "myLBSet"));
        Assert.Equal("Vip1", set.VirtualIpName);
        Assert.Equal(8181, set.Probe!.Port);

        // Remove Vip3.
        var remove = await f.SendAsync(HttpMethod.Delete, ApiRoutes.VirtualIp("myService", "Vip3"));
        Assert.Equal("Remove-AzureVirtualIP", remove.OperationDescription);
        deployment = await f.GetAsync<DeploymentView>(ApiRoutes.Deployment("myService"));
        Assert.Equal(["Vip1", "Vip2"], deployment.VirtualIps.Select(v => v.Name));

        // Vip2 keeps its address while myEndpoint uses it, and loses it with the last endpoint.
        await f.SendAsync(HttpMethod.Delete, ApiRoutes.Endpoint("myService", "myVM1", "myEndpoint"));
        deployment = await f.GetAsync<DeploymentView>(ApiRoutes.Deployment("myService"));
        Assert.Null(deployment.VirtualIps.Single(v => v.Name == "Vip2").Address);
    }

    [Fact]
    public async Task Every_bad_input_gets_a_clear_error_and_changes_nothing()
    {
        await using var f = await ServerFixture.StartAsync();
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "myService" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Vms("myService"), new AddVmRequest { Name = "myVM1", Address = "127.0.0.11" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.VirtualIps("myService"), new AddVirtualIpRequest { Name = "Vip2" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), new EndpointRequest
        {
            Name = "myEndpoint", Protocol = "tcp", LocalPort = 8080, PublicPort = 80, VirtualIpName = "Vip2",
        });
        var before = await f.GetAsync<DeploymentView>(ApiRoutes.Deployment("myService"));
        var operationsBefore = (await f.GetAsync<List<Operation>>(ApiRoutes.Operations)).Count;

        async Task Expect(HttpStatusCode status, string code, string message, HttpMethod method, string path, object? body = null)
        {
            var error = await f.ExpectErrorAsync(method, path, body);
            Assert.Equal(status, error.Status);
            Assert.Equal(code, error.Code);
            Assert.Contains(message, error.Text);
        }

        await Expect(HttpStatusCode.NotFound, "ResourceNotFound", "The cloud service 'nope' does not exist", HttpMethod.Post, ApiRoutes.VirtualIps("nope"), new AddVirtualIpRequest { Name = "Vip3" });
        await Expect(HttpStatusCode.NotFound, "ResourceNotFound", "The VM 'myVM9' does not exist in cloud service 'myService'", HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM9"), new EndpointRequest { Name = "e", Protocol = "tcp", LocalPort = 1 });
        await Expect(HttpStatusCode.NotFound, "ResourceNotFound", "The virtual IP 'Vip9' does not exist", HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), new EndpointRequest { Name = "e2", Protocol = "tcp", LocalPort = 9000, PublicPort = 90, VirtualIpName = "Vip9" });
        await Expect(HttpStatusCode.Conflict, "ConflictError", "An endpoint named 'MYENDPOINT' has already been defined for this VM.", HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), new EndpointRequest { Name = "MYENDPOINT", Protocol = "tcp", LocalPort = 9001, PublicPort = 91 });
        await Expect(HttpStatusCode.BadRequest, "BadRequest", "Ports must be in the range of 1 - 65535", HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), new EndpointRequest { Name = "zero", Protocol = "tcp", LocalPort = 0, PublicPort = 80 });
        await Expect(HttpStatusCode.BadRequest, "BadRequest", "Ports must be in the range of 1 - 65535", HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), new EndpointRequest { Name = "big", Protocol = "tcp", LocalPort = 8000, PublicPort = 70000 });
        await Expect(HttpStatusCode.Conflict, "ConflictError", "Local Port 8080 for endpoint dup is already in use", HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), new EndpointRequest { Name = "dup", Protocol = "tcp", LocalPort = 8080, PublicPort = 8080 });
        await Expect(HttpStatusCode.Conflict, "ConflictError", "Public port 80/tcp on virtual IP 'Vip2' is already used by endpoint 'myEndpoint' of VM 'myVM1'", HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), new EndpointRequest { Name = "clash", Protocol = "tcp", LocalPort = 8090, PublicPort = 80, VirtualIpName = "vip2" });
        await Expect(HttpStatusCode.BadRequest, "BadRequest", "'tpc' is not an endpoint protocol. Use tcp or udp.", HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), new EndpointRequest { Name = "typo", Protocol = "tpc", LocalPort = 8091 });
        await Expect(HttpStatusCode.Conflict, "ConflictError", "The virtual IP 'Vip2' cannot be removed because endpoints are associated with it: myVM1/myEndpoint", HttpMethod.Delete, ApiRoutes.VirtualIp("myService", "Vip2"));
        await Expect(HttpStatusCode.Conflict, "ConflictError", "is the deployment's default virtual IP", HttpMethod.Delete, ApiRoutes.VirtualIp("myService", "Vip1"));
        await Expect(HttpStatusCode.BadRequest, "BadRequest", "ProbePath not valid with tcp", HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), new EndpointRequest { Name = "p", Protocol = "tcp", LocalPort = 8092, LoadBalancedSetName = "s", Probe = new ProbeRequest { Protocol = "tcp", Path = "/x" } });
        await Expect(HttpStatusCode.BadRequest, "BadRequest", "ProbePath is required for http", HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), new EndpointRequest { Name = "p", Protocol = "tcp", LocalPort = 8092, LoadBalancedSetName = "s", Probe = new ProbeRequest { Protocol = "http" } });
        await Expect(HttpStatusCode.NotFound, "ResourceNotFound", "An endpoint cannot be found with the given load balancer set name 'noSet'.", HttpMethod.Patch, ApiRoutes.LoadBalancedSet("myService", "noSet"), new SetLoadBalancedSetRequest { VirtualIpName = "Vip1" });
        await Expect(HttpStatusCode.NotFound, "ResourceNotFound", "An endpoint named 'ghost' cannot be found in the configuration of this VM.", HttpMethod.Delete, ApiRoutes.Endpoint("myService", "myVM1", "ghost"));
        await Expect(HttpStatusCode.BadRequest, "BadRequest", "is not a valid subnet", HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), new EndpointRequest { Name = "acl", Protocol = "tcp", LocalPort = 8093, Acl = [new AclRuleRequest { Order = 1, Action = "permit", RemoteSubnet = "10.0.0.0/33" }] });
        await Expect(HttpStatusCode.BadRequest, "BadRequest", "The idle timeout must be between 4 and 30 minutes (got 31)", HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), new EndpointRequest { Name = "idle", Protocol = "tcp", LocalPort = 8094, IdleTimeoutInMinutes = 31 });
        await Expect(HttpStatusCode.Conflict, "ConflictError", "already exists", HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "MYSERVICE" });
        await Expect(HttpStatusCode.BadRequest, "BadRequest", "is not a valid cloud service name", HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "-bad-" });
        await Expect(HttpStatusCode.BadRequest, "BadRequest", "is not a valid IP address for a VM", HttpMethod.Post, ApiRoutes.Vms("myService"), new AddVmRequest { Name = "vmX", Address = "300.1.1.1" });

        // A sixth VIP: four more fit (Vip1, Vip2 + 3), the next one fails.
        for (var i = 3; i <= 5; i++)
        {
            await f.SendAsync(HttpMethod.Post, ApiRoutes.VirtualIps("myService"), new AddVirtualIpRequest { Name = $"Vip{i}" });
        }

        await Expect(HttpStatusCode.Conflict, "ConflictError", "A deployment can have at most 5 virtual IPs.", HttpMethod.Post, ApiRoutes.VirtualIps("myService"), new AddVirtualIpRequest { Name = "Vip6" });
        for (var i = 3; i <= 5; i++)
        {
            await f.SendAsync(HttpMethod.Delete, ApiRoutes.VirtualIp("myService", $"Vip{i}"));
        }

        var after = await f.GetAsync<DeploymentView>(ApiRoutes.Deployment("myService"));
        Assert.Equal(before.VirtualIps, after.VirtualIps);
        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(before.VirtualMachines), System.Text.Json.JsonSerializer.Serialize(after.VirtualMachines));
        Assert.Equal(before.VirtualMachines[0].Version, after.VirtualMachines[0].Version);
        // Only the 6 VIP adds/removes above were recorded: rejected requests leave no operation behind.
        Assert.Equal(operationsBefore + 6, (await f.GetAsync<List<Operation>>(ApiRoutes.Operations)).Count);
    }
}
