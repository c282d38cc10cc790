using System.CommandLine;
using System.CommandLine.Completions;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using MultiVip.Cli.Infrastructure;

namespace MultiVip.Cli.Completion;

/// <summary>
/// `multivip [suggest:N] "LINE"`, the entry point the completion scripts call: what
/// System.CommandLine completes at position N of LINE, one per line, less what the command
/// there does not take (client-only options of serve, DOS-style /? and /h).
/// </summary>
internal sealed class SuggestAction(CliContext cli, SuggestDirective directive) : SynchronousCommandLineAction
{
    public override bool ClearsParseErrors => true;

    /// <summary>Replaces the built-in action of the root's [suggest] directive.</summary>
    public static void Install(RootCommand root, CliContext cli)
    {
        foreach (var suggest in root.Directives.OfType<SuggestDirective>())
        {
            suggest.Action = new SuggestAction(cli, suggest);
        }
    }

    public override int Invoke(ParseResult parseResult)
    {
        var line = parseResult.Tokens.LastOrDefault(t => t.Type != TokenType.Directive)?.Value ?? string.Empty;
        var position = parseResult.GetResult(directive)?.Values.SingleOrDefault() is { } text && int.TryParse(text, out var at) ? at : line.Length;
        var typed = parseResult.RootCommandResult.Command.Parse(line, parseResult.Configuration);

        var command = typed.CommandResult.Command;
        var applies = cli.GlobalsOf(command).ToHashSet();
        var notTaken = cli.Global.All.Where(o => !applies.Contains(o)).SelectMany(o => o.Aliases.Prepend(o.Name)).ToHashSet(StringComparer.Ordinal);
        var labels = typed.GetCompletions(position)
            .Select(c => c.Label)
            .Where(l => !l.StartsWith('/') && !notTaken.Contains(l))
            .Distinct(StringComparer.Ordinal);

        var output = parseResult.InvocationConfiguration.Output;
        foreach (var label in labels)
        {
            output.WriteLine(label);
        }

        return ExitCodes.Success;
    }
}
