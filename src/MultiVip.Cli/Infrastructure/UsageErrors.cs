using System.CommandLine;
using System.CommandLine.Parsing;
using MultiVip.Cli.Output;

namespace MultiVip.Cli.Infrastructure;

/// <summary>
/// What is wrong with a command line before anything runs: the parser's errors, each unknown word
/// with the nearest names of the command it was typed for ("did you mean"), and client-only options
/// given to a command that runs without a server. Generic over the command tree, so verbs added
/// later get the same help.
/// </summary>
internal static class UsageErrors
{
    public static CliError? Find(ParseResult parse, CliContext cli)
    {
        var command = parse.CommandResult.Command;
        var near = Suggestions(parse, command, cli);
        var messages = new List<string>();
        var suggested = new List<string>();
        foreach (var error in parse.Errors)
        {
            var message = error.Message;
            // The parser's "Unrecognized command or argument 'x'." quotes the word in every language it speaks.
            var word = near.Keys.FirstOrDefault(w => message.Contains($"'{w}'", StringComparison.Ordinal));
            if (word is not null)
            {
                message += " " + DidYouMean.Sentence(near[word]);
                suggested.AddRange(near[word]);
                near.Remove(word);
            }

            messages.Add(message);
        }

        foreach (var (word, names) in near)
        {
            messages.Add($"'{word}' is not known here. {DidYouMean.Sentence(names)}");
            suggested.AddRange(names);
        }

        if (cli.IsLocalCommand(command))
        {
            var applies = cli.GlobalsOf(command).ToHashSet();
            foreach (var option in cli.Global.All.Where(o => !applies.Contains(o)))
            {
                if (parse.GetResult(option) is { Implicit: false })
                {
                    messages.Add($"{option.Name} does not apply to '{CommandPath(parse)}': it is an option of the verbs that call the server.");
                }
            }
        }

        if (messages.Count == 0)
        {
            return null;
        }

        return new CliError(CliErrorCodes.UsageError, string.Join(" ", messages))
        {
            TextLines = messages,
            Suggestions = suggested.Count > 0 ? suggested.Distinct(StringComparer.Ordinal).ToList() : null,
            TextFooter = $"Run '{CommandPath(parse)} --help' for usage.",
        };
    }

    /// <summary>"multivip vm add": the command the parser got to, as typed.</summary>
    public static string CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var result = parse.CommandResult; result.Parent is CommandResult parent; result = parent)
        {
            names.Insert(0, result.Command.Name);
        }

        names.Insert(0, "multivip");
        return string.Join(' ', names);
    }

    /// <summary>Every option name and alias <paramref name="command"/> accepts, its inherited ones included.</summary>
    public static IEnumerable<string> OptionNames(Command command, CliContext cli)
    {
        var globals = cli.Global.All.ToHashSet();
        var applies = cli.GlobalsOf(command).ToHashSet();
        var options = command.Options.Where(o => !globals.Contains(o) || applies.Contains(o)).ToList();
        foreach (var ancestor in Ancestors(command))
        {
            options.AddRange(ancestor.Options.Where(o => o.Recursive && (!globals.Contains(o) || applies.Contains(o))));
        }

        return options.Where(o => !o.Hidden).SelectMany(o => o.Aliases.Prepend(o.Name)).Where(n => !n.StartsWith('/'));
    }

    private static Dictionary<string, IReadOnlyList<string>> Suggestions(ParseResult parse, Command command, CliContext cli)
    {
        var near = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        var unmatched = parse.UnmatchedTokens;
        for (var i = 0; i < unmatched.Count; i++)
        {
            var word = unmatched[i];
            // The value after an unknown option is that option's value, not a second typo.
            if (i > 0 && unmatched[i - 1].StartsWith('-') && !word.StartsWith('-'))
            {
                continue;
            }

            var subcommands = command.Subcommands.Where(c => !c.Hidden).SelectMany(c => c.Aliases.Prepend(c.Name)).ToList();
            var candidates = word.StartsWith('-') || subcommands.Count == 0 ? OptionNames(command, cli) : subcommands;
            var names = DidYouMean.Nearest(word, candidates);
            if (names.Count > 0)
            {
                near.TryAdd(word, names);
            }
        }

        return near;
    }

    private static IEnumerable<Command> Ancestors(Command command)
    {
        for (var parent = command.Parents.OfType<Command>().FirstOrDefault(); parent is not null; parent = parent.Parents.OfType<Command>().FirstOrDefault())
        {
            yield return parent;
        }
    }
}
