using System.Text.Json;
using MultiVip.Cli.Tests.Cli;
using MultiVip.Cli.Tests.Support;
using MultiVip.Client;
using MultiVip.Contracts;

namespace MultiVip.Cli.Tests.Client;

/// <summary>A request refused for several reasons: the client keeps each one, and the CLI prints them all.</summary>
public sealed class ErrorListTests
{
    private const string Message = "The change has 2 problems: (1) Ports must be in the range of 1 - 65535. (2) The idle timeout must be between 4 and 30 minutes (got 99).";

    private static FakeResponse Refusal() => new(400, JsonSerializer.Serialize(new
    {
        code = "BadRequest",
        message = Message,
        errors = new[]
        {
            new { code = "BadRequest", message = "Ports must be in the range of 1 - 65535" },
            new { code = "BadRequest", message = "The idle timeout must be between 4 and 30 minutes (got 99)." },
        },
    }));

    [Fact]
    public async Task The_client_keeps_every_problem_of_the_refusal()
    {
        await using var server = new FakeServer(_ => Refusal());
        using var client = new MultiVipClient(new ClientConnection(server.Url, "t0k"));

        var ex = await Assert.ThrowsAsync<MultiVipApiException>(() =>
            client.AddEndpointAsync("s", "v", new EndpointRequest { Name = "e", Protocol = "tcp", LocalPort = 0, IdleTimeoutInMinutes = 99 }));

        Assert.Equal(("BadRequest", 400, Message), (ex.Code, ex.HttpStatus, ex.Message));
        Assert.Equal(["Ports must be in the range of 1 - 65535", "The idle timeout must be between 4 and 30 minutes (got 99)."], ex.Errors.Select(e => e.Message));
    }

    [Fact]
    public async Task A_plain_refusal_is_its_own_only_problem()
    {
        await using var server = new FakeServer(_ => FakeResponse.Error(404, "ResourceNotFound", "The cloud service 's' does not exist."));
        using var client = new MultiVipClient(new ClientConnection(server.Url, "t0k"));

        var ex = await Assert.ThrowsAsync<MultiVipApiException>(() => client.GetServiceAsync("s"));

        Assert.Equal(new ErrorBody("ResourceNotFound", "The cloud service 's' does not exist."), Assert.Single(ex.Errors));
    }

    [Fact]
    public async Task The_cli_prints_every_problem()
    {
        await using var server = new FakeServer(_ => Refusal());

        var run = await TestCli.RunAsync(TestCli.Against(server.Url, "endpoint", "add", "--service", "s", "--vm", "v", "--name", "e", "--protocol", "tcp", "--local-port", "0", "--idle-timeout", "99"));

        Assert.Equal(1, run.ExitCode);
        Assert.Equal("multivip: BadRequest: " + Message + Environment.NewLine, run.Error);
    }
}
