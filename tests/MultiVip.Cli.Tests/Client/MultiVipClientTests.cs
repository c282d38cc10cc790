using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using MultiVip.Cli.Tests.Support;
using MultiVip.Client;
using MultiVip.Contracts;
using MultiVip.Model.Operations;
using MultiVip.Model.Services;

namespace MultiVip.Cli.Tests.Client;

public sealed class MultiVipClientTests
{
    private static readonly MultiVipClientOptions Fast = new()
    {
        InitialPollDelay = TimeSpan.FromMilliseconds(5),
        MaxPollDelay = TimeSpan.FromMilliseconds(20),
        OperationTimeout = TimeSpan.FromSeconds(10),
    };

    private static MultiVipClient Connect(FakeServer server, MultiVipClientOptions? options = null) =>
        new(new ClientConnection(server.Url, "s3cret"), options ?? Fast);

    [Fact]
    public async Task Sends_the_bearer_token_and_reads_the_etag()
    {
        await using var server = new FakeServer(_ => FakeResponse.Json(200, Samples.Vm(), new Dictionary<string, string> { ["ETag"] = "\"7\"" }));
        using var client = Connect(server);

        var vm = await client.GetVmAsync("my service", "myVM1");

        Assert.Equal("\"7\"", vm.ETag);
        Assert.Equal("myVM1", vm.Value.Name);
        Assert.Equal(8181, vm.Value.Endpoints[0].LocalPort);
        var request = Assert.Single(server.Requests);
        Assert.Equal("Bearer s3cret", request.Headers["Authorization"]);
        Assert.Equal("GET", request.Method);
        Assert.Equal("/api/services/my%20service/vms/myVM1", request.PathAndQuery);
    }

    [Fact]
    public async Task Mutation_polls_the_location_until_the_operation_finished()
    {
        var id = Guid.NewGuid();
        var polls = 0;
        await using var server = new FakeServer(r => r.Method switch
        {
            "POST" => FakeResponse.Json(202, Samples.Operation(OperationStatus.InProgress, id), new Dictionary<string, string> { ["Location"] = $"/api/operations/{id}" }),
            _ => FakeResponse.Json(200, Samples.Operation(++polls < 3 ? OperationStatus.InProgress : OperationStatus.Succeeded, id)),
        });
        using var client = Connect(server);

        var operation = await client.AddVirtualIpAsync("myService", new AddVirtualIpRequest { Name = "Vip3" });

        Assert.Equal(OperationStatus.Succeeded, operation.OperationStatus);
        Assert.Equal(id, operation.OperationId);
        var requests = server.Requests.ToArray();
        Assert.Equal(4, requests.Length);
        Assert.Equal("POST", requests[0].Method);
        Assert.Equal("/api/services/myService/virtual-ips", requests[0].PathAndQuery);
        Assert.Equal("Vip3", JsonDocument.Parse(requests[0].Body).RootElement.GetProperty("name").GetString());
        Assert.All(requests.Skip(1), r => Assert.Equal($"/api/operations/{id}", r.PathAndQuery));
        Assert.All(requests, r => Assert.Equal("Bearer s3cret", r.Headers["Authorization"]));
    }

