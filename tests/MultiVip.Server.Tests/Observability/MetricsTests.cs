using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using MultiVip.Contracts;

namespace MultiVip.Server.Tests.Observability;

/// <summary>/metrics of a real server after real traffic through a VIP.</summary>
public sealed partial class MetricsTests
{
    [Fact]
    public async Task Metrics_need_the_bearer_token()
    {
        await using var f = await ServerFixture.StartAsync();
        using var anonymous = new HttpClient { BaseAddress = f.Server.Api };
        var response = await anonymous.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await f.Http.GetAsync("/metrics")).StatusCode);
    }

    [Fact]
    public async Task Metrics_count_connections_bytes_probes_operations_and_pool_usage_after_real_traffic()
    {
        var octet = Random.Shared.Next(1, 250);
        var vm1 = $"127.43.{octet}.11";
        var vm2 = $"127.43.{octet}.12";
        await using var web = EchoBackend.Start(vm1, 8080, "web");
        await using var lb1 = EchoBackend.Start(vm1, 8181, "lb1");
        await using var f = await ServerFixture.StartAsync();
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "myService" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Vms("myService"), new AddVmRequest { Name = "myVM1", Address = vm1 });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Vms("myService"), new AddVmRequest { Name = "myVM2", Address = vm2 });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.VirtualIps("myService"), new AddVirtualIpRequest { Name = "Vip2" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), new EndpointRequest
        {
            Name = "web", Protocol = "tcp", LocalPort = 8080, PublicPort = 80, VirtualIpName = "Vip2",
        });
        // myVM2 has no backend listening: its probe fails and connects to it fail.
        foreach (var vm in new[] { "myVM1", "myVM2" })
        {
            await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", vm), new EndpointRequest
            {
                Name = "lb", LoadBalancedSetName = "myLBSet", Protocol = "tcp", LocalPort = 8181, PublicPort = 81, VirtualIpName = "Vip2", DefaultProbe = true,
            });
        }

        var vip2 = (await f.GetAsync<List<Model.Services.VirtualIp>>(ApiRoutes.VirtualIps("myService"))).Single(v => v.Name == "Vip2").Address!;
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("web", await EchoBackend.HelloAsync(vip2, 80));
        }

        var text = await f.Http.GetStringAsync("/metrics");
        const string web80 = "service=\"myService\",vip=\"Vip2\",protocol=\"tcp\",port=\"80\",vm=\"myVM1\",endpoint=\"web\"";
        Assert.Equal(3, Value(text, "multivip_backend_connections_total", web80));
        // "web\n" three times from the backend; nothing sent by the client.
        Assert.Equal(12, Value(text, "multivip_backend_bytes_out_total", web80));
        Assert.Equal(0, Value(text, "multivip_backend_bytes_in_total", web80));
        Assert.Equal(1, Value(text, "multivip_backend_health", web80 + ",state=\"NotProbed\""));
        Assert.Equal(3, Value(text, "multivip_listener_connections_total", "service=\"myService\",vip=\"Vip2\",protocol=\"tcp\",port=\"80\",lb_set=\"\""));

        // Probes of the set ran (first attempt at once): latency and attempts are there.
        const string lbVm1 = "service=\"myService\",vip=\"Vip2\",protocol=\"tcp\",port=\"81\",vm=\"myVM1\",endpoint=\"lb\"";
        const string lbVm2 = "service=\"myService\",vip=\"Vip2\",protocol=\"tcp\",port=\"81\",vm=\"myVM2\",endpoint=\"lb\"";
        await WaitUntilAsync(async () =>
        {
            text = await f.Http.GetStringAsync("/metrics");
            return Value(text, "multivip_probe_attempts_total", lbVm1) >= 1 && Value(text, "multivip_probe_failures_total", lbVm2) >= 1;
        });
        // A successful attempt cannot outlast its own limit, min(timeout, interval) = 15 s; how fast
        // probes are on a loaded machine is not this test's business.
        Assert.True(Value(text, "multivip_probe_latency_seconds", lbVm1) is > 0 and <= 15);
        Assert.Equal(1, Value(text, "multivip_backend_health", lbVm1 + ",state=\"Healthy\""));

        // Connect failures and retries: clients whose flow prefers myVM2 are retried on myVM1.
        for (var i = 0; i < 12; i++)
        {
            Assert.Equal("lb1", await EchoBackend.HelloAsync(vip2, 81));
        }

        text = await f.Http.GetStringAsync("/metrics");
        Assert.Equal(12, Value(text, "multivip_backend_connections_total", lbVm1));
        var failures = Value(text, "multivip_backend_connect_failures_total", lbVm2);
        // Unless a slow run let myVM2's second probe failure (15 s) take it out of rotation first.
        Assert.True(failures >= 1 || Value(text, "multivip_backend_in_rotation", lbVm2) == 0, "some flows should have tried myVM2 first");
        Assert.Equal(failures, Value(text, "multivip_listener_connect_retries_total", "service=\"myService\",vip=\"Vip2\",protocol=\"tcp\",port=\"81\",lb_set=\"myLBSet\""));

        // Operation latency: every acknowledged change was observed.
        Assert.True(Value(text, "multivip_operation_duration_seconds_count", "operation=\"Add-AzureEndpoint\",status=\"Succeeded\"") >= 3);
        Assert.Equal(1, Value(text, "multivip_virtual_ip_info", $"service=\"myService\",vip=\"Vip2\",address=\"{vip2}\",dns_programmed=\"false\",reserved_ip=\"\""));
        Assert.Equal(254, Value(text, "multivip_vip_pool_addresses", null));
        Assert.Equal(2, Value(text, "multivip_vip_pool_addresses_in_use", null));
        Assert.Contains("# TYPE multivip_udp_sessions_active gauge", text);

        // A removed endpoint's series disappear instead of staying frozen.
        await f.SendAsync(HttpMethod.Delete, ApiRoutes.Endpoint("myService", "myVM1", "web"));
        text = await f.Http.GetStringAsync("/metrics");
        Assert.Null(Value(text, "multivip_backend_connections_total", web80));
    }

    [Fact]
    public async Task Udp_listener_counters_are_exported_after_real_datagrams()
    {
        // Addresses from this test's share of loopback, 127.73.0.0/16.
        var octet = Random.Shared.Next(1, 250);
        using var backend = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        backend.Bind(new IPEndPoint(IPAddress.Parse($"127.73.{octet}.11"), 0));
        using var stopEcho = new CancellationTokenSource();
        var echo = EchoDatagramsAsync(backend, stopEcho.Token);
        await using var f = await ServerFixture.StartAsync();
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "myService" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Vms("myService"), new AddVmRequest { Name = "myVM1", Address = $"127.73.{octet}.11" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), new EndpointRequest
        {
            Name = "dns", Protocol = "udp", LocalPort = ((IPEndPoint)backend.LocalEndPoint!).Port, PublicPort = 5300,
            Acl = [new AclRuleRequest { Order = 100, Action = "permit", RemoteSubnet = "127.0.0.1/32" }, new AclRuleRequest { Order = 200, Action = "deny", RemoteSubnet = "0.0.0.0/0" }],
        });
        var vip = new IPEndPoint(IPAddress.Parse((await f.GetAsync<List<Model.Services.VirtualIp>>(ApiRoutes.VirtualIps("myService"))).Single().Address!), 5300);

        // Two permitted clients (two sessions, four answered datagrams) and one the ACL denies.
        using var first = Client("127.0.0.1");
        using var second = Client("127.0.0.1");
        using var denied = Client($"127.73.{octet}.12");
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal($"pong:first{i}", await AskAsync(first, vip, $"first{i}"));
        }

        Assert.Equal("pong:second", await AskAsync(second, vip, "second"));
        await denied.SendToAsync(Encoding.ASCII.GetBytes("let me in"), SocketFlags.None, vip);

        var labels = "service=\"myService\",vip=\"Vip1\",port=\"5300\"";
        var text = "";
        await WaitUntilAsync(async () =>
        {
            text = await f.Http.GetStringAsync("/metrics");
            return Value(text, "multivip_udp_datagrams_in_total", labels) == 5 && Value(text, "multivip_udp_datagrams_out_total", labels) == 4;
        });
        Assert.Equal(2, Value(text, "multivip_udp_sessions_active", labels));
        Assert.Equal(2, Value(text, "multivip_udp_sessions_created_total", labels));
        Assert.Equal(1, Value(text, "multivip_udp_datagrams_dropped_total", labels + ",reason=\"acl\""));
        Assert.Equal(0, Value(text, "multivip_udp_datagrams_dropped_total", labels + ",reason=\"no_healthy_backend\""));
        Assert.Equal(0, Value(text, "multivip_udp_datagrams_dropped_total", labels + ",reason=\"send_failed\""));
        foreach (var reason in new[] { "idle_timeout", "evicted", "moved" })
        {
            Assert.Equal(0, Value(text, "multivip_udp_sessions_closed_total", labels + $",reason=\"{reason}\""));
        }

        // A removed endpoint takes its UDP series with it.
        await f.SendAsync(HttpMethod.Delete, ApiRoutes.Endpoint("myService", "myVM1", "dns"));
        text = await f.Http.GetStringAsync("/metrics");
        Assert.Null(Value(text, "multivip_udp_datagrams_in_total", labels));
        await stopEcho.CancelAsync();
        await echo;
    }

    [Fact]
    public async Task A_connection_reset_by_the_drain_timeout_of_a_removed_backend_is_counted()
    {
        var octet = Random.Shared.Next(1, 250);
        var vm1 = $"127.73.{octet}.21";
        var vm2 = $"127.73.{octet}.22";
        await using var one = EchoBackend.Start(vm1, 8080, "myVM1");
        await using var two = EchoBackend.Start(vm2, 8080, "myVM2");
        await using var f = await ServerFixture.StartAsync(configure: o => o with { DrainTimeout = TimeSpan.Zero });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "myService" });
        foreach (var (vm, address) in new[] { ("myVM1", vm1), ("myVM2", vm2) })
        {
            await f.SendAsync(HttpMethod.Post, ApiRoutes.Vms("myService"), new AddVmRequest { Name = vm, Address = address });
            await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", vm), new EndpointRequest
            {
                Name = "lb", LoadBalancedSetName = "mySet", Protocol = "tcp", LocalPort = 8080, PublicPort = 80,
            });
        }

        var vip = (await f.GetAsync<List<Model.Services.VirtualIp>>(ApiRoutes.VirtualIps("myService"))).Single().Address!;
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Parse(vip), 80);
        using var reader = new StreamReader(client.GetStream(), Encoding.ASCII);
        var servedBy = await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10));

        // Its member leaves the set; with a drain timeout of 0 the open connection is reset at once.
        await f.SendAsync(HttpMethod.Delete, ApiRoutes.Endpoint("myService", servedBy!, "lb"));
        await Assert.ThrowsAnyAsync<IOException>(async () =>
        {
            while (await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10)) is not null)
            {
            }

            throw new InvalidOperationException("closed with a FIN, not a reset");
        });

        const string listener = "service=\"myService\",vip=\"Vip1\",protocol=\"tcp\",port=\"80\",lb_set=\"mySet\"";
        var text = "";
        await WaitUntilAsync(async () =>
        {
            text = await f.Http.GetStringAsync("/metrics");
            return Value(text, "multivip_listener_connections_closed_total", listener + ",reason=\"drain_timeout\"") == 1;
        });
        Assert.Equal(0, Value(text, "multivip_listener_connections_closed_total", listener + ",reason=\"idle_timeout\""));
    }

    private static Socket Client(string address)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Parse(address), 0));
        return socket;
    }

    private static async Task<string> AskAsync(Socket client, IPEndPoint vip, string text)
    {
        await client.SendToAsync(Encoding.ASCII.GetBytes(text), SocketFlags.None, vip);
        var buffer = new byte[1024];
        var reply = await client.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0)).WaitAsync(TimeSpan.FromSeconds(10));
        return Encoding.ASCII.GetString(buffer, 0, reply.ReceivedBytes);
    }

    /// <summary>Answers every datagram with "pong:" and its text, until stopped.</summary>
    private static async Task EchoDatagramsAsync(Socket backend, CancellationToken stop)
    {
        var buffer = new byte[1024];
        try
        {
            while (true)
            {
                var from = await backend.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), stop);
                await backend.SendToAsync(Encoding.ASCII.GetBytes("pong:" + Encoding.ASCII.GetString(buffer, 0, from.ReceivedBytes)), SocketFlags.None, from.RemoteEndPoint, stop);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static double? Value(string text, string name, string? labels)
    {
        var pattern = labels is null ? $"^{Regex.Escape(name)} (\\S+)$" : $"^{Regex.Escape(name)}\\{{{Regex.Escape(labels)}\\}} (\\S+)$";
        var match = Regex.Match(text, pattern, RegexOptions.Multiline);
        return match.Success ? double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : null;
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in 15 s");
            await Task.Delay(100);
        }
    }
}
