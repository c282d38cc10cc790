using System.Net;
using System.Net.Sockets;
using System.Text;
using MultiVip.Contracts;
using MultiVip.Model.Operations;

namespace MultiVip.Server.Tests;

/// <summary>Real traffic through a real server: the walk-through's VIPs carry connections to real backends.</summary>
public sealed class TrafficTests
{
    /// <summary>Two VM addresses no other test uses.</summary>
    private static (string Vm1, string Vm2) VmAddresses()
    {
        var octet = Random.Shared.Next(1, 250);
        return ($"127.42.{octet}.11", $"127.42.{octet}.12");
    }

    private static async Task<ServerFixture> SeedAsync(string vm1, string vm2)
    {
        var f = await ServerFixture.StartAsync();
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "myService" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Vms("myService"), new AddVmRequest { Name = "myVM1", Address = vm1 });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Vms("myService"), new AddVmRequest { Name = "myVM2", Address = vm2 });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.VirtualIps("myService"), new AddVirtualIpRequest { Name = "Vip2" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.VirtualIps("myService"), new AddVirtualIpRequest { Name = "Vip3" });
        return f;
    }

    private static async Task<string> AddressOf(ServerFixture f, string vip) =>
        (await f.GetAsync<List<Model.Services.VirtualIp>>(ApiRoutes.VirtualIps("myService"))).Single(v => v.Name == vip).Address!;

    [Fact]
    public async Task Walkthrough_carries_traffic_through_each_vip_and_the_lb_set_follows_its_move()
    {
        var (vm1, vm2) = VmAddresses();
        await using var web1 = EchoBackend.Start(vm1, 8080, "myVM1:8080");
        await using var lb1 = EchoBackend.Start(vm1, 8181, "myVM1:8181");
        await using var lb2 = EchoBackend.Start(vm2, 8181, "myVM2:8181");
        await using var f = await SeedAsync(vm1, vm2);

        var added = await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), new EndpointRequest
        {
            Name = "myEndpoint", Protocol = "tcp", LocalPort = 8080, PublicPort = 80, VirtualIpName = "Vip2",
        });
        Assert.Equal(OperationStatus.Succeeded, added.OperationStatus);
        var vip2 = await AddressOf(f, "Vip2");

        // Succeeded means live: the very next connection goes through.
        Assert.Equal("myVM1:8080", await EchoBackend.HelloAsync(vip2, 80));

        foreach (var vm in new[] { "myVM1", "myVM2" })
        {
            await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", vm), new EndpointRequest
            {
                Name = "myLBEndpoint", LoadBalancedSetName = "myLBSet", Protocol = "tcp", LocalPort = 8181, PublicPort = 81, VirtualIpName = "Vip2", DefaultProbe = true,
            });
        }

        var seen = new HashSet<string>();
        for (var i = 0; i < 40 && seen.Count < 2; i++)
        {
            seen.Add(await EchoBackend.HelloAsync(vip2, 81));
        }

        Assert.Equal(["myVM1:8181", "myVM2:8181"], seen.Order());

        await f.SendAsync(HttpMethod.Patch, ApiRoutes.LoadBalancedSet("myService", "myLBSet"), new SetLoadBalancedSetRequest { VirtualIpName = "Vip1" });
        var vip1 = await AddressOf(f, "Vip1");
        Assert.StartsWith("myVM", await EchoBackend.HelloAsync(vip1, 81));
        await Assert.ThrowsAnyAsync<SocketException>(() => EchoBackend.HelloAsync(vip2, 81));
        Assert.Equal("myVM1:8080", await EchoBackend.HelloAsync(vip2, 80));

        // The deployment shows the set's members and their probe state.
        var deployment = await f.GetAsync<DeploymentView>(ApiRoutes.Deployment("myService"));
        Assert.Equal(2, deployment.Health.Count(h => h.EndpointName == "myLBEndpoint"));
        Assert.Contains(deployment.Health, h => h.EndpointName == "myEndpoint" && h.State == Model.Services.HealthState.NotProbed && h.TotalConnections >= 2);
    }

    [Fact]
    public async Task Multi_tenant_vips_share_public_port_443_each_to_its_own_local_port()
    {
        var (vm1, vm2) = VmAddresses();
        await using var tenantA = EchoBackend.Start(vm1, 9443, "tenantA");
        await using var tenantB = EchoBackend.Start(vm1, 9444, "tenantB");
        await using var tenantC = EchoBackend.Start(vm1, 9445, "tenantC");
        await using var f = await SeedAsync(vm1, vm2);
        var tenants = new[] { ("Vip1", 9443, "tenantA"), ("Vip2", 9444, "tenantB"), ("Vip3", 9445, "tenantC") };
        foreach (var (vip, port, name) in tenants)
        {
            await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), new EndpointRequest
            {
                Name = name, Protocol = "tcp", LocalPort = port, PublicPort = 443, VirtualIpName = vip,
            });
        }

        foreach (var (vip, _, name) in tenants)
        {
            Assert.Equal(name, await EchoBackend.HelloAsync(await AddressOf(f, vip), 443));
        }
    }

    [Fact]
    public async Task Established_connection_survives_unrelated_changes_and_listeners_come_back_after_restart()
    {
        var (vm1, vm2) = VmAddresses();
        await using var web = EchoBackend.Start(vm1, 8080, "web");
        await using var other = EchoBackend.Start(vm2, 9000, "other");
        await using var f = await SeedAsync(vm1, vm2);
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), new EndpointRequest { Name = "web", Protocol = "tcp", LocalPort = 8080, PublicPort = 80, VirtualIpName = "Vip2" });
        var vip2 = await AddressOf(f, "Vip2");

        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Parse(vip2), 80);
        var stream = client.GetStream();
        var reader = new StreamReader(stream, Encoding.ASCII);
        Assert.Equal("web", await reader.ReadLineAsync());

        // Unrelated changes: another endpoint on the same VIP comes and goes, a VIP is added and
        // removed, another service is created, a reserved IP is made.
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM2"), new EndpointRequest { Name = "other", Protocol = "tcp", LocalPort = 9000, PublicPort = 90, VirtualIpName = "Vip2" });
        Assert.Equal("other", await EchoBackend.HelloAsync(vip2, 90));
        await f.SendAsync(HttpMethod.Delete, ApiRoutes.Endpoint("myService", "myVM2", "other"));
        await f.SendAsync(HttpMethod.Post, ApiRoutes.VirtualIps("myService"), new AddVirtualIpRequest { Name = "Vip4" });
        await f.SendAsync(HttpMethod.Delete, ApiRoutes.VirtualIp("myService", "Vip4"));
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "otherService" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.ReservedIps, new CreateReservedIpRequest { Name = "spare" });

        for (var i = 0; i < 3; i++)
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"ping {i}\n"));
            Assert.Equal($"ping {i}", await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(5)));
        }

        client.Close();
        await f.RestartAsync();
        Assert.Equal("web", await EchoBackend.HelloAsync(vip2, 80));
    }
}