    [Fact]
    public async Task No_wait_returns_the_accepted_operation()
    {
        await using var server = new FakeServer(_ => FakeResponse.Json(202, Samples.Operation(OperationStatus.InProgress)));
        using var client = Connect(server);

        var operation = await client.RemoveVmAsync("myService", "myVM1", waitForCompletion: false);

        Assert.Equal(OperationStatus.InProgress, operation.OperationStatus);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task Failed_operation_throws_with_its_code_message_and_id()
    {
        var id = Guid.NewGuid();
        await using var server = new FakeServer(r => r.Method == "POST"
            ? FakeResponse.Json(202, Samples.Operation(OperationStatus.InProgress, id))
            : FakeResponse.Json(200, Samples.Failed("ConflictError", "Public port 81/tcp on virtual IP 'Vip2' is already used.", id)));
        using var client = Connect(server);

        var e = await Assert.ThrowsAsync<MultiVipApiException>(() =>
            client.AddEndpointAsync("myService", "myVM1", new EndpointRequest { Name = "e", Protocol = "tcp", LocalPort = 80 }));

        Assert.Equal("ConflictError", e.Code);
        Assert.Equal(409, e.HttpStatus);
        Assert.Equal(id, e.OperationId);
        Assert.Equal("Public port 81/tcp on virtual IP 'Vip2' is already used.", e.Message);
        Assert.Equal($"/api/operations/{id}", server.Requests.Last().PathAndQuery);
    }

    [Theory]
    [InlineData(400, "BadRequest", "Ports must be in the range of 1 - 65535")]
    [InlineData(401, "Unauthorized", "A valid bearer token is required.")]
    [InlineData(404, "ResourceNotFound", "The cloud service 'x' does not exist.")]
    [InlineData(413, "RequestTooLarge", "The request body is too large.")]
    [InlineData(415, "UnsupportedMediaType", "The request body must be JSON (Content-Type: application/json), not 'text/plain'.")]
    public async Task Error_body_becomes_an_api_exception(int status, string code, string message)
    {
        await using var server = new FakeServer(_ => FakeResponse.Error(status, code, message));
        using var client = Connect(server);

        var e = await Assert.ThrowsAsync<MultiVipApiException>(() => client.GetServiceAsync("x"));

        Assert.Equal(code, e.Code);
        Assert.Equal(status, e.HttpStatus);
        Assert.Equal(message, e.Message);
        Assert.Null(e.OperationId);
    }

    [Fact]
    public async Task Error_without_a_json_body_still_has_a_code()
    {
        await using var server = new FakeServer(_ => new FakeResponse(502, "<html>bad gateway</html>"));
        using var client = Connect(server);

        var e = await Assert.ThrowsAsync<MultiVipApiException>(() => client.ListServicesAsync());

        Assert.Equal("InternalError", e.Code);
        Assert.Equal(502, e.HttpStatus);
        Assert.Contains("bad gateway", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task If_match_is_sent_verbatim_and_412_is_precondition_failed()
    {
        await using var server = new FakeServer(_ => FakeResponse.Error(412, "PreconditionFailed", "VM 'myVM1' has changed since you read it."));
        using var client = Connect(server);

        var e = await Assert.ThrowsAsync<MultiVipApiException>(() =>
            client.SetEndpointAsync("myService", "myVM1", "myEndpoint", new EndpointRequest { Name = "myEndpoint" }, ifMatch: "\"6\""));

        Assert.Equal("PreconditionFailed", e.Code);
        Assert.Equal(412, e.HttpStatus);
        var request = Assert.Single(server.Requests);
        Assert.Equal("PUT", request.Method);
        Assert.Equal("\"6\"", request.Headers["If-Match"]);
        Assert.Equal("/api/services/myService/vms/myVM1/endpoints/myEndpoint", request.PathAndQuery);
    }

    [Fact]
    public async Task Mutation_without_if_match_sends_none()
    {
        await using var server = new FakeServer(_ => FakeResponse.Json(202, Samples.Operation(OperationStatus.Succeeded)));
        using var client = Connect(server);

        await client.DeleteServiceAsync("myService", deleteAll: true);

        var request = Assert.Single(server.Requests);
        Assert.Null(request.Headers["If-Match"]);
        Assert.Equal("DELETE", request.Method);
        Assert.Equal("/api/services/myService?deleteAll=true", request.PathAndQuery);
    }

    [Fact]
    public async Task Lb_set_change_is_a_patch_that_leaves_out_the_probe()
    {
        await using var server = new FakeServer(_ => FakeResponse.Json(202, Samples.Operation(OperationStatus.Succeeded)));
        using var client = Connect(server);

        await client.SetLoadBalancedSetAsync("myService", "myLBSet", new SetLoadBalancedSetRequest { VirtualIpName = "Vip1" });

        var request = Assert.Single(server.Requests);
        Assert.Equal("PATCH", request.Method);
        var body = JsonDocument.Parse(request.Body).RootElement;
        Assert.Equal("Vip1", body.GetProperty("virtualIpName").GetString());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("probe").ValueKind);
    }

    [Fact]
    public async Task Operation_that_never_finishes_times_out_with_its_id()
    {
        var id = Guid.NewGuid();
        await using var server = new FakeServer(_ => FakeResponse.Json(202, Samples.Operation(OperationStatus.InProgress, id)));
        using var client = Connect(server, Fast with { OperationTimeout = TimeSpan.FromMilliseconds(100) });

        var e = await Assert.ThrowsAsync<MultiVipApiException>(() => client.CreateServiceAsync(new CreateServiceRequest { Name = "s" }));

        Assert.Equal("OperationTimeout", e.Code);
        Assert.Equal(id, e.OperationId);
        Assert.Contains($"multivip operation show --id {id}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Lists_decode_the_wire_format()
    {
        await using var server = new FakeServer(_ => FakeResponse.Json(200, new[] { Samples.Operation(OperationStatus.Succeeded) }));
        using var client = Connect(server);

        var operations = await client.ListOperationsAsync(limit: 5);

        Assert.Equal(Samples.SeedOperationId, Assert.Single(operations).OperationId);
        Assert.Equal("/api/operations?limit=5", server.Requests.Single().PathAndQuery);
    }

    [Fact]
    public async Task Connection_refused_names_the_url_and_says_to_start_the_server()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        using var client = new MultiVipClient(new ClientConnection(new Uri($"http://127.0.0.1:{port}"), "t"), Fast);

        var e = await Assert.ThrowsAsync<MultiVipConnectionException>(() => client.ListServicesAsync());

        Assert.Contains($"http://127.0.0.1:{port}", e.Message, StringComparison.Ordinal);
        Assert.Contains("./multivip serve", e.Message, StringComparison.Ordinal);
    }
}
