using System.Net;
using System.Net.Sockets;
using System.Text;
using DnsClient;
using DnsClient.Protocol;
using MultiVip.Contracts;
using MultiVip.Model.Operations;
using MultiVip.Model.Services;
using MultiVip.Server.Hosting;

namespace MultiVip.Server.Tests;

/// <summary>
/// The service's DNS name through the embedded server, asked with a real resolver library (DnsClient)
/// over UDP and TCP, and a UDP endpoint carrying datagrams through a real server.
/// </summary>
public sealed class DnsAndUdpTests
{
    private static LookupClient Resolver(ServerFixture f, bool tcp = false) =>
        new(new LookupClientOptions(new NameServer(f.Server.DnsEndPoint!))
        {
            UseCache = false,
            UseTcpOnly = tcp,
            Retries = 1,
            Timeout = TimeSpan.FromSeconds(5),
            ThrowDnsErrors = false,
            ContinueOnDnsError = false,
        });

    private static async Task<ServerFixture> WithServiceAsync(string vmAddress)
    {
        var f = await ServerFixture.StartAsync();
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "myService" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Vms("myService"), new AddVmRequest { Name = "myVM1", Address = vmAddress });
        return f;
    }

    private static async Task<string> DefaultVipAsync(ServerFixture f) =>
        (await f.GetAsync<List<VirtualIp>>(ApiRoutes.VirtualIps("myService"))).Single(v => v.IsDnsProgrammed).Address!;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Service_name_resolves_to_the_default_vip_and_the_zone_has_soa_and_ns(bool tcp)
    {
        await using var f = await WithServiceAsync("127.0.0.11");
        var resolver = Resolver(f, tcp);
        var vip1 = await DefaultVipAsync(f);

        var a = await resolver.QueryAsync("myservice.cloudapp.internal", QueryType.A);
        Assert.Equal(DnsHeaderResponseCode.NoError, a.Header.ResponseCode);
        Assert.True(a.Header.HasAuthorityAnswer);
        var record = Assert.Single(a.Answers.ARecords());
        Assert.Equal(IPAddress.Parse(vip1), record.Address);
        Assert.Equal(30, record.InitialTimeToLive);

        var soa = await resolver.QueryAsync("cloudapp.internal", QueryType.SOA);
        Assert.Equal("ns1.cloudapp.internal.", Assert.Single(soa.Answers.SoaRecords()).MName.Value);
        var ns = await resolver.QueryAsync("cloudapp.internal", QueryType.NS);
        Assert.Equal("ns1.cloudapp.internal.", Assert.Single(ns.Answers.NsRecords()).NSDName.Value);

        // A name in the zone that is no service: NXDOMAIN with the SOA for negative caching.
        var unknown = await resolver.QueryAsync("nosuchservice.cloudapp.internal", QueryType.A);
        Assert.Equal(DnsHeaderResponseCode.NotExistentDomain, unknown.Header.ResponseCode);
        Assert.Single(unknown.Authorities.SoaRecords());

        // The service exists but has no AAAA: NODATA.
        var aaaa = await resolver.QueryAsync("myService.cloudapp.internal", QueryType.AAAA);
        Assert.Equal(DnsHeaderResponseCode.NoError, aaaa.Header.ResponseCode);
        Assert.Empty(aaaa.Answers);

        // Outside the zone: this server is authoritative only, it refuses.
        var outside = await resolver.QueryAsync("example.com", QueryType.A);
        Assert.Equal(DnsHeaderResponseCode.Refused, outside.Header.ResponseCode);
    }

    [Fact]
    public async Task Answer_follows_a_reserved_ip_association_and_the_deployment_deletion()
    {
        await using var f = await WithServiceAsync("127.0.0.11");
        var resolver = Resolver(f);
        var before = await DefaultVipAsync(f);
        Assert.Equal(IPAddress.Parse(before), (await resolver.QueryAsync("myService.cloudapp.internal", QueryType.A)).Answers.ARecords().Single().Address);

        await f.SendAsync(HttpMethod.Post, ApiRoutes.ReservedIps, new CreateReservedIpRequest { Name = "myReserved" });
        var associated = await f.SendAsync(HttpMethod.Put, ApiRoutes.ReservedIpAssociation("myReserved"), new AssociateReservedIpRequest { ServiceName = "myService" });
        Assert.Equal(OperationStatus.Succeeded, associated.OperationStatus);
        var after = await DefaultVipAsync(f);
        Assert.NotEqual(before, after);
        Assert.Equal(IPAddress.Parse(after), (await resolver.QueryAsync("myService.cloudapp.internal", QueryType.A)).Answers.ARecords().Single().Address);

        // The last VM goes, and the deployment with it: the name no longer exists.
        await f.SendAsync(HttpMethod.Delete, ApiRoutes.Vm("myService", "myVM1"));
        var gone = await resolver.QueryAsync("myService.cloudapp.internal", QueryType.A);
        Assert.Equal(DnsHeaderResponseCode.NotExistentDomain, gone.Header.ResponseCode);
    }

    [Fact]
    public async Task Udp_endpoint_added_through_the_api_carries_datagrams_and_dns_names_its_vip()
    {
        var vm = $"127.43.{Random.Shared.Next(1, 250)}.11";
        using var backend = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        backend.Bind(new IPEndPoint(IPAddress.Parse(vm), 0));
        var localPort = ((IPEndPoint)backend.LocalEndPoint!).Port;
        var echo = EchoOnceAsync(backend);

        await using var f = await WithServiceAsync(vm);
        var added = await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), new EndpointRequest
        {
            Name = "dns", Protocol = "udp", LocalPort = localPort, PublicPort = 53, VirtualIpName = "Vip1",
        });
        Assert.Equal(OperationStatus.Succeeded, added.OperationStatus);
        var vip1 = IPAddress.Parse(await DefaultVipAsync(f));

        // What `dig @127.0.0.1 -p <port> myservice.cloudapp.internal` asks.
        var answer = await Resolver(f).QueryAsync("myservice.cloudapp.internal", QueryType.A);
        Assert.Equal(vip1, answer.Answers.ARecords().Single().Address);

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        client.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        await client.SendToAsync(Encoding.ASCII.GetBytes("ping"), SocketFlags.None, new IPEndPoint(vip1, 53)).WaitAsync(TimeSpan.FromSeconds(10));
        var buffer = new byte[1024];
        var reply = await client.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0)).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("pong:ping", Encoding.ASCII.GetString(buffer, 0, reply.ReceivedBytes));
        Assert.Equal(new IPEndPoint(vip1, 53), reply.RemoteEndPoint);
        await echo.WaitAsync(TimeSpan.FromSeconds(10));

        var deployment = await f.GetAsync<DeploymentView>(ApiRoutes.Deployment("myService"));
        Assert.Contains(deployment.Health, h => h.EndpointName == "dns" && h.TotalConnections == 1);
    }

    [Fact]
    public async Task Dns_port_in_use_fails_start_up_naming_the_option()
    {
        using var squatter = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        squatter.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)squatter.LocalEndPoint!).Port;
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => ServerFixture.StartAsync(configure: o => o with { Dns = $"127.0.0.1:{port}" }));
        Assert.Contains("already in use", e.Message);
        Assert.Contains("--dns", e.Message);
    }

    [Fact]
    public async Task Dns_off_starts_without_a_dns_server()
    {
        await using var f = await ServerFixture.StartAsync(configure: o => o with { Dns = "off" });
        Assert.Null(f.Server.DnsEndPoint);
    }

    private static async Task EchoOnceAsync(Socket backend)
    {
        var buffer = new byte[1024];
        var from = await backend.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0));
        var reply = Encoding.ASCII.GetBytes("pong:" + Encoding.ASCII.GetString(buffer, 0, from.ReceivedBytes));
        await backend.SendToAsync(reply, SocketFlags.None, from.RemoteEndPoint);
    }
}
