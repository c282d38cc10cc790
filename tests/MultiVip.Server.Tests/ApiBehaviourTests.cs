using System.Net;
using System.Text;
using System.Text.Json;
using MultiVip.Contracts;
using MultiVip.Model.Errors;
using MultiVip.Model.Operations;
using MultiVip.Model.ReservedIps;
using MultiVip.Model.Services;
using MultiVip.Server.Hosting;

namespace MultiVip.Server.Tests;

public sealed class ApiBehaviourTests
{
    private static async Task<ServerFixture> WithServiceAsync(Func<ServerOptions, ServerOptions>? configure = null)
    {
        var f = await ServerFixture.StartAsync(configure: configure);
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "myService" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Vms("myService"), new AddVmRequest { Name = "myVM1", Address = "127.0.0.11" });
        return f;
    }

    [Fact]
    public async Task Every_route_in_the_openapi_document_requires_the_token()
    {
        // More wrong tokens than the failed-credential limit allows (AuthenticationTests covers the 429).
        await using var f = await ServerFixture.StartAsync(configure: o => o with { Authentication = o.Authentication with { FailureLimit = 1000 } });
        var doc = await f.GetAsync<JsonElement>(ApiRoutes.OpenApiDocument);
        using var anonymous = new HttpClient { BaseAddress = f.Server.Api };
        using var wrongToken = new HttpClient { BaseAddress = f.Server.Api };
        wrongToken.DefaultRequestHeaders.Authorization = new("Bearer", f.Server.Token + "x");
        var checkedRoutes = 0;
        foreach (var path in doc.GetProperty("paths").EnumerateObject())
        {
            foreach (var method in path.Value.EnumerateObject())
            {
                var url = path.Name.Replace("{service}", "s").Replace("{vm}", "v").Replace("{endpoint}", "e")
                    .Replace("{vip}", "x").Replace("{set}", "l").Replace("{name}", "r").Replace("{id}", Guid.NewGuid().ToString());
                foreach (var client in new[] { anonymous, wrongToken })
                {
                    using var request = new HttpRequestMessage(new HttpMethod(method.Name.ToUpperInvariant()), url);
                    using var response = await client.SendAsync(request);
                    Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{method.Name} {url} answered {response.StatusCode}");
                    var body = JsonSerializer.Deserialize<ErrorBody>(await response.Content.ReadAsStringAsync(), ApiJson.Options)!;
                    Assert.Equal("Unauthorized", body.Code);
                }

                checkedRoutes++;
            }
        }

        Assert.True(checkedRoutes >= 25, $"only {checkedRoutes} routes in the OpenAPI document");
        using var openApi = await anonymous.GetAsync(ApiRoutes.OpenApiDocument);
        Assert.Equal(HttpStatusCode.Unauthorized, openApi.StatusCode);
    }

    [Fact]
    public async Task Token_file_is_owner_only_and_reused_across_restarts()
    {
        await using var f = await ServerFixture.StartAsync();
        var path = Path.Combine(f.DataDir, DataDirectory.TokenFile);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Equal(f.Server.Token, File.ReadAllText(path).Trim());
        Assert.True(f.Server.Token.Length >= 40);
        Assert.Equal(f.Server.Api.ToString().TrimEnd('/'), File.ReadAllText(Path.Combine(f.DataDir, DataDirectory.EndpointFile)).Trim());
        var token = f.Server.Token;
        await f.RestartAsync();
        Assert.Equal(token, f.Server.Token);
    }

    [Fact]
    public async Task Mutations_answer_202_with_location_of_the_operation()
    {
        await using var f = await ServerFixture.StartAsync();
        using var response = await f.SendRawAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "svc" });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var operation = JsonSerializer.Deserialize<Operation>(await response.Content.ReadAsStringAsync(), ApiJson.Options)!;
        Assert.Equal(ApiRoutes.Operation(operation.OperationId), response.Headers.Location!.OriginalString);
        var fetched = await f.GetAsync<Operation>(response.Headers.Location.OriginalString);
        Assert.Equal(operation.OperationId, fetched.OperationId);
        Assert.Equal("New-AzureService", fetched.OperationDescription);
        Assert.Equal(OperationStatus.Succeeded, (await f.WaitAsync(fetched)).OperationStatus);
        Assert.Equal("svc", fetched.Target);
        Assert.Contains("127.0.0.1", fetched.Caller);

        var missing = await f.ExpectErrorAsync(HttpMethod.Get, ApiRoutes.Operation(Guid.NewGuid()));
        Assert.Equal(HttpStatusCode.NotFound, missing.Status);
        var malformed = await f.ExpectErrorAsync(HttpMethod.Get, "/api/operations/not-a-guid");
        Assert.Equal(HttpStatusCode.BadRequest, malformed.Status);
    }

    [Fact]
    public async Task Stale_etag_gets_412_and_a_fresh_one_succeeds()
    {
        await using var f = await WithServiceAsync();
        using var read = await f.Http.GetAsync(ApiRoutes.Vm("myService", "myVM1"));
        var etag = read.Headers.ETag!.Tag;
        var vm = JsonSerializer.Deserialize<VirtualMachine>(await read.Content.ReadAsStringAsync(), ApiJson.Options)!;

        // Someone else changes the VM meanwhile.
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), new EndpointRequest { Name = "web", Protocol = "tcp", LocalPort = 80 });

        var update = new UpdateVmRequest { Endpoints = [.. vm.Endpoints.Select(e => e.ToRequest()), new EndpointRequest { Name = "sql", Protocol = "tcp", LocalPort = 1433 }] };
        using var stale = await f.SendRawAsync(HttpMethod.Put, ApiRoutes.Vm("myService", "myVM1"), update, etag);
        Assert.Equal(HttpStatusCode.PreconditionFailed, stale.StatusCode);
        var error = JsonSerializer.Deserialize<ErrorBody>(await stale.Content.ReadAsStringAsync(), ApiJson.Options)!;
        Assert.Equal("PreconditionFailed", error.Code);
        Assert.Contains("The VM 'myVM1' has changed since you read it", error.Message);

        using var reread = await f.Http.GetAsync(ApiRoutes.Vm("myService", "myVM1"));
        vm = JsonSerializer.Deserialize<VirtualMachine>(await reread.Content.ReadAsStringAsync(), ApiJson.Options)!;
        update = new UpdateVmRequest { Endpoints = [.. vm.Endpoints.Select(e => e.ToRequest()), new EndpointRequest { Name = "sql", Protocol = "tcp", LocalPort = 1433 }] };
        var ok = await f.SendAsync(HttpMethod.Put, ApiRoutes.Vm("myService", "myVM1"), update, reread.Headers.ETag!.Tag);
        Assert.Equal("Update-AzureVM", ok.OperationDescription);
        var endpoints = await f.GetAsync<List<InputEndpoint>>(ApiRoutes.Endpoints("myService", "myVM1"));
        Assert.Equal(["web", "sql"], endpoints.Select(e => e.Name));
    }

    [Fact]
    public async Task Concurrent_changes_to_one_deployment_all_succeed()
    {
        await using var f = await WithServiceAsync();
        var tasks = Enumerable.Range(0, 40).Select(i => f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"),
            new EndpointRequest { Name = $"ep{i}", Protocol = "tcp", LocalPort = 10_000 + i, PublicPort = 20_000 + i }));
        var operations = await Task.WhenAll(tasks);
        Assert.All(operations, o => Assert.Equal(OperationStatus.Succeeded, o.OperationStatus));
        var vm = await f.GetAsync<VirtualMachine>(ApiRoutes.Vm("myService", "myVM1"));
        Assert.Equal(40, vm.Endpoints.Count);
        Assert.Equal(41, vm.Version);
    }

    [Fact]
    public async Task Malformed_unknown_and_oversized_bodies_are_client_errors()
    {
        await using var f = await WithServiceAsync(o => o with { MaxRequestBodyBytes = 4096 });
        async Task<(HttpStatusCode, ErrorBody)> Post(string json)
        {
            using var content = new StringContent(json, Encoding.UTF8, "application/json");
            using var response = await f.Http.PostAsync(ApiRoutes.VirtualIps("myService"), content);
            return (response.StatusCode, JsonSerializer.Deserialize<ErrorBody>(await response.Content.ReadAsStringAsync(), ApiJson.Options)!);
        }

        var (status, body) = await Post("{\"name\": ");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("not well-formed JSON", body.Message);

        (status, body) = await Post("{\"name\": \"Vip2\", \"colour\": \"red\"}");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("a field the API does not know", body.Message);

        (status, body) = await Post("{\"name\": 5}");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("wrong type", body.Message);

        (status, body) = await Post("{\"name\": \"" + new string('a', 10_000) + "\"}");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Equal("RequestTooLarge", body.Code);

        (status, body) = await Post("null");
        Assert.Equal(HttpStatusCode.BadRequest, status);

        using var unknownRoute = await f.Http.GetAsync("/api/nothing-here");
        Assert.Equal(HttpStatusCode.NotFound, unknownRoute.StatusCode);
        Assert.Contains("/openapi/v1.json", await unknownRoute.Content.ReadAsStringAsync());

        var deployment = await f.GetAsync<JsonElement>(ApiRoutes.Deployment("myService"));
        Assert.Equal(1, deployment.GetProperty("virtualIps").GetArrayLength());
    }

    [Fact]
    public async Task An_oversized_body_on_a_route_that_never_reads_it_is_refused_and_the_next_request_works()
    {
        // A DELETE (or a 404, or a 401) answers without reading the body. Refused up front with
        // Connection: close, the client never reuses a connection the server is about to cut.
        await using var f = await WithServiceAsync(o => o with { MaxRequestBodyBytes = 4096 });
        var big = "{\"name\":\"" + new string('x', 100_000) + "\"}";
        foreach (var path in new[] { ApiRoutes.Service("nope"), ApiRoutes.Service("myService"), "/api/nothing-here" })
        {
            for (var i = 0; i < 20; i++)
            {
                using (var request = new HttpRequestMessage(HttpMethod.Delete, path) { Content = new StringContent(big, Encoding.UTF8, "application/json") })
                using (var response = await f.Http.SendAsync(request))
                {
                    Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
                    Assert.True(response.Headers.ConnectionClose);
                    Assert.Equal("RequestTooLarge", JsonSerializer.Deserialize<ErrorBody>(await response.Content.ReadAsStringAsync(), ApiJson.Options)!.Code);
                }

                using var next = await f.Http.GetAsync(ApiRoutes.Deployment("myService"));
                Assert.Equal(HttpStatusCode.OK, next.StatusCode);
            }
        }

        // Nothing was deleted by the refused requests.
        Assert.Single((await f.GetAsync<List<JsonElement>>(ApiRoutes.Services)));
    }

    [Fact]
    public async Task State_survives_a_restart_with_the_same_addresses()
    {
        await using var f = await WithServiceAsync();
        await f.SendAsync(HttpMethod.Post, ApiRoutes.VirtualIps("myService"), new AddVirtualIpRequest { Name = "Vip2" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), new EndpointRequest { Name = "web", Protocol = "tcp", LocalPort = 8080, PublicPort = 80, VirtualIpName = "Vip2" });
        var before = await f.GetAsync<DeploymentView>(ApiRoutes.Deployment("myService"));
        var operations = await f.GetAsync<List<Operation>>(ApiRoutes.Operations);
        await f.RestartAsync();
        var after = await f.GetAsync<DeploymentView>(ApiRoutes.Deployment("myService"));
        Assert.Equal(before.VirtualIps, after.VirtualIps);
        Assert.Equal(before.Version, after.Version);
        Assert.Equal(operations.Select(o => o.OperationId), (await f.GetAsync<List<Operation>>(ApiRoutes.Operations)).Select(o => o.OperationId));

        // A new VIP after restart never gets an address already in use.
        await f.SendAsync(HttpMethod.Post, ApiRoutes.VirtualIps("myService"), new AddVirtualIpRequest { Name = "Vip3" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), new EndpointRequest { Name = "web3", Protocol = "tcp", LocalPort = 8083, PublicPort = 80, VirtualIpName = "Vip3" });
        var addresses = (await f.GetAsync<DeploymentView>(ApiRoutes.Deployment("myService"))).VirtualIps.Select(v => v.Address).ToList();
        Assert.Equal(3, addresses.Distinct().Count());
    }

    [Fact]
    public async Task Exhausted_pool_is_a_clear_error_that_changes_nothing()
    {
        var net = Random.Shared.Next(1, 250);
        await using var f = await WithServiceAsync(o => o with { VipPools = [$"127.101.{net}.1-127.101.{net}.2"] });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.VirtualIps("myService"), new AddVirtualIpRequest { Name = "Vip2" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.VirtualIps("myService"), new AddVirtualIpRequest { Name = "Vip3" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), new EndpointRequest { Name = "a", Protocol = "tcp", LocalPort = 81, PublicPort = 80, VirtualIpName = "Vip2" });
        var before = await f.GetAsync<DeploymentView>(ApiRoutes.Deployment("myService"));
        Assert.Equal([$"127.101.{net}.1", $"127.101.{net}.2", null], before.VirtualIps.Select(v => v.Address));

        var error = await f.ExpectErrorAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), new EndpointRequest { Name = "b", Protocol = "tcp", LocalPort = 82, PublicPort = 80, VirtualIpName = "Vip3" });
        Assert.Equal(HttpStatusCode.Conflict, error.Status);
        Assert.Contains("The VIP address pool is exhausted", error.Text);
        Assert.Contains("--vip-pool", error.Text);
        var reserve = await f.ExpectErrorAsync(HttpMethod.Post, ApiRoutes.ReservedIps, new CreateReservedIpRequest { Name = "r1" });
        Assert.Contains("The VIP address pool is exhausted", reserve.Text);

        var after = await f.GetAsync<DeploymentView>(ApiRoutes.Deployment("myService"));
        Assert.Equal(before.VirtualIps, after.VirtualIps);
        Assert.Equal(before.Version, after.Version);

        // Releasing an address (the last endpoint of Vip2 goes) makes room again.
        await f.SendAsync(HttpMethod.Delete, ApiRoutes.Endpoint("myService", "myVM1", "a"));
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), new EndpointRequest { Name = "b", Protocol = "tcp", LocalPort = 82, PublicPort = 80, VirtualIpName = "Vip3" });
        Assert.Equal($"127.101.{net}.2", (await f.GetAsync<DeploymentView>(ApiRoutes.Deployment("myService"))).VirtualIps.Single(v => v.Name == "Vip3").Address);
    }

    [Fact]
    public async Task Malformed_pool_is_refused_at_start()
    {
        var error = await Assert.ThrowsAsync<MultiVipException>(() => ServerFixture.StartAsync(configure: o => o with { VipPools = ["127.100.0.0/33"] }));
        Assert.Contains("'127.100.0.0/33' is not a valid address pool", error.Message);
    }

    [Fact]
    public async Task Reserved_ip_backs_a_vip_and_keeps_its_address()
    {
        await using var f = await WithServiceAsync();
        await f.SendAsync(HttpMethod.Post, ApiRoutes.VirtualIps("myService"), new AddVirtualIpRequest { Name = "Vip2" });
        var created = await f.SendAsync(HttpMethod.Post, ApiRoutes.ReservedIps, new CreateReservedIpRequest { Name = "myReserved", Location = "lab", Label = "tenant A" });
        Assert.Equal("New-AzureReservedIP", created.OperationDescription);
        var reserved = await f.GetAsync<ReservedIp>(ApiRoutes.ReservedIp("myReserved"));
        Assert.False(reserved.InUse);
        Assert.Equal("Created", reserved.State);

        // Associating gives an extra VIP without endpoints the reserved address at once.
        await f.SendAsync(HttpMethod.Put, ApiRoutes.ReservedIpAssociation("myReserved"), new AssociateReservedIpRequest { ServiceName = "myService", VirtualIpName = "Vip2" });
        var vip2 = (await f.GetAsync<List<VirtualIp>>(ApiRoutes.VirtualIps("myService"))).Single(v => v.Name == "Vip2");
        Assert.Equal(reserved.Address, vip2.Address);
        Assert.Equal("myReserved", vip2.ReservedIpName);
        reserved = await f.GetAsync<ReservedIp>(ApiRoutes.ReservedIp("myReserved"));
        Assert.True(reserved.InUse);
        Assert.Equal(("myService", "Vip2"), (reserved.ServiceName, reserved.VirtualIpName));

        var inUse = await f.ExpectErrorAsync(HttpMethod.Delete, ApiRoutes.ReservedIp("myReserved"));
        Assert.Equal(HttpStatusCode.Conflict, inUse.Status);
        Assert.Contains("is in use by virtual IP 'Vip2' of cloud service 'myService'", inUse.Text);
        var removeVip = await f.ExpectErrorAsync(HttpMethod.Delete, ApiRoutes.VirtualIp("myService", "Vip2"));
        Assert.Contains("backed by reserved IP 'myReserved'", removeVip.Text);

        // An endpoint comes and goes: the reserved address stays.
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), new EndpointRequest { Name = "tls", Protocol = "tcp", LocalPort = 8443, PublicPort = 443, VirtualIpName = "Vip2" });
        await f.SendAsync(HttpMethod.Delete, ApiRoutes.Endpoint("myService", "myVM1", "tls"));
        Assert.Equal(reserved.Address, (await f.GetAsync<List<VirtualIp>>(ApiRoutes.VirtualIps("myService"))).Single(v => v.Name == "Vip2").Address);

        // Disassociate: the VIP has no endpoint, so it has no address; the reservation stays, unused.
        await f.SendAsync(HttpMethod.Delete, ApiRoutes.ReservedIpAssociation("myReserved"));
        vip2 = (await f.GetAsync<List<VirtualIp>>(ApiRoutes.VirtualIps("myService"))).Single(v => v.Name == "Vip2");
        Assert.Null(vip2.Address);
        Assert.Null(vip2.ReservedIpName);
        Assert.False((await f.GetAsync<ReservedIp>(ApiRoutes.ReservedIp("myReserved"))).InUse);

        // Reserving the default VIP's current address keeps that address.
        var vip1 = (await f.GetAsync<List<VirtualIp>>(ApiRoutes.VirtualIps("myService")))[0];
        await f.SendAsync(HttpMethod.Post, ApiRoutes.ReservedIps, new CreateReservedIpRequest { Name = "pinned", ServiceName = "myService" });
        var pinned = await f.GetAsync<ReservedIp>(ApiRoutes.ReservedIp("pinned"));
        Assert.Equal(vip1.Address, pinned.Address);
        Assert.Equal("pinned", (await f.GetAsync<DeploymentView>(ApiRoutes.Deployment("myService"))).ReservedIpName);

        // The reserved address is never handed to another VIP, even after the deployment is gone.
        await f.SendAsync(HttpMethod.Delete, ApiRoutes.Vm("myService", "myVM1"));
        Assert.False((await f.GetAsync<ReservedIp>(ApiRoutes.ReservedIp("pinned"))).InUse);
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Vms("myService"), new AddVmRequest { Name = "myVM1", Address = "127.0.0.11" });
        var fresh = (await f.GetAsync<List<VirtualIp>>(ApiRoutes.VirtualIps("myService")))[0];
        Assert.NotEqual(pinned.Address, fresh.Address);
        Assert.NotEqual(reserved.Address, fresh.Address);

        await f.SendAsync(HttpMethod.Delete, ApiRoutes.ReservedIp("myReserved"));
        var gone = await f.ExpectErrorAsync(HttpMethod.Get, ApiRoutes.ReservedIp("myReserved"));
        Assert.Equal(HttpStatusCode.NotFound, gone.Status);
    }

    [Fact]
    public async Task Deleting_a_service_with_a_deployment_needs_delete_all()
    {
        await using var f = await WithServiceAsync();
        var error = await f.ExpectErrorAsync(HttpMethod.Delete, ApiRoutes.Service("myService"));
        Assert.Equal(HttpStatusCode.Conflict, error.Status);
        Assert.Contains("--delete-all", error.Text);
        await f.SendAsync(HttpMethod.Delete, ApiRoutes.Service("myService") + "?deleteAll=true");
        Assert.Empty(await f.GetAsync<List<ServiceView>>(ApiRoutes.Services));
    }
}
