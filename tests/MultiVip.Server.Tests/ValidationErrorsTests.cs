using System.Net;
using System.Text.Json;
using MultiVip.Contracts;
using MultiVip.Model.Errors;
using MultiVip.Model.Services;

namespace MultiVip.Server.Tests;

/// <summary>Over HTTP: a request with several problems gets all of them in one answer, and one problem keeps today's body.</summary>
public sealed class ValidationErrorsTests
{
    private static async Task<ServerFixture> WithVmAsync()
    {
        // VIP addresses from this suite's own range, 127.72.0.0/16.
        var f = await ServerFixture.StartAsync(configure: o => o with { VipPools = [$"127.72.{Random.Shared.Next(220, 250)}.0/24"] });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "svc" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Vms("svc"), new AddVmRequest { Name = "vm1", Address = "127.0.0.11" });
        return f;
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(ServerFixture f, HttpMethod method, string path, object body)
    {
        using var response = await f.SendRawAsync(method, path, body);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    [Fact]
    public async Task Several_problems_are_answered_at_once_each_with_its_code()
    {
        await using var f = await WithVmAsync();
        var before = await f.GetAsync<VirtualMachine>(ApiRoutes.Vm("svc", "vm1"));

        var (status, body) = await SendAsync(f, HttpMethod.Post, ApiRoutes.Endpoints("svc", "vm1"), new EndpointRequest
        {
            Name = "web",
            Protocol = "tcp",
            LocalPort = 70000,
            IdleTimeoutInMinutes = 99,
            VirtualIpName = "Vip9",
        });

        string[] messages = [Messages.PortRange, Messages.IdleTimeout(99), Messages.VirtualIpNotFound("Vip9", "svc")];
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("BadRequest", body.GetProperty("code").GetString());
        Assert.Equal(Messages.All(messages), body.GetProperty("message").GetString());
        var errors = body.GetProperty("errors").EnumerateArray().Select(e => (e.GetProperty("code").GetString(), e.GetProperty("message").GetString())).ToList();
        Assert.Equal([("BadRequest", messages[0]), ("BadRequest", messages[1]), ("ResourceNotFound", messages[2])], errors);
        Assert.Equal(before.Endpoints.Count, (await f.GetAsync<VirtualMachine>(ApiRoutes.Vm("svc", "vm1"))).Endpoints.Count);
    }

    [Fact]
    public async Task One_problem_keeps_the_plain_code_and_message_body()
    {
        await using var f = await WithVmAsync();

        var (status, body) = await SendAsync(f, HttpMethod.Post, ApiRoutes.Endpoints("svc", "vm1"), new EndpointRequest { Name = "web", Protocol = "tcp", LocalPort = 0 });

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(["code", "message"], body.EnumerateObject().Select(p => p.Name));
        Assert.Equal(Messages.PortRange, body.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Update_AzureVM_reports_the_problems_of_every_endpoint_in_the_list()
    {
        await using var f = await WithVmAsync();

        var (status, body) = await SendAsync(f, HttpMethod.Put, ApiRoutes.Vm("svc", "vm1"), new UpdateVmRequest
        {
            Endpoints =
            [
                new EndpointRequest { Name = "a", Protocol = "tcp", LocalPort = 8080, Distribution = "random" },
                new EndpointRequest { Name = "b", Protocol = "udp", LocalPort = 8081, ProxyProtocol = "v9" },
                new EndpointRequest { Name = "c", Protocol = "tcp", LocalPort = 8082, IdleTimeoutInMinutes = 1 },
            ],
        });

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(
            [Messages.Distribution("random"), "'v9' is not a PROXY protocol version. Use none, v1 or v2.", Messages.IdleTimeout(1)],
            body.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("message").GetString()));
    }
}
