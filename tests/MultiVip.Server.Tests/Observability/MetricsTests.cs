using System.Globalization;
using System.Net;
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
        Assert.True(Value(text, "multivip_probe_latency_seconds", lbVm1) is > 0 and < 5);
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
