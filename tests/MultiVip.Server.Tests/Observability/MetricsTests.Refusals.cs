using System.Net;
using System.Text;
using MultiVip.Contracts;
using MultiVip.DataPlane;

namespace MultiVip.Server.Tests.Observability;

/// <summary>Counters the data plane keeps for refusals reach /metrics.</summary>
public sealed partial class MetricsTests
{
    [Fact]
    public async Task A_udp_session_refused_for_the_session_total_moves_the_session_limit_counter()
    {
        // Addresses from this test's share of loopback, 127.126.0.0/16.
        var octet = Random.Shared.Next(1, 250);
        using var backend = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        backend.Bind(new IPEndPoint(IPAddress.Parse($"127.126.{octet}.11"), 0));
        using var stopEcho = new CancellationTokenSource();
        var echo = EchoDatagramsAsync(backend, stopEcho.Token);
        await using var f = await ServerFixture.StartAsync(configure: o => o with { MaxUdpSessions = 4 });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "myService" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Vms("myService"), new AddVmRequest { Name = "myVM1", Address = $"127.126.{octet}.11" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), new EndpointRequest
        {
            Name = "dns", Protocol = "udp", LocalPort = ((IPEndPoint)backend.LocalEndPoint!).Port, PublicPort = 5300,
        });
        var vip = new IPEndPoint(IPAddress.Parse((await f.GetAsync<List<Model.Services.VirtualIp>>(ApiRoutes.VirtualIps("myService"))).Single().Address!), 5300);
        var labels = "service=\"myService\",vip=\"Vip1\",port=\"5300\"";

        // Every slot of the total is held outside any listener, so there is no session to evict for
        // a new client: what a total taken by sessions being opened elsewhere looks like.
        var slots = ((DataPlaneHost)f.Server.DataPlane).Udp.SessionSlots;
        var held = 0;
        while (slots.TryAcquire())
        {
            held++;
        }

        try
        {
            using var refused = Client("127.0.0.1");
            await refused.SendToAsync(Encoding.ASCII.GetBytes("no room"), System.Net.Sockets.SocketFlags.None, vip);
            await WaitUntilAsync(async () => Value(await f.Http.GetStringAsync("/metrics"), "multivip_udp_datagrams_dropped_total", labels + ",reason=\"session_limit\"") == 1);
        }
        finally
        {
            for (; held > 0; held--)
            {
                slots.Release();
            }
        }

        // With room again a client gets its session; the bytes each way are counted too.
        using var admitted = Client("127.0.0.1");
        Assert.Equal("pong:first", await AskAsync(admitted, vip, "first"));
        var text = "";
        await WaitUntilAsync(async () =>
        {
            text = await f.Http.GetStringAsync("/metrics");
            return Value(text, "multivip_udp_bytes_out_total", labels) == Encoding.ASCII.GetByteCount("pong:first");
        });
        Assert.Equal(1, Value(text, "multivip_udp_sessions_created_total", labels));
        Assert.Equal(Encoding.ASCII.GetByteCount("first"), Value(text, "multivip_udp_bytes_in_total", labels));
        Assert.Equal(1, Value(text, "multivip_udp_datagrams_dropped_total", labels + ",reason=\"session_limit\""));
        await stopEcho.CancelAsync();
        await echo;
    }
}
