using System.Net;
using System.Net.Http.Json;
using DnsClient;
using MultiVip.Contracts;
using MultiVip.Model.Services;

namespace MultiVip.Server.Tests;

/// <summary>
/// IPv6 VIPs in the control plane: the family is chosen per VIP (IPv4 by default), addresses come
/// from the pool ranges of that family, and an IPv6 default VIP answers AAAA in DNS. No traffic is
/// sent to these addresses here (the namespace tests in MultiVip.Network.Tests carry traffic).
/// </summary>
public sealed class Ipv6VipTests
{
    private const string V6Pool = "2001:db8:100::/120";

    [Fact]
    public async Task A_vip_gets_an_address_of_its_family_and_deployment_show_says_which()
    {
        await using var f = await ServerFixture.StartAsync(configure: o => o with { VipPools = [ServerFixture.UniquePool(), V6Pool] });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "svc" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Vms("svc"), new AddVmRequest { Name = "vm1", Address = "2001:db8:2::11" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.VirtualIps("svc"), new AddVirtualIpRequest { Name = "Vip6", AddressFamily = "ipv6" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("svc", "vm1"), new EndpointRequest { Name = "web", Protocol = "tcp", LocalPort = 8080, PublicPort = 80, VirtualIpName = "Vip6" });

        var vips = await f.GetAsync<List<VirtualIp>>(ApiRoutes.VirtualIps("svc"));
        var vip1 = vips.Single(v => v.Name == "Vip1");
        var vip6 = vips.Single(v => v.Name == "Vip6");
        Assert.Equal(VipAddressFamily.IPv4, vip1.AddressFamily);
        Assert.Equal(System.Net.Sockets.AddressFamily.InterNetwork, IPAddress.Parse(vip1.Address!).AddressFamily);
        Assert.Equal(VipAddressFamily.IPv6, vip6.AddressFamily);
        Assert.Equal("2001:db8:100::1", vip6.Address);

        var deployment = await f.GetAsync<DeploymentView>(ApiRoutes.Deployment("svc"));
        Assert.Equal("IPv6", deployment.Network.Single(n => n.VirtualIpName == "Vip6").AddressFamily);
        Assert.Equal("IPv4", deployment.Network.Single(n => n.VirtualIpName == "Vip1").AddressFamily);
    }

    [Fact]
    public async Task An_ipv6_vip_without_an_ipv6_pool_is_refused_with_what_to_do()
    {
        await using var f = await ServerFixture.StartAsync();
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "svc" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Vms("svc"), new AddVmRequest { Name = "vm1", Address = "127.0.0.11" });
        using var response = await f.Http.PostAsJsonAsync(ApiRoutes.VirtualIps("svc"), new AddVirtualIpRequest { Name = "Vip6", AddressFamily = "ipv6" });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("has no IPv6 addresses", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var bad = await f.Http.PostAsJsonAsync(ApiRoutes.VirtualIps("svc"), new AddVirtualIpRequest { Name = "Vip7", AddressFamily = "ipx" });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Single((await f.GetAsync<List<VirtualIp>>(ApiRoutes.VirtualIps("svc"))));
    }

    [Fact]
    public async Task On_an_ipv6_only_server_the_default_vip_is_ipv6_and_the_service_name_answers_aaaa()
    {
        await using var f = await ServerFixture.StartAsync(configure: o => o with { VipPools = [V6Pool] });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "myService" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Vms("myService"), new AddVmRequest { Name = "myVM1", Address = "2001:db8:2::11" });
        var vip1 = (await f.GetAsync<List<VirtualIp>>(ApiRoutes.VirtualIps("myService"))).Single();
        Assert.Equal(VipAddressFamily.IPv6, vip1.AddressFamily);

        var resolver = new LookupClient(new LookupClientOptions(new NameServer(f.Server.DnsEndPoint!)) { UseCache = false, Retries = 1, Timeout = TimeSpan.FromSeconds(5) });
        var aaaa = await resolver.QueryAsync("myservice.cloudapp.internal", QueryType.AAAA);
        Assert.Equal(IPAddress.Parse(vip1.Address!), Assert.Single(aaaa.Answers.AaaaRecords()).Address);
        var a = await resolver.QueryAsync("myservice.cloudapp.internal", QueryType.A);
        Assert.Empty(a.Answers.ARecords());
    }

    [Fact]
    public async Task A_reserved_ip_backs_only_a_vip_of_its_family()
    {
        await using var f = await ServerFixture.StartAsync(configure: o => o with { VipPools = [ServerFixture.UniquePool(), V6Pool] });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "svc" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Vms("svc"), new AddVmRequest { Name = "vm1", Address = "127.0.0.11" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.ReservedIps, new CreateReservedIpRequest { Name = "r6", Location = "local", AddressFamily = "IPv6" });
        var reserved = await f.GetAsync<MultiVip.Model.ReservedIps.ReservedIp>(ApiRoutes.ReservedIp("r6"));
        Assert.StartsWith("2001:db8:100::", reserved.Address, StringComparison.Ordinal);

        using var refused = await f.Http.PutAsJsonAsync(ApiRoutes.ReservedIpAssociation("r6"), new AssociateReservedIpRequest { ServiceName = "svc" });
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Contains("is an IPv6 address and the virtual IP", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
