using System.CommandLine;
using MultiVip.Cli.Commands;
using MultiVip.Model.Services;

namespace MultiVip.Cli.Tests.Cli;

public sealed class ParsingTests
{
    private static readonly string NoDataDir = Path.Combine(Path.GetTempPath(), "multivip-cli-tests-none");

    [Theory]
    [InlineData("bogus")]
    [InlineData("service")]
    [InlineData("vm", "add", "--service", "s", "--name", "v")]
    [InlineData("endpoint", "add", "--service", "s", "--vm", "v", "--name", "e", "--protocol", "tcp", "--local-port", "eighty")]
    [InlineData("service", "list", "--output", "xml")]
    [InlineData("operation", "show", "--id", "not-a-guid")]
    [InlineData("operation", "list", "--limit", "0")]
    [InlineData("operation", "list", "--limit", "1001")]
    public async Task Bad_arguments_exit_2_with_a_message(params string[] args)
    {
        var run = await TestCli.RunAsync(args);

        Assert.Equal(2, run.ExitCode);
        Assert.StartsWith("multivip: ", run.Error, StringComparison.Ordinal);
        Assert.Contains("--help' for usage.", run.Error, StringComparison.Ordinal);
        Assert.Equal(string.Empty, run.Out);
    }

    [Fact]
    public async Task Missing_required_option_is_named()
    {
        var run = await TestCli.RunAsync(["vm", "add", "--service", "s", "--name", "v"]);

        Assert.Contains("Option '--address' is required.", run.Error, StringComparison.Ordinal);
        Assert.Contains("Run 'multivip vm add --help' for usage.", run.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tpc", "'tpc' is not an endpoint protocol. Use tcp or udp.")]
    [InlineData("tcp", "'allow' is not an ACL action. Use permit or deny.", "1:allow:10.0.0.0/8")]
    [InlineData("tcp", "'10.0.0.0/33' is not a valid subnet.", "1:permit:10.0.0.0/33")]
    [InlineData("tcp", "is not an ACL rule. Write ORDER:permit|deny:CIDR[:description]", "permit:10.0.0.0/8")]
    public async Task Domain_values_are_checked_before_anything_is_sent(string protocol, string message, string acl = "1:permit:10.0.0.0/8")
    {
        var run = await TestCli.RunAsync(
            ["endpoint", "add", "--service", "s", "--vm", "v", "--name", "e", "--protocol", protocol, "--local-port", "80", "--acl", acl]);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains(message, run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_exits_0()
    {
        var run = await TestCli.RunAsync(["endpoint", "add", "--help"]);

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("--probe-protocol", run.Out, StringComparison.Ordinal);
        Assert.Contains("--proxy-protocol", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task No_server_exits_1_with_the_resolution_message()
    {
        var run = await TestCli.RunAsync(["service", "list", "--data-dir", NoDataDir]);

        Assert.Equal(1, run.ExitCode);
        Assert.Equal(
            "multivip: No MultiVip server found: pass --api and --token, set MULTIVIP_API and MULTIVIP_TOKEN, or run in the directory where `multivip serve` keeps its data (./.multivip)." + Environment.NewLine,
            run.Error);
    }

    [Fact]
    public async Task Vip_remove_without_a_terminal_needs_force()
    {
        var run = await TestCli.RunAsync(["vip", "remove", "--service", "s", "--name", "Vip3", "--token", "t", "--data-dir", NoDataDir]);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("Pass --force", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Acl_option_parses_repeated_rules_in_order()
    {
        var acl = Options.Acl();
        var root = new RootCommand { acl };

        var result = root.Parse(["--acl", "100:permit:10.0.0.0/8:office: HQ", "--acl", "200:deny:0.0.0.0/0"]);

        Assert.Empty(result.Errors);
        var rules = result.GetValue(acl)!;
        Assert.Equal(2, rules.Count);
        Assert.Equal(new AclRule { Order = 100, Action = AclAction.Permit, RemoteSubnet = "10.0.0.0/8", Description = "office: HQ" }, rules[0]);
        Assert.Equal(new AclRule { Order = 200, Action = AclAction.Deny, RemoteSubnet = "0.0.0.0/0" }, rules[1]);
    }

    [Fact]
    public void Every_verb_of_the_brief_exists()
    {
        var root = Program.BuildRoot(new Infrastructure.CliContext(Infrastructure.CliConsole.FromProcess()));
        string[] expected =
        [
            "service create", "service list", "service show", "service delete",
            "vm add", "vm list", "vm show", "vm drain", "vm disable", "vm enable", "vm remove",
            "vip add", "vip remove", "vip list",
            "deployment show",
            "endpoint add", "endpoint set", "endpoint remove", "endpoint list",
            "lbset set", "lbset list",
            "reserved-ip create", "reserved-ip list", "reserved-ip show", "reserved-ip remove", "reserved-ip associate", "reserved-ip disassociate",
            "operation show", "operation list",
            "node list",
            "store copy",
        ];

        var actual = root.Subcommands.SelectMany(c => c.Subcommands.Select(s => $"{c.Name} {s.Name}")).ToList();

        Assert.Equal(expected.Order(), actual.Order());
    }
}
