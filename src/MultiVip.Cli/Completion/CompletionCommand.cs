using System.CommandLine;
using MultiVip.Cli.Infrastructure;

namespace MultiVip.Cli.Completion;

/// <summary>`multivip completion bash|zsh|fish|pwsh`: prints the shell's completion script.</summary>
internal static class CompletionCommand
{
    public static Command Create(CliContext cli)
    {
        var shell = new Argument<string>("shell") { Description = "bash, zsh, fish or pwsh." }.AcceptOnlyFromAmong(CompletionScripts.Shells);
        var command = new Command(
            "completion",
            "Print a shell completion script: verbs and options, and names of services, VMs, VIPs, load-balanced sets and reserved IPs read from the server. Install:\n"
            + CompletionScripts.InstallLines)
        {
            shell,
        };
        command.SetAction(parse =>
        {
            cli.Console.Out.Write(CompletionScripts.For(parse.GetValue(shell)!));
            return ExitCodes.Success;
        });
        cli.MarkStandalone(command);
        return command;
    }
}
