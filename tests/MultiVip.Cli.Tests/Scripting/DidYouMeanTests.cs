using System.Text.Json;
using MultiVip.Cli.Infrastructure;
using MultiVip.Cli.Tests.Cli;

namespace MultiVip.Cli.Tests.Scripting;

/// <summary>A mistyped verb or option is answered with the nearest names of the command it was typed for.</summary>
public sealed class DidYouMeanTests
{
    [Theory]
    [InlineData("Did you mean '--service'?", "vm", "list", "--servce", "myService")]
    [InlineData("Did you mean '--service'?", "vm", "list", "--sevrice", "myService")]
    [InlineData("Did you mean '--local-port'?", "endpoint", "add", "--service", "s", "--vm", "v", "--name", "e", "--protocol", "tcp", "--local-prot", "80")]
    [InlineData("Did you mean '--drain-timeout'?", "serve", "--drain-timout", "5")]
    [InlineData("Did you mean 'list'?", "vm", "lst")]
    [InlineData("Did you mean 'serve' or 'service'?", "servce")]
    [InlineData("Did you mean 'reserved-ip'?", "reserved-ips", "list")]
    [InlineData("Did you mean '--service'?", "vm", "list", "service", "myService")]
    [InlineData("Did you mean '--no-wait'?", "vip", "add", "--service", "s", "--name", "Vip2", "--nowait")]
    public async Task Typos_get_the_nearest_names(string suggestion, params string[] args)
    {
        var run = await TestCli.RunAsync(args);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains(suggestion, run.Error, StringComparison.Ordinal);
        Assert.Equal(string.Empty, run.Out);
    }

    [Fact]
    public async Task The_suggestion_follows_the_error_it_answers()
    {
        var run = await TestCli.RunAsync(["vm", "list", "--servce", "myService"]);

        Assert.Equal(
            [
                "multivip: Unrecognized command or argument '--servce'. Did you mean '--service'?",
                "multivip: Unrecognized command or argument 'myService'.",
                "multivip: Option '--service' is required.",
                "Run 'multivip vm list --help' for usage.",
            ],
            run.Error.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task Json_errors_list_the_suggestions()
    {
        var run = await TestCli.RunAsync(["-o", "json", "vm", "list", "--servce", "myService"]);

        var error = JsonDocument.Parse(run.Error).RootElement;
        Assert.Equal(["--service"], error.GetProperty("suggestions").EnumerateArray().Select(s => s.GetString()));
    }

    [Fact]
    public async Task Options_of_other_verbs_are_not_suggested()
    {
        // --token is a client option: serve does not take it, so it is no correction for serve.
        var run = await TestCli.RunAsync(["serve", "--tokn", "x"]);

        Assert.Equal(2, run.ExitCode);
        Assert.DoesNotContain("Did you mean", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_word_far_from_every_name_gets_no_suggestion()
    {
        var run = await TestCli.RunAsync(["vm", "list", "--service", "s", "--frobnicate"]);

        Assert.Equal(2, run.ExitCode);
        Assert.DoesNotContain("Did you mean", run.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("servce", "service", 1)]
    [InlineData("sevrice", "service", 1)]
    [InlineData("service", "service", 0)]
    [InlineData("", "abc", 3)]
    [InlineData("kitten", "sitting", 3)]
    public void Distance_counts_a_swap_as_one_edit(string a, string b, int distance) =>
        Assert.Equal(distance, DidYouMean.Distance(a, b));
}
