using System.Globalization;
using Tomlyn.Parsing;
using Tomlyn.Syntax;

namespace MultiVip.Cli.Serve;

/// <summary>One key of the config file: its line (1-based) and its value(s) as command-line text.</summary>
internal sealed record ConfigFileValue(string Key, int Line, IReadOnlyList<string> Values);

/// <summary>
/// Reads <c>multivip serve --config FILE</c>: TOML, one top-level <c>key = value</c> per serve option,
/// keys spelled as the flags without their dashes (<c>vip-pool = ["10.0.0.0/24"]</c>). Every problem
/// (syntax, unknown key, a list for a one-value option, a table) is reported with the file and line,
/// all at once, and nothing is applied.
/// </summary>
internal static class ServeConfigFile
{
    public static IReadOnlyDictionary<string, ConfigFileValue> Load(string path, IReadOnlyDictionary<string, bool> repeatableByKey, IReadOnlyCollection<string> notSettable)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ServeConfigException($"The config file {path} does not exist. Check --config / MULTIVIP_CONFIG, or write one: `multivip serve --print-config > {path}` prints every setting.");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ServeConfigException($"Cannot read the config file {path}: {e.Message}");
        }

        var document = SyntaxParser.Parse(text, path, true);
        var errors = new List<(int Line, string Text)>();
        foreach (var diagnostic in document.Diagnostics)
        {
            if (diagnostic.Kind == DiagnosticMessageKind.Error)
            {
                errors.Add((diagnostic.Span.Start.Line, $"{path}:{diagnostic.Span.Start.Line + 1}: {diagnostic.Message}"));
            }
        }

        if (errors.Count > 0)
        {
            throw new ServeConfigException("The config file is not valid TOML, so nothing was started:\n  " + string.Join("\n  ", errors.OrderBy(e => e.Line).Select(e => e.Text)));
        }

        foreach (var table in document.Tables)
        {
            errors.Add((table.Span.Start.Line, $"{path}:{table.Span.Start.Line + 1}: tables ([{table.Name}]) are not used: write every setting as a top-level key = value."));
        }

        var values = new Dictionary<string, ConfigFileValue>(StringComparer.Ordinal);
        foreach (var entry in document.KeyValues)
        {
            var line = entry.Span.Start.Line + 1;
            void Problem(string text) => errors.Add((line, $"{path}:{line}: {text}"));
            var key = KeyText(entry.Key);
            if (key is null || entry.Key!.DotKeys.ChildrenCount > 0)
            {
                Problem($"'{entry.Key}' is a dotted key; write each setting as a plain key like drain-timeout = 30.");
                continue;
            }

            if (!repeatableByKey.TryGetValue(key, out var repeatable))
            {
                Problem($"unknown key '{key}'. {Suggest(key, repeatableByKey.Keys, notSettable)}");
                continue;
            }

            var converted = Values(entry.Value, repeatable, out var problem);
            if (problem is not null)
            {
                Problem($"{key}: {problem}");
                continue;
            }

            values[key] = new ConfigFileValue(key, line, converted);
        }

        if (errors.Count > 0)
        {
            throw new ServeConfigException($"The config file {path} has {(errors.Count == 1 ? "a problem" : errors.Count + " problems")}, so nothing was started:\n  " + string.Join("\n  ", errors.OrderBy(e => e.Line).Select(e => e.Text)));
        }

        return values;
    }

    private static string? KeyText(KeySyntax? key) => key?.Key switch
    {
        BareKeySyntax bare => bare.Key?.Text,
        StringValueSyntax quoted => quoted.Value,
        _ => null,
    };

    private static List<string> Values(ValueSyntax? value, bool repeatable, out string? problem)
    {
        problem = null;
        if (value is ArraySyntax array)
        {
            if (!repeatable)
            {
                problem = "takes one value, not a list.";
                return [];
            }

            var items = new List<string>();
            foreach (var item in array.Items)
            {
                if (Scalar(item.Value) is { } scalar)
                {
                    items.Add(scalar);
                }
                else
                {
                    problem = "a list of strings, numbers or booleans is expected.";
                    return [];
                }
            }

            return items;
        }

        if (Scalar(value) is { } one)
        {
            return [one];
        }

        problem = repeatable ? "a string, number, boolean or a list of them is expected." : "a string, number or boolean is expected.";
        return [];
    }

    private static string? Scalar(ValueSyntax? value) => value switch
    {
        StringValueSyntax s => s.Value,
        IntegerValueSyntax i => i.Value.ToString(CultureInfo.InvariantCulture),
        BooleanValueSyntax b => b.Value ? "true" : "false",
        FloatValueSyntax f => f.Value.ToString("R", CultureInfo.InvariantCulture),
        _ => null,
    };

    /// <summary>"Did you mean": underscores for dashes, or the known key nearest in spelling.</summary>
    internal static string Suggest(string key, IEnumerable<string> known, IReadOnlyCollection<string> notSettable)
    {
        if (notSettable.Contains(key))
        {
            return $"'{key}' is a command-line option only.";
        }

        var keys = known.ToList();
        var dashed = key.Replace('_', '-').ToLowerInvariant();
        var nearest = keys.Contains(dashed)
            ? dashed
            : keys.Select(k => (Key: k, Distance: Distance(dashed, k))).Where(x => x.Distance <= Math.Max(2, x.Key.Length / 4)).OrderBy(x => x.Distance).Select(x => x.Key).FirstOrDefault();
        return nearest is not null
            ? $"Did you mean '{nearest}'?"
            : $"The keys are the options of `multivip serve --help` without their dashes: {string.Join(", ", keys.Order(StringComparer.Ordinal))}.";
    }

    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}

/// <summary>A config file or MULTIVIP_* variable that cannot be used; the message names the key and where it came from.</summary>
internal sealed class ServeConfigException(string message) : Exception(message);
