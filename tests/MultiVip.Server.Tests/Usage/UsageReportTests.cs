using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using MultiVip.Contracts;
using MultiVip.Server.Hosting;

namespace MultiVip.Server.Tests.Usage;

/// <summary>
/// The usage report of a real server whose control plane runs on a fake clock: the seed's
/// walk-through is played at known times, real traffic crosses Vip2, and the report over HTTP
/// must give the known hours exactly and at least the bytes sent, also after a restart.
/// </summary>
public sealed class UsageReportTests
{
    private static readonly DateTimeOffset Day = new(2030, 1, 15, 0, 0, 0, TimeSpan.Zero);

    private static DateTimeOffset At(int hour, int minute = 0) => Day.AddHours(hour).AddMinutes(minute);

    private static void MoveTo(FakeTimeProvider clock, DateTimeOffset time) => clock.Advance(time - clock.GetUtcNow());

    /// <summary>This suite's part of the range 127.71.0.0/16: VIP pools 127.71.100-179.0/24, VMs on 127.71.180-249.x.</summary>
    private static (string Pool, string Vm) Addresses()
    {
        var n = Random.Shared.Next(0, 70);
        return ($"127.71.{100 + n}.0/24", $"127.71.{180 + n}.11");
    }

    private static EndpointRequest Web => new() { Name = "myEndpoint", Protocol = "tcp", LocalPort = 8080, PublicPort = 80, VirtualIpName = "Vip2" };

    /// <summary>Lines through the VIP to the echo backend; returns the bytes written and read.</summary>
    private static async Task<(long Sent, long Received)> ExchangeAsync(string vip, int lines)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await client.ConnectAsync(IPAddress.Parse(vip), 80, timeout.Token);
        var stream = client.GetStream();
        using var reader = new StreamReader(stream, Encoding.ASCII);
        var greeting = await reader.ReadLineAsync(timeout.Token);
        long sent = 0, received = greeting!.Length + 1;
        var line = new string('x', 1000);
        for (var i = 0; i < lines; i++)
        {
            var bytes = Encoding.ASCII.GetBytes(line + "\n");
            await stream.WriteAsync(bytes, timeout.Token);
            sent += bytes.Length;
            var echo = await reader.ReadLineAsync(timeout.Token);
            Assert.Equal(line, echo);
            received += echo!.Length + 1;
        }

