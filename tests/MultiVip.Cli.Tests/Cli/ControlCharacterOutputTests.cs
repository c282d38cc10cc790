using MultiVip.Cli.Tests.Support;
using MultiVip.Model.Operations;
using MultiVip.Contracts;

namespace MultiVip.Cli.Tests.Cli;

/// <summary>The CLI prints what the server returns; text a client once sent cannot drive the terminal.</summary>
public sealed class ControlCharacterOutputTests
{
    [Fact]
    public async Task Operation_show_prints_control_characters_escaped()
    {
        var operation = Samples.Operation(OperationStatus.Failed) with
        {
            Caller = "10.0.0.1 ev\u001b[31mil\r\nforged",
            ErrorMessage = "title \u001b]0;pwned\u0007 set",
        };
        await using var server = new FakeServer(_ => FakeResponse.Json(200, operation));

        var run = await TestCli.RunAsync(TestCli.Against(server.Url, "operation", "show", "--id", Samples.SeedOperationId.ToString()));

        Assert.Equal(0, run.ExitCode);
        Assert.Contains(@"Caller               : 10.0.0.1 ev\x1b[31mil\r\nforged", run.Out, StringComparison.Ordinal);
        Assert.Contains(@"title \x1b]0;pwned\x07 set", run.Out, StringComparison.Ordinal);
        Assert.DoesNotContain(run.Out, c => c is '\u001b' or '\r' or '\u0007');
    }

    [Fact]
    public async Task Service_tables_print_control_characters_escaped()
    {
        var service = new ServiceView { Name = "svc", Label = "label\u001b[2J", Location = "local" };
        await using var server = new FakeServer(_ => FakeResponse.Json(200, new[] { service }));

        var run = await TestCli.RunAsync(TestCli.Against(server.Url, "service", "list"));

        Assert.Equal(0, run.ExitCode);
        Assert.Contains(@"label\x1b[2J", run.Out, StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', run.Out);
    }

    [Fact]
    public async Task A_server_message_is_printed_escaped()
    {
        await using var server = new FakeServer(_ => FakeResponse.Error(404, "ResourceNotFound", "The cloud service '\u001b[8mx' does not exist."));

        var run = await TestCli.RunAsync(TestCli.Against(server.Url, "deployment", "show", "--service", "x"));

        Assert.Equal(1, run.ExitCode);
        Assert.Equal(@"multivip: ResourceNotFound: The cloud service '\x1b[8mx' does not exist." + Environment.NewLine, run.Error);
    }
}
