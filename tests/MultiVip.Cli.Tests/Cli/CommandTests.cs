using System.Text.Json;
using MultiVip.Cli.Tests.Support;
using MultiVip.Model.Operations;
using MultiVip.Model.ReservedIps;
using MultiVip.Model.Services;

namespace MultiVip.Cli.Tests.Cli;

/// <summary>The CLI end to end against a scripted HTTP server: the requests it sends and what it prints.</summary>
public sealed class CommandTests
{
    private static string Lines(params string[] lines) => string.Concat(lines.Select(l => l + Environment.NewLine));

    private static FakeResponse Accepted(OperationStatus status = OperationStatus.Succeeded, string description = "Add-AzureVirtualIP") =>
        FakeResponse.Json(202, Samples.Operation(status, description: description));

    [Fact]
    public async Task Vip_add_prints_the_operation_table()
    {
        await using var server = new FakeServer(_ => Accepted());

        var run = await TestCli.RunAsync(TestCli.Against(server.Url, "vip", "add", "--service", "myService", "--name", "Vip3"));

        Assert.Equal(0, run.ExitCode);
        Assert.Equal(
            Lines(
                "OperationDescription OperationId                          OperationStatus",
                "-------------------- -----------                          ---------------",
                "Add-AzureVirtualIP   4bd7b638-d2e7-216f-ba38-5221233d70ce Succeeded"),
            run.Out);
        var request = Assert.Single(server.Requests);
        Assert.Equal("Bearer t0k", request.Headers["Authorization"]);
        Assert.Equal("/api/services/myService/virtual-ips", request.PathAndQuery);
    }

