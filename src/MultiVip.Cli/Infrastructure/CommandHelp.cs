using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Globalization;
using System.Text;

namespace MultiVip.Cli.Infrastructure;

/// <summary>
/// --help for every command. The client verbs get System.CommandLine's help. Commands that run
/// without a server (serve, completion) get a listing of only what applies to them: the built-in
/// one would list every recursive global option (--token, --output...) and, for options whose
/// description states their default, print that default a second time as "[default: N]".
/// </summary>
internal sealed class CommandHelpAction(SynchronousCommandLineAction builtIn, CliContext cli) : SynchronousCommandLineAction
{
    public override bool ClearsParseErrors => true;

    /// <summary>Puts this action on the root's (recursive) help option; call once the tree is built.</summary>
    public static void Install(RootCommand root, CliContext cli)
    {
        var help = root.Options.OfType<HelpOption>().Single();
        if (help.Action is SynchronousCommandLineAction builtIn)
        {
            help.Action = new CommandHelpAction(builtIn, cli);
        }
    }

    public override int Invoke(ParseResult parseResult)
    {
        var command = parseResult.CommandResult.Command;
        if (!cli.IsLocalCommand(command))
        {
            return builtIn.Invoke(parseResult);
        }

        var width = int.MaxValue;
        if (cli.Console.IsOutputTerminal)
        {
            try
            {
                width = Math.Max(40, Console.WindowWidth);
            }
            catch (IOException)
            {
                // No window to measure (e.g. a pseudo-terminal without a size): do not wrap.
            }
        }

        parseResult.InvocationConfiguration.Output.Write(Render(command, UsageErrors.CommandPath(parseResult), Options(command), width));
        return 0;
    }

    /// <summary>The command's own options, then the global ones that apply to it, then help.</summary>
    private List<Option> Options(Command command)
    {
        var globals = cli.Global.All.ToHashSet();
        var options = command.Options.Where(o => !o.Hidden && !globals.Contains(o)).ToList();
        options.AddRange(cli.GlobalsOf(command));
        var root = command.Parents.OfType<Command>().FirstOrDefault();
        while (root?.Parents.OfType<Command>().FirstOrDefault() is { } parent)
        {
            root = parent;
        }

        options.AddRange((root?.Options ?? []).OfType<HelpOption>());
        return options;
    }

    internal static string Render(Command command, string path, IReadOnlyList<Option> options, int width)
    {
        var text = new StringBuilder();
        if (!string.IsNullOrWhiteSpace(command.Description))
        {
            text.AppendLine("Description:");
            foreach (var line in command.Description.Trim().Split('\n'))
            {
                text.AppendLine(("  " + line.TrimEnd('\r')).TrimEnd());
            }

            text.AppendLine();
        }

        var arguments = command.Arguments.Where(a => !a.Hidden).ToList();
        text.AppendLine("Usage:");
        text.Append("  ").Append(path);
        foreach (var argument in arguments)
        {
            text.Append(" <").Append(argument.Name).Append('>');
        }

        text.AppendLine(" [options]").AppendLine();

        if (arguments.Count > 0)
        {
            text.AppendLine("Arguments:");
            Rows(text, arguments.Select(a => ($"<{a.Name}>", a.Description ?? string.Empty)).ToList(), width);
            text.AppendLine();
        }

        text.AppendLine("Options:");
        Rows(text, options.Select(o => (Label(o), Describe(o))).ToList(), width);
        text.AppendLine();
        return text.ToString();
    }

    /// <summary>"-o, --output &lt;json|text&gt;": short names first, as the built-in help shows them.</summary>
    private static string Label(Option option)
    {
        var names = option.Aliases.Prepend(option.Name)
            .Where(n => !n.StartsWith('/'))
            .Distinct(StringComparer.Ordinal)
            .OrderBy(n => n.Length)
            .ThenBy(n => n, StringComparer.Ordinal);
        var label = string.Join(", ", names);
        var type = Nullable.GetUnderlyingType(option.ValueType) ?? option.ValueType;
        if (type == typeof(bool) || option.Arity.MaximumNumberOfValues == 0)
        {
            return label;
        }

        var value = option.HelpName
            ?? (type.IsEnum ? string.Join('|', Enum.GetNames(type).Select(n => n.ToLowerInvariant())) : option.Name.TrimStart('-'));
        return $"{label} <{value}>";
    }

    /// <summary>The description with the default appended only when the description does not already state it.</summary>
    private static string Describe(Option option)
    {
        var description = option.Description ?? string.Empty;
        // A flag's default (off) goes without saying, as in the built-in help.
        var type = Nullable.GetUnderlyingType(option.ValueType) ?? option.ValueType;
        if (!option.HasDefaultValue || type == typeof(bool) || description.Contains("default", StringComparison.OrdinalIgnoreCase))
        {
            return description;
        }

        var value = option.GetDefaultValue() switch
        {
            null => null,
            Enum e => e.ToString().ToLowerInvariant(),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            System.Collections.IEnumerable items and not string => string.Join(", ", items.Cast<object>()),
            var other => other.ToString(),
        };
        return string.IsNullOrEmpty(value) ? description : $"{description} [default: {value}]".TrimStart();
    }

    private static void Rows(StringBuilder text, List<(string Label, string Description)> rows, int width)
    {
        var labelWidth = rows.Count == 0 ? 0 : rows.Max(r => r.Label.Length);
        var descriptionWidth = width == int.MaxValue ? int.MaxValue : Math.Max(20, width - labelWidth - 5);
        foreach (var (label, description) in rows)
        {
            var lines = Wrap(description, descriptionWidth);
            text.AppendLine($"  {label.PadRight(labelWidth)}  {lines[0]}".TrimEnd());
            foreach (var line in lines.Skip(1))
            {
                text.Append(' ', labelWidth + 4).AppendLine(line);
            }
        }
    }

    private static List<string> Wrap(string text, int width)
    {
        var lines = new List<string>();
        var line = new StringBuilder();
        foreach (var word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.Length > 0 && line.Length + 1 + word.Length > width)
            {
                lines.Add(line.ToString());
                line.Clear();
            }

            line.Append(line.Length > 0 ? " " : string.Empty).Append(word);
        }

        lines.Add(line.ToString());
        return lines;
    }
}