        return (sent, received);
    }

    [Fact]
    public async Task The_walkthrough_reports_exact_vip_and_reserved_ip_hours_and_the_bytes_each_vip_carried()
    {
        var (pool, vm) = Addresses();
        var clock = new FakeTimeProvider(At(9));
        await using var backend = EchoBackend.Start(vm, 8080, "myVM1:8080");
        await using var f = await ServerFixture.StartAsync(configure: o => o with { Time = clock, VipPools = [pool] });

        // 09:00 the seed's service, two extra VIPs and a reserved IP.
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "myService" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Vms("myService"), new AddVmRequest { Name = "myVM1", Address = vm });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.VirtualIps("myService"), new AddVirtualIpRequest { Name = "Vip2" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.VirtualIps("myService"), new AddVirtualIpRequest { Name = "Vip3" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.ReservedIps, new CreateReservedIpRequest { Name = "myReservedIP", Location = "local" });

        // 10:00 Vip2 gets an address and carries traffic; 11:15 the reserved IP goes; 12:30 Vip2 loses its address.
        MoveTo(clock, At(10));
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), Web);
        var vip2 = (await f.GetAsync<List<Model.Services.VirtualIp>>(ApiRoutes.VirtualIps("myService"))).Single(v => v.Name == "Vip2").Address!;
        var first = await ExchangeAsync(vip2, 50);
        MoveTo(clock, At(11, 15));
        await f.SendAsync(HttpMethod.Delete, ApiRoutes.ReservedIp("myReservedIP"));
        // Right before the endpoint goes: these bytes are only counted when its listener retires.
        MoveTo(clock, At(12, 30));
        var last = await ExchangeAsync(vip2, 20);
        await f.SendAsync(HttpMethod.Delete, ApiRoutes.Endpoint("myService", "myVM1", "myEndpoint"));

        // 13:00 Vip2 gets an address again, and carries more.
        MoveTo(clock, At(13));
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), Web);
        vip2 = (await f.GetAsync<List<Model.Services.VirtualIp>>(ApiRoutes.VirtualIps("myService"))).Single(v => v.Name == "Vip2").Address!;
        var second = await ExchangeAsync(vip2, 30);
        MoveTo(clock, At(15));

        var report = await f.GetAsync<UsageReport>(ApiRoutes.ServiceUsage("myService"));
        Assert.Equal((new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero), At(15)), (report.From, report.To));
        var vip2Usage = report.VirtualIps.Single(v => v.Name == "Vip2");
        Assert.Equal(2.5 + 2.0, vip2Usage.Hours);
        Assert.Equal(0, report.VirtualIps.Single(v => v.Name == "Vip3").Hours);
        Assert.Equal(4.5, report.VipHours);
        Assert.Equal([(At(10), At(12, 30), false), (At(13), At(15), true)], vip2Usage.Intervals.Select(i => (i.Start, i.End, i.Open)));

        // Bytes of the first endpoint survive its removal; the default VIP carried none.
        var sent = first.Sent + last.Sent + second.Sent;
        var received = first.Received + last.Received + second.Received;
        Assert.True(vip2Usage.BytesIn >= sent, $"Vip2 BytesIn {vip2Usage.BytesIn} < {sent} sent");
        Assert.True(vip2Usage.BytesOut >= received, $"Vip2 BytesOut {vip2Usage.BytesOut} < {received} received");
        Assert.Equal((0, 0), report.VirtualIps.Where(v => v.IsDnsProgrammed).Select(v => (v.BytesIn, v.BytesOut)).Single());

        var all = await f.GetAsync<UsageReport>(ApiRoutes.Usage);
        Assert.Equal(2.25, all.ReservedIps.Single(r => r.Name == "myReservedIP").Hours);
        var clipped = await f.GetAsync<UsageReport>(ApiRoutes.ServiceUsage("myService") + "?from=2030-01-15T11:00:00Z&to=2030-01-15T14:00:00Z");
        Assert.Equal(1.5 + 1.0, clipped.VipHours);
        var clippedAll = await f.GetAsync<UsageReport>(ApiRoutes.Usage + UsageRange.Query(At(11), At(14)));
        Assert.Equal(0.25, clippedAll.ReservedIps.Single().Hours);

        // The dashboard's service page shows the same total.
        var page = await f.Http.GetStringAsync("/ui/services/myService");
        Assert.Contains("<td id=\"usage-vip-hours\"><strong>4.50</strong>", page, StringComparison.Ordinal);

        // A restart loses nothing that was reported: intervals are in the commits, bytes were sampled.
        await f.RestartAsync();
        var after = await f.GetAsync<UsageReport>(ApiRoutes.ServiceUsage("myService"));
        var vip2After = after.VirtualIps.Single(v => v.Name == "Vip2");
        Assert.Equal(4.5, vip2After.Hours);
        Assert.Equal((vip2Usage.BytesIn, vip2Usage.BytesOut), (vip2After.BytesIn, vip2After.BytesOut));
    }

    [Fact]
    public async Task A_bad_range_is_a_bad_request_and_an_unknown_service_is_not_found()
    {
        var (pool, _) = Addresses();
        var clock = new FakeTimeProvider(At(9));
        await using var f = await ServerFixture.StartAsync(configure: o => o with { Time = clock, VipPools = [pool] });

        var bad = await f.ExpectErrorAsync(HttpMethod.Get, ApiRoutes.Usage + "?from=yesterday");
        Assert.Equal((HttpStatusCode.BadRequest, "BadRequest"), (bad.Status, bad.Code));
        Assert.StartsWith("'yesterday' is not a time for from. Use ISO 8601", bad.Text, StringComparison.Ordinal);

        var empty = await f.ExpectErrorAsync(HttpMethod.Get, ApiRoutes.Usage + "?from=2030-01-15T10:00:00Z&to=2030-01-15T10:00:00Z");
        Assert.Equal(HttpStatusCode.BadRequest, empty.Status);

        var unknown = await f.ExpectErrorAsync(HttpMethod.Get, ApiRoutes.ServiceUsage("nope"));
        Assert.Equal((HttpStatusCode.NotFound, "ResourceNotFound"), (unknown.Status, unknown.Code));
    }
}
