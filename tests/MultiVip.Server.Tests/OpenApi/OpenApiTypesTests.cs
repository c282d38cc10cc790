using System.Text.Json;
using MultiVip.Contracts;

namespace MultiVip.Server.Tests.OpenApi;

/// <summary>
/// What a client generator reads beyond what the linter checks (issue 18 item 4): the bearer
/// scheme applied to every route, ports as bounded integers (not <c>number | string</c>), request
/// enums with their spellings, the fields a request must carry and a response always carries, the
/// <c>{code, message}</c> error on every operation, and ETag / If-Match where the API honours them.
/// </summary>
public sealed class OpenApiTypesTests
{
    [Fact]
    public async Task Clients_see_the_token_bounded_integer_ports_enums_required_fields_errors_and_etags()
    {
        await using var f = await ServerFixture.StartAsync();
        using var document = JsonDocument.Parse(await f.Http.GetStringAsync(ApiRoutes.OpenApiDocument));
        var root = document.RootElement;
        var schemas = root.GetProperty("components").GetProperty("schemas");

        // The bearer token, for every route.
        var bearer = root.GetProperty("components").GetProperty("securitySchemes").GetProperty("bearer");
        Assert.Equal(("http", "bearer"), (bearer.GetProperty("type").GetString(), bearer.GetProperty("scheme").GetString()));
        Assert.True(Assert.Single(root.GetProperty("security").EnumerateArray()).TryGetProperty("bearer", out _));

        // A request: ports are integers in 1-65535, enums list their spellings, required fields are named.
        var request = schemas.GetProperty(nameof(EndpointRequest));
        var localPort = request.GetProperty("properties").GetProperty("localPort");
        Assert.Equal("integer", TypeWithoutNull(localPort));
        Assert.Equal((1, 65535), (localPort.GetProperty("minimum").GetInt32(), localPort.GetProperty("maximum").GetInt32()));
        Assert.False(localPort.TryGetProperty("pattern", out _), "localPort still admits a string");
        Assert.Equal(["tcp", "udp"], Strings(request.GetProperty("properties").GetProperty("protocol").GetProperty("enum")));
        Assert.Equal(["none", "v1", "v2"], Strings(request.GetProperty("properties").GetProperty("proxyProtocol").GetProperty("enum")).Where(v => v is not null));
        Assert.Superset(new HashSet<string?> { "name", "protocol", "localPort" }, Strings(request.GetProperty("required")).ToHashSet());

        // A response: every field is always there, ports are integers.
        var endpoint = schemas.GetProperty("InputEndpoint");
        var required = Strings(endpoint.GetProperty("required")).ToHashSet();
        foreach (var field in endpoint.GetProperty("properties").EnumerateObject())
        {
            Assert.Contains(field.Name, required);
        }

        Assert.Equal("integer", TypeWithoutNull(endpoint.GetProperty("properties").GetProperty("publicPort")));
        Assert.Equal("#/components/schemas/TransportProtocol", endpoint.GetProperty("properties").GetProperty("protocol").GetProperty("$ref").GetString());
        Assert.Equal(["tcp", "udp"], Strings(schemas.GetProperty("TransportProtocol").GetProperty("enum")));
        Assert.Equal(["enabled", "draining", "disabled"], Strings(schemas.GetProperty("VmState").GetProperty("enum")));

        // {code, message} on every operation; ETag on a read, If-Match on the change it guards.
        var error = schemas.GetProperty(nameof(ErrorBody));
        Assert.Superset(new HashSet<string?> { "code", "message" }, Strings(error.GetProperty("required")).ToHashSet());
        foreach (var path in root.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject().Where(o => o.Name is "get" or "post" or "put" or "patch" or "delete"))
            {
                var responses = operation.Value.GetProperty("responses");
                Assert.True(
                    responses.TryGetProperty("400", out var bad) && bad.GetProperty("content").GetProperty("application/json").GetProperty("schema").GetProperty("$ref").GetString() == "#/components/schemas/ErrorBody",
                    $"{operation.Name} {path.Name} has no {{code, message}} 400 response");
            }
        }

        var vm = root.GetProperty("paths").GetProperty("/api/services/{service}/vms/{vm}");
        Assert.True(vm.GetProperty("get").GetProperty("responses").GetProperty("200").GetProperty("headers").TryGetProperty("ETag", out _), "GET of a VM names no ETag header");
        Assert.Contains(vm.GetProperty("put").GetProperty("parameters").EnumerateArray(), p => p.GetProperty("name").GetString() == "If-Match" && p.GetProperty("in").GetString() == "header");
        Assert.True(vm.GetProperty("put").GetProperty("responses").TryGetProperty("412", out _), "PUT of a VM names no 412");
    }

    private static string? TypeWithoutNull(JsonElement schema) =>
        schema.GetProperty("type") is { ValueKind: JsonValueKind.Array } types
            ? Assert.Single(types.EnumerateArray().Select(t => t.GetString()), t => t != "null")
            : schema.GetProperty("type").GetString();

    private static List<string?> Strings(JsonElement array) => [.. array.EnumerateArray().Select(v => v.ValueKind == JsonValueKind.Null ? null : v.GetString())];
}