    [Fact]
    public async Task Vip_list_prints_the_seed_list_and_json_prints_the_objects()
    {
        await using var server = new FakeServer(_ => FakeResponse.Json(200, Samples.SeedVips));

        var text = await TestCli.RunAsync(TestCli.Against(server.Url, "vip", "list", "--service", "myService"));
        var json = await TestCli.RunAsync(TestCli.Against(server.Url, "vip", "list", "--service", "myService", "--output", "json"));

        Assert.StartsWith(Lines("Address         : 191.238.74.148", "IsDnsProgrammed : True", "Name            : Vip1"), text.Out);
        var array = JsonDocument.Parse(json.Out).RootElement;
        Assert.Equal(3, array.GetArrayLength());
        Assert.Equal("Vip2", array[1].GetProperty("name").GetString());
        Assert.Contains(Environment.NewLine + "  ", json.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Failed_operation_exits_1_with_code_message_and_operation_id()
    {
        await using var server = new FakeServer(r => r.Method == "POST"
            ? Accepted(OperationStatus.InProgress)
            : FakeResponse.Json(200, Samples.Failed("ConflictError", "The virtual IP 'Vip3' already exists in the deployment of cloud service 'myService'.")));

        var run = await TestCli.RunAsync(TestCli.Against(server.Url, "vip", "add", "--service", "myService", "--name", "Vip3"));

        Assert.Equal(1, run.ExitCode);
        Assert.Equal(
            "multivip: ConflictError: The virtual IP 'Vip3' already exists in the deployment of cloud service 'myService'. (operation 4bd7b638-d2e7-216f-ba38-5221233d70ce)" + Environment.NewLine,
            run.Error);
        Assert.Equal(string.Empty, run.Out);
    }

    [Fact]
    public async Task Rejected_request_exits_1_with_the_server_message()
    {
        await using var server = new FakeServer(_ => FakeResponse.Error(404, "ResourceNotFound", "The cloud service 'nope' does not exist."));

        var run = await TestCli.RunAsync(TestCli.Against(server.Url, "deployment", "show", "--service", "nope"));

        Assert.Equal(1, run.ExitCode);
        Assert.Equal("multivip: ResourceNotFound: The cloud service 'nope' does not exist." + Environment.NewLine, run.Error);
    }

    [Fact]
    public async Task Vip_remove_asks_and_a_yes_removes()
    {
        await using var server = new FakeServer(_ => Accepted(description: "Remove-AzureVirtualIP"));

        var run = await TestCli.RunAsync(TestCli.Against(server.Url, "vip", "remove", "--service", "myService", "--name", "Vip3"), inputIsTerminal: true, stdin: "y\n");

        Assert.Equal(0, run.ExitCode);
        Assert.Equal("This cmdlet will remove the virtual IP from the specified service. Do you want to continue? [y/N] ", run.Error);
        Assert.Equal("DELETE", Assert.Single(server.Requests).Method);
    }

    [Fact]
    public async Task Vip_remove_declined_sends_nothing()
    {
        await using var server = new FakeServer(_ => Accepted());

        var run = await TestCli.RunAsync(TestCli.Against(server.Url, "vip", "remove", "--service", "myService", "--name", "Vip3"), inputIsTerminal: true, stdin: "\n");

        Assert.Equal(1, run.ExitCode);
        Assert.Empty(server.Requests);
    }

    [Fact]
    public async Task Endpoint_add_sends_every_given_option()
    {
        await using var server = new FakeServer(_ => Accepted(description: "Add-AzureEndpoint"));

        var run = await TestCli.RunAsync(TestCli.Against(
            server.Url,
            "endpoint", "add", "--service", "myService", "--vm", "myVM1", "--name", "myEndpoint", "--protocol", "tcp",
            "--local-port", "8181", "--public-port", "81", "--vip", "Vip2", "--lb-set", "myLBSet", "--probe-protocol", "http",
            "--probe-path", "/health", "--probe-interval", "5", "--acl", "100:permit:10.0.0.0/8:office", "--acl", "200:deny:0.0.0.0/0",
            "--idle-timeout", "10", "--distribution", "sourceIP", "--dsr", "--proxy-protocol", "v2"));

        Assert.Equal(0, run.ExitCode);
        var request = Assert.Single(server.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/api/services/myService/vms/myVM1/endpoints", request.PathAndQuery);
        var body = JsonDocument.Parse(request.Body).RootElement;
        Assert.Equal("myEndpoint", body.GetProperty("name").GetString());
        Assert.Equal(8181, body.GetProperty("localPort").GetInt32());
        Assert.Equal(81, body.GetProperty("publicPort").GetInt32());
        Assert.Equal("Vip2", body.GetProperty("virtualIpName").GetString());
        Assert.Equal("myLBSet", body.GetProperty("loadBalancedSetName").GetString());
        Assert.Equal("http", body.GetProperty("probe").GetProperty("protocol").GetString());
        Assert.Equal("/health", body.GetProperty("probe").GetProperty("path").GetString());
        Assert.Equal(5, body.GetProperty("probe").GetProperty("intervalInSeconds").GetInt32());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("probe").GetProperty("timeoutInSeconds").ValueKind);
        Assert.Equal(2, body.GetProperty("acl").GetArrayLength());
        Assert.Equal("office", body.GetProperty("acl")[0].GetProperty("description").GetString());
        Assert.Equal("deny", body.GetProperty("acl")[1].GetProperty("action").GetString());
        Assert.Equal(10, body.GetProperty("idleTimeoutInMinutes").GetInt32());
        Assert.Equal("sourceIP", body.GetProperty("distribution").GetString());
        Assert.True(body.GetProperty("directServerReturn").GetBoolean());
        Assert.Equal("v2", body.GetProperty("proxyProtocol").GetString());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("defaultProbe").ValueKind);
    }

    [Fact]
    public async Task Endpoint_set_reads_the_vm_and_writes_back_with_if_match()
    {
        await using var server = new FakeServer(r => r.Method == "GET"
            ? FakeResponse.Json(200, Samples.Vm(version: 7), new Dictionary<string, string> { ["ETag"] = "\"7\"" })
            : Accepted(description: "Set-AzureEndpoint"));

        var run = await TestCli.RunAsync(TestCli.Against(
            server.Url, "endpoint", "set", "--service", "myService", "--vm", "myVM1", "--name", "MYENDPOINT", "--local-port", "9191", "--idle-timeout", "15"));

        Assert.Equal(0, run.ExitCode);
        var requests = server.Requests.ToArray();
        Assert.Equal(2, requests.Length);
        Assert.Equal("/api/services/myService/vms/myVM1", requests[0].PathAndQuery);
        var put = requests[1];
        Assert.Equal("PUT", put.Method);
        Assert.Equal("/api/services/myService/vms/myVM1/endpoints/myEndpoint", put.PathAndQuery);
        Assert.Equal("\"7\"", put.Headers["If-Match"]);
        var body = JsonDocument.Parse(put.Body).RootElement;

        // Changed: local port and idle timeout; the default probe follows the local port.
        Assert.Equal(9191, body.GetProperty("localPort").GetInt32());
        Assert.Equal(15, body.GetProperty("idleTimeoutInMinutes").GetInt32());
        Assert.Equal(9191, body.GetProperty("probe").GetProperty("port").GetInt32());

        // Kept: everything else.
        Assert.Equal(81, body.GetProperty("publicPort").GetInt32());
        Assert.Equal("Vip2", body.GetProperty("virtualIpName").GetString());
        Assert.Equal("myLBSet", body.GetProperty("loadBalancedSetName").GetString());
        Assert.Equal("10.0.0.0/8", body.GetProperty("acl")[0].GetProperty("remoteSubnet").GetString());
        Assert.Equal("tcp", body.GetProperty("protocol").GetString());
    }

    [Fact]
    public async Task Endpoint_set_of_a_missing_endpoint_is_not_found()
    {
        await using var server = new FakeServer(_ => FakeResponse.Json(200, Samples.Vm(), new Dictionary<string, string> { ["ETag"] = "\"7\"" }));

        var run = await TestCli.RunAsync(TestCli.Against(server.Url, "endpoint", "set", "--service", "myService", "--vm", "myVM1", "--name", "nope", "--public-port", "82"));

        Assert.Equal(1, run.ExitCode);
        Assert.Equal("multivip: ResourceNotFound: An endpoint named 'nope' cannot be found in the configuration of this VM." + Environment.NewLine, run.Error);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task Stale_endpoint_set_reports_precondition_failed()
    {
        await using var server = new FakeServer(r => r.Method == "GET"
            ? FakeResponse.Json(200, Samples.Vm(), new Dictionary<string, string> { ["ETag"] = "\"7\"" })
            : FakeResponse.Error(412, "PreconditionFailed", "VM 'myVM1' has changed since you read it."));

        var run = await TestCli.RunAsync(TestCli.Against(server.Url, "endpoint", "set", "--service", "myService", "--vm", "myVM1", "--name", "myEndpoint", "--dsr"));

        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith("multivip: PreconditionFailed: ", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Lbset_set_without_probe_options_keeps_the_probe()
    {
        await using var server = new FakeServer(_ => Accepted(description: "Set-AzureLoadBalancedEndpoint"));

        var run = await TestCli.RunAsync(TestCli.Against(server.Url, "lbset", "set", "--service", "myService", "--name", "myLBSet", "--vip", "Vip1"));

        Assert.Equal(0, run.ExitCode);
        var request = Assert.Single(server.Requests);
        Assert.Equal("PATCH", request.Method);
        Assert.Equal("/api/services/myService/load-balanced-sets/myLBSet", request.PathAndQuery);
        var body = JsonDocument.Parse(request.Body).RootElement;
        Assert.Equal("Vip1", body.GetProperty("virtualIpName").GetString());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("probe").ValueKind);
        Assert.Equal(JsonValueKind.Null, body.GetProperty("publicPort").ValueKind);
        Assert.Equal(JsonValueKind.Null, body.GetProperty("directServerReturn").ValueKind);
    }

    [Fact]
    public async Task Lbset_set_with_a_probe_option_replaces_the_probe()
    {
        await using var server = new FakeServer(_ => Accepted(description: "Set-AzureLoadBalancedEndpoint"));

        var run = await TestCli.RunAsync(TestCli.Against(
            server.Url, "lbset", "set", "--service", "myService", "--name", "myLBSet", "--probe-protocol", "http", "--probe-path", "/"));

        Assert.Equal(0, run.ExitCode);
        var probe = JsonDocument.Parse(Assert.Single(server.Requests).Body).RootElement.GetProperty("probe");
        Assert.Equal("http", probe.GetProperty("protocol").GetString());
        Assert.Equal("/", probe.GetProperty("path").GetString());
    }

    [Fact]
    public async Task Connection_comes_from_the_environment()
    {
        await using var server = new FakeServer(_ => FakeResponse.Json(200, Array.Empty<object>()));

        var run = await TestCli.RunAsync(
            ["service", "list", "--data-dir", Path.Combine(Path.GetTempPath(), "multivip-cli-tests-none")],
            env: new Dictionary<string, string> { ["MULTIVIP_API"] = server.Url.ToString(), ["MULTIVIP_TOKEN"] = "from-env" });

        Assert.Equal(0, run.ExitCode);
        Assert.Equal("Bearer from-env", Assert.Single(server.Requests).Headers["Authorization"]);
        Assert.Equal(Lines("ServiceName Label Location DeploymentName VMs", "----------- ----- -------- -------------- ---"), run.Out);
    }

    [Fact]
    public async Task No_wait_prints_the_operation_in_progress()
    {
        await using var server = new FakeServer(_ => Accepted(OperationStatus.InProgress));

        var run = await TestCli.RunAsync(TestCli.Against(server.Url, "vip", "add", "--service", "myService", "--name", "Vip3", "--no-wait"));

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("InProgress", run.Out, StringComparison.Ordinal);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task Reserved_ip_list_is_a_table_with_the_cmdlet_columns()
    {
        ReservedIp[] ips =
        [
            new() { Name = "myIp", Address = "127.100.0.9", Location = "local", ServiceName = "myService", DeploymentName = "myService", VirtualIpName = "Vip1" },
            new() { Name = "spare", Address = "127.100.0.10", Label = "kept" },
        ];
        await using var server = new FakeServer(_ => FakeResponse.Json(200, ips));

        var run = await TestCli.RunAsync(TestCli.Against(server.Url, "reserved-ip", "list"));

        Assert.Equal(0, run.ExitCode);
        Assert.Equal(
            Lines(
                "ReservedIPName Address      Label Location State   InUse ServiceName DeploymentName VirtualIPName",
                "-------------- -------      ----- -------- -----   ----- ----------- -------------- -------------",
                "myIp           127.100.0.9        local    Created True  myService   myService      Vip1",
                "spare          127.100.0.10 kept  local    Created False"),
            run.Out);
    }

    [Fact]
    public async Task Unauthorized_says_where_the_token_comes_from()
    {
        await using var server = new FakeServer(_ => FakeResponse.Error(401, "Unauthorized", "A valid bearer token is required."));

        var run = await TestCli.RunAsync(TestCli.Against(server.Url, "operation", "list"));

        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith("multivip: Unauthorized: A valid bearer token is required. Check the token: --token, MULTIVIP_TOKEN", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Deployment_show_prints_the_deployment_with_its_virtual_ips()
    {
        await using var server = new FakeServer(_ => FakeResponse.Json(200, Samples.Deployment(), new Dictionary<string, string> { ["ETag"] = "\"12\"" }));

        var run = await TestCli.RunAsync(TestCli.Against(server.Url, "deployment", "show", "--service", "myService"));

        Assert.Equal(0, run.ExitCode);
        Assert.Contains(Lines("Address         : 191.238.74.13", "IsDnsProgrammed :", "Name            : Vip2"), run.Out, StringComparison.Ordinal);
        Assert.Equal("/api/services/myService/deployment", Assert.Single(server.Requests).PathAndQuery);
    }

    [Fact]
    public async Task Operation_still_running_after_timeout_exits_1_with_its_id()
    {
        await using var server = new FakeServer(_ => Accepted(OperationStatus.InProgress));

        var run = await TestCli.RunAsync(TestCli.Against(server.Url, "vip", "add", "--service", "myService", "--name", "Vip3", "--timeout", "1"));

        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith("multivip: OperationTimeout: ", run.Error, StringComparison.Ordinal);
        Assert.Contains("(operation 4bd7b638-d2e7-216f-ba38-5221233d70ce)", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Endpoint_set_with_an_empty_lb_set_leaves_the_set_and_drops_the_probe()
    {
        await using var server = new FakeServer(r => r.Method == "GET"
            ? FakeResponse.Json(200, Samples.Vm(), new Dictionary<string, string> { ["ETag"] = "\"7\"" })
            : Accepted(description: "Set-AzureEndpoint"));

        var run = await TestCli.RunAsync(TestCli.Against(server.Url, "endpoint", "set", "--service", "myService", "--vm", "myVM1", "--name", "myEndpoint", "--lb-set", ""));

        Assert.Equal(0, run.ExitCode);
        var body = JsonDocument.Parse(server.Requests.Last().Body).RootElement;
        Assert.Equal(JsonValueKind.Null, body.GetProperty("loadBalancedSetName").ValueKind);
        Assert.Equal(JsonValueKind.Null, body.GetProperty("probe").ValueKind);
    }

    [Fact]
    public async Task Endpoint_set_switching_the_probe_to_tcp_drops_the_http_path()
    {
        var vm = Samples.Vm();
        vm = vm with { Endpoints = [vm.Endpoints[0] with { Probe = new LoadBalancerProbe { Protocol = ProbeProtocol.Http, Port = 8181, Path = "/health" } }] };
        await using var server = new FakeServer(r => r.Method == "GET"
            ? FakeResponse.Json(200, vm, new Dictionary<string, string> { ["ETag"] = "\"7\"" })
            : Accepted(description: "Set-AzureEndpoint"));

        var run = await TestCli.RunAsync(TestCli.Against(server.Url, "endpoint", "set", "--service", "myService", "--vm", "myVM1", "--name", "myEndpoint", "--probe-protocol", "tcp"));

        Assert.Equal(0, run.ExitCode);
        var probe = JsonDocument.Parse(server.Requests.Last().Body).RootElement.GetProperty("probe");
        Assert.Equal("tcp", probe.GetProperty("protocol").GetString());
        Assert.Equal(JsonValueKind.Null, probe.GetProperty("path").ValueKind);
        Assert.Equal(8181, probe.GetProperty("port").GetInt32());
    }
}
