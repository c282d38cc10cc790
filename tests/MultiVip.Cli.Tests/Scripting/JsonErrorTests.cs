using System.Text.Json;
using MultiVip.Cli.Tests.Cli;
using MultiVip.Cli.Tests.Support;
using MultiVip.Model.Operations;

namespace MultiVip.Cli.Tests.Scripting;

/// <summary>With --output json, every error is one JSON object on stderr; exit codes stay what they were.</summary>
public sealed class JsonErrorTests
{
    private static readonly string NoDataDir = Path.Combine(Path.GetTempPath(), "multivip-cli-tests-none");

    /// <summary>stderr is exactly one line holding one JSON object, and stdout is empty.</summary>
    private static JsonElement SingleJsonError(CliRun run)
    {
        Assert.Equal(string.Empty, run.Out);
        var lines = run.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var line = Assert.Single(lines);
        return JsonDocument.Parse(line).RootElement;
    }

    [Fact]
    public async Task A_refused_request_is_code_and_message()
    {
        await using var server = new FakeServer(_ => FakeResponse.Error(404, "ResourceNotFound", "The cloud service 'nope' does not exist."));

        var run = await TestCli.RunAsync(TestCli.Against(server.Url, "deployment", "show", "--service", "nope", "-o", "json"));

        Assert.Equal(1, run.ExitCode);
        var error = SingleJsonError(run);
        Assert.Equal("ResourceNotFound", error.GetProperty("code").GetString());
        Assert.Equal("The cloud service 'nope' does not exist.", error.GetProperty("message").GetString());
        Assert.False(error.TryGetProperty("operationId", out _));
    }

    [Fact]
    public async Task A_failed_operation_carries_its_operation_id()
    {
        await using var server = new FakeServer(r => r.Method == "POST"
            ? FakeResponse.Json(202, Samples.Operation(OperationStatus.InProgress))
            : FakeResponse.Json(200, Samples.Failed("ConflictError", "The virtual IP 'Vip3' already exists.")));

        var run = await TestCli.RunAsync(TestCli.Against(server.Url, "--output", "json", "vip", "add", "--service", "myService", "--name", "Vip3"));

        Assert.Equal(1, run.ExitCode);
        var error = SingleJsonError(run);
        Assert.Equal("ConflictError", error.GetProperty("code").GetString());
        Assert.Equal("The virtual IP 'Vip3' already exists.", error.GetProperty("message").GetString());
        Assert.Equal(Samples.SeedOperationId, error.GetProperty("operationId").GetGuid());
    }

    [Theory]
    [InlineData("operation", "list", "--limit", "0")]
    [InlineData("vm", "add", "--service", "s", "--name", "v")]
    [InlineData("vm", "list", "--servce", "s")]
    [InlineData("bogus")]
    [InlineData("endpoint", "add", "--service", "s", "--vm", "v", "--name", "e", "--protocol", "tpc", "--local-port", "80")]
    public async Task A_bad_command_line_is_a_usage_error_with_exit_code_2(params string[] args)
    {
        var run = await TestCli.RunAsync([.. args, "-o", "json"]);

        Assert.Equal(2, run.ExitCode);
        var error = SingleJsonError(run);
        Assert.Equal("UsageError", error.GetProperty("code").GetString());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
    }

    [Fact]
    public async Task No_server_is_connection_failed_with_exit_code_1()
    {
        var run = await TestCli.RunAsync(["service", "list", "--data-dir", NoDataDir, "--output=json"]);

        Assert.Equal(1, run.ExitCode);
        var error = SingleJsonError(run);
        Assert.Equal("ConnectionFailed", error.GetProperty("code").GetString());
        Assert.StartsWith("No MultiVip server found", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_confirmation_that_cannot_be_asked_is_a_usage_error()
    {
        var run = await TestCli.RunAsync(["vip", "remove", "--service", "s", "--name", "Vip3", "--token", "t", "--data-dir", NoDataDir, "-o", "json"]);

        Assert.Equal(2, run.ExitCode);
        var error = SingleJsonError(run);
        Assert.Equal("UsageError", error.GetProperty("code").GetString());
        Assert.Contains("Pass --force", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Text_errors_are_unchanged()
    {
        await using var server = new FakeServer(_ => FakeResponse.Error(404, "ResourceNotFound", "The cloud service 'nope' does not exist."));

        var run = await TestCli.RunAsync(TestCli.Against(server.Url, "deployment", "show", "--service", "nope"));

        Assert.Equal(1, run.ExitCode);
        Assert.Equal("multivip: ResourceNotFound: The cloud service 'nope' does not exist." + Environment.NewLine, run.Error);
    }

    [Fact]
    public async Task Control_characters_in_a_json_error_are_escaped()
    {
        await using var server = new FakeServer(_ => FakeResponse.Error(404, "ResourceNotFound", "The cloud service 'a\u001b[2Jb' does not exist."));

        var run = await TestCli.RunAsync(TestCli.Against(server.Url, "deployment", "show", "--service", "x", "-o", "json"));

        Assert.DoesNotContain('\u001b', run.Error);
        Assert.Equal("The cloud service 'a\u001b[2Jb' does not exist.", SingleJsonError(run).GetProperty("message").GetString());
    }
}
