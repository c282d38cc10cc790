using System.Text.Json;
using MultiVip.Cli.Tests.Cli;
using MultiVip.Cli.Tests.Support;

namespace MultiVip.Cli.Tests.Scripting;

/// <summary>
/// JSON keys: the REST API's camelCase by default (what curl and the OpenAPI document show), the
/// text output's PascalCase with --pascal. Values are the same either way.
/// </summary>
public sealed class JsonCasingTests
{
    private static IEnumerable<string> Keys(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => element.EnumerateObject().SelectMany(p => Keys(p.Value).Prepend(p.Name)),
        JsonValueKind.Array => element.EnumerateArray().SelectMany(Keys),
        _ => [],
    };

    [Fact]
    public async Task Default_keys_are_the_api_camel_case_and_pascal_gives_the_text_casing()
    {
        await using var server = new FakeServer(_ => FakeResponse.Json(200, Samples.Deployment()));

        var camel = await TestCli.RunAsync(TestCli.Against(server.Url, "deployment", "show", "--service", "myService", "-o", "json"));
        var pascal = await TestCli.RunAsync(TestCli.Against(server.Url, "deployment", "show", "--service", "myService", "-o", "json", "--pascal"));

        Assert.Equal(0, camel.ExitCode);
        Assert.Equal(0, pascal.ExitCode);
        var camelRoot = JsonDocument.Parse(camel.Out).RootElement;
        var pascalRoot = JsonDocument.Parse(pascal.Out).RootElement;
        Assert.All(Keys(camelRoot), k => Assert.True(char.IsLower(k[0]), $"camelCase key expected, got {k}"));
        Assert.All(Keys(pascalRoot), k => Assert.True(char.IsUpper(k[0]), $"PascalCase key expected, got {k}"));

        // The same document: every key maps to its other casing, every value is equal.
        Assert.Equal(Keys(camelRoot).Select(k => char.ToUpperInvariant(k[0]) + k[1..]), Keys(pascalRoot));
        Assert.Equal("myService", pascalRoot.GetProperty("ServiceName").GetString());
        Assert.Equal("Vip2", pascalRoot.GetProperty("VirtualIps")[1].GetProperty("Name").GetString());
        Assert.Equal(camelRoot.GetProperty("virtualMachines")[0].GetProperty("endpoints")[0].GetProperty("protocol").GetString(),
            pascalRoot.GetProperty("VirtualMachines")[0].GetProperty("Endpoints")[0].GetProperty("Protocol").GetString());
    }

    [Fact]
    public async Task Pascal_applies_to_errors_as_well()
    {
        await using var server = new FakeServer(_ => FakeResponse.Error(404, "ResourceNotFound", "The cloud service 'nope' does not exist."));

        var run = await TestCli.RunAsync(TestCli.Against(server.Url, "deployment", "show", "--service", "nope", "-o", "json", "--pascal"));

        var error = JsonDocument.Parse(run.Error).RootElement;
        Assert.Equal("ResourceNotFound", error.GetProperty("Code").GetString());
        Assert.Equal("The cloud service 'nope' does not exist.", error.GetProperty("Message").GetString());
    }

    [Fact]
    public async Task Pascal_leaves_text_output_as_it_is()
    {
        await using var server = new FakeServer(_ => FakeResponse.Json(200, Samples.SeedVips));

        var text = await TestCli.RunAsync(TestCli.Against(server.Url, "vip", "list", "--service", "myService"));
        var withPascal = await TestCli.RunAsync(TestCli.Against(server.Url, "vip", "list", "--service", "myService", "--pascal"));

        Assert.Equal(text.Out, withPascal.Out);
    }
}
