using System.Collections;
using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text;
using MultiVip.Cli.Infrastructure;
using MultiVip.Contracts;
using MultiVip.Server.Hosting;

namespace MultiVip.Cli.Serve;

/// <summary>Where a serve setting's value came from, weakest first.</summary>
internal enum SettingSource
{
    Default,
    File,
    Environment,
    Flag,
}

/// <summary>One serve option after layering: its file key, its variable, and where its value came from.</summary>
internal sealed record ServeSetting(Option Option, string Key, string Variable, SettingSource Source, string Origin);

/// <summary>
/// The config file and MULTIVIP_* variables of <c>multivip serve</c>, layered under the flags:
/// flags &gt; environment &gt; file &gt; defaults. Generic over the serve command's options: the key of
/// <c>--vip-pool</c> is <c>vip-pool</c> in the file and <c>MULTIVIP_VIP_POOL</c> in the environment,
/// and a value from either is turned back into <c>--vip-pool=VALUE</c> and parsed by the same
/// System.CommandLine parser (types, validators, messages) as if it had been typed. An option added
/// to the command later is covered without a line here (ServeConfigurationTests walks them all).
/// </summary>
internal static class ServeConfiguration
{
    public const string VariablePrefix = "MULTIVIP_";

    public const string ConfigVariable = "MULTIVIP_CONFIG";

    public const string ConfigOptionName = "--config";

    public const string PrintConfigOptionName = "--print-config";

    /// <summary>
    /// Adds --config and --print-config to <paramref name="serve"/> and wraps its action: the action
    /// then sees one parse result with every layer applied, or the process fails with exit code 2
    /// and a message naming the key and its file or variable before anything starts.
    /// </summary>
    public static Command Attach(CliContext cli, Command serve)
    {
        var config = new Option<string?>(ConfigOptionName)
        {
            Description = $"TOML file with serve settings (keys are these options without dashes, e.g. vip-pool = [\"10.0.0.0/24\"]); also {ConfigVariable}. Flags win over MULTIVIP_<NAME> variables, which win over the file. No file is read unless one is given.",
        };
        var print = new Option<bool>(PrintConfigOptionName) { Description = "Print the effective settings, each with where it came from (flag, environment, file, default), as TOML; then exit." };
        serve.Options.Add(config);
        serve.Options.Add(print);

        var inner = serve.Action as AsynchronousCommandLineAction
            ?? throw new InvalidOperationException("The serve command needs its action before the config layer wraps it.");
        serve.SetAction(async (parse, cancellationToken) =>
        {
            LayeredServeConfig layered;
            try
            {
                layered = Resolve(cli, serve, parse);
            }
            catch (ServeConfigException e)
            {
                return cli.Fail(e.Message, ExitCodes.UsageError);
            }

            if (parse.GetValue(print))
            {
                cli.Console.Out.Write(layered.Describe());
                return ExitCodes.Success;
            }

            return await inner.InvokeAsync(layered.Parse, cancellationToken).ConfigureAwait(false);
        });
        return serve;
    }

    /// <summary>The options a config file or variable can set: serve's own and the global ones serve reads.</summary>
    public static IReadOnlyList<Option> SettableOptions(CliContext cli, Command serve) =>
        [cli.Global.DataDir, cli.Global.Api, .. serve.Options.Where(o => o.Name is not ConfigOptionName and not PrintConfigOptionName && !o.Recursive)];

    public static string KeyOf(Option option) => option.Name.TrimStart('-');

    public static string VariableOf(Option option) => VariablePrefix + KeyOf(option).ToUpperInvariant().Replace('-', '_');

    public static bool IsRepeatable(Option option) => option.Arity.MaximumNumberOfValues > 1;

    public static LayeredServeConfig Resolve(CliContext cli, Command serve, ParseResult parse)
    {
        var settable = SettableOptions(cli, serve);
        var environment = cli.Console.Environment;
        var configPath = parse.GetValue<string?>(ConfigOptionName) is { Length: > 0 } flag
            ? flag
            : NonEmpty(environment(ConfigVariable));
        IReadOnlyDictionary<string, ConfigFileValue> file = new Dictionary<string, ConfigFileValue>();
        if (configPath is not null)
        {
            configPath = Path.GetFullPath(configPath);
            file = ServeConfigFile.Load(
                configPath,
                settable.ToDictionary(KeyOf, IsRepeatable, StringComparer.Ordinal),
                [KeyOf(serve.Options.First(o => o.Name == ConfigOptionName)), KeyOf(serve.Options.First(o => o.Name == PrintConfigOptionName)), .. cli.Global.All.Except(settable).Select(KeyOf)]);
        }

        var root = parse.RootCommandResult.Command;
        var parser = new ParserConfiguration { ResponseFileTokenReplacer = null };
        var added = new List<string>();
        var settings = new List<ServeSetting>();
        foreach (var option in settable)
        {
            var key = KeyOf(option);
            var variable = VariableOf(option);
            if (parse.GetResult(option) is { Implicit: false })
            {
                settings.Add(new ServeSetting(option, key, variable, SettingSource.Flag, $"flag {option.Name}"));
                continue;
            }

            if (NonEmpty(environment(variable)) is { } fromEnvironment)
            {
                var values = IsRepeatable(option)
                    ? fromEnvironment.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                    : [fromEnvironment];
                added.AddRange(Check(root, serve.Name, parser, option, values, $"{variable}={fromEnvironment}"));
                settings.Add(new ServeSetting(option, key, variable, SettingSource.Environment, $"environment {variable}"));
                continue;
            }

            if (file.TryGetValue(key, out var fromFile) && fromFile.Values.Count > 0)
            {
                var where = $"{configPath}:{fromFile.Line}";
                added.AddRange(Check(root, serve.Name, parser, option, fromFile.Values, $"{where}: {key}"));
                settings.Add(new ServeSetting(option, key, variable, SettingSource.File, $"file {where}"));
                continue;
            }

            settings.Add(new ServeSetting(option, key, variable, SettingSource.Default, "default"));
        }

        var layered = root.Parse([.. parse.Tokens.Select(t => t.Value), .. added], parser);
        if (layered.Errors.Count > 0)
        {
            throw new ServeConfigException("The settings do not fit together, so nothing was started: " + string.Join(" ", layered.Errors.Select(e => e.Message)));
        }

        return new LayeredServeConfig(layered, settings, configPath, cli.Global.DataDir, serve.Options.FirstOrDefault(o => o.Name == "--demo"));
    }

    /// <summary>Parses one option's layered value on its own, so a bad one is reported with its key and origin.</summary>
    private static List<string> Check(Command root, string serveName, ParserConfiguration parser, Option option, IReadOnlyList<string> values, string origin)
    {
        // --name=value: a value that starts with a dash stays a value.
        var tokens = values.Select(v => $"{option.Name}={(option.ValueType == typeof(bool) ? Boolean(v) : v)}").ToList();
        var alone = root.Parse([serveName, .. tokens], parser);
        if (alone.Errors.Count > 0)
        {
            throw new ServeConfigException($"{origin}: {string.Join(" ", alone.Errors.Select(e => e.Message))} Nothing was started.");
        }

        return tokens;
    }

    /// <summary>Environment files and operators write 1/0, yes/no, on/off for booleans; the parser knows true/false.</summary>
    private static string Boolean(string value) => value.Trim().ToLowerInvariant() switch
    {
        "1" or "yes" or "on" => "true",
        "0" or "no" or "off" => "false",
        var other => other,
    };

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}

/// <summary>The serve command's parse result with the environment and file applied, and where each value came from.</summary>
internal sealed record LayeredServeConfig(ParseResult Parse, IReadOnlyList<ServeSetting> Settings, string? ConfigFile, Option DataDirOption, Option? DemoOption)
{
    /// <summary>The value serve will use, as a CLR object (null when unset).</summary>
    public object? Value(Option option) => Parse.GetResult(option) is OptionResult result ? result.GetValueOrDefault<object?>() : option.HasDefaultValue ? option.GetDefaultValue() : null;

    /// <summary>The effective settings as TOML (a valid config file), each line commented with its origin.</summary>
    public string Describe()
    {
        var text = new StringBuilder();
        text.AppendLine("# Effective settings of `multivip serve`: flags > MULTIVIP_* environment > config file > defaults.");
        text.AppendLine($"# Config file: {ConfigFile ?? "none (give --config FILE or MULTIVIP_CONFIG)"}. This output is valid TOML for --config.");
        var lines = Settings.Select(s => (Text: Line(s), s.Origin)).ToList();
        var width = lines.Max(l => l.Text.Length);
        foreach (var (line, origin) in lines)
        {
            text.Append(line.PadRight(width)).Append("  # ").AppendLine(origin);
        }

        return text.ToString();
    }

    private string Line(ServeSetting setting)
    {
        var value = Value(setting.Option);
        if (value is null && ReferenceEquals(setting.Option, DataDirOption))
        {
            // serve's own default, which differs for the demo (docs/operations.md).
            value = DemoOption is not null && Value(DemoOption) is true ? DemoDataDirectory.Default : new ServerOptions().DataDir;
        }
        else if (value is null && setting.Key == "api")
        {
            value = ApiRoutes.DefaultApi;
        }

        if (value is string store && setting.Key == "store")
        {
            // The database URL may carry a password: never printed (docs/operations.md#several-nodes).
            value = MultiVip.Control.State.PostgresLocation.Redact(store);
        }

        return value is null || (value is ICollection { Count: 0 })
            ? $"# {setting.Key} = (not set)"
            : $"{setting.Key} = {Toml(value)}";
    }

    private static string Toml(object value) => value switch
    {
        bool b => b ? "true" : "false",
        string s => Quote(s),
        Enum e => Quote(e.ToString().ToLowerInvariant()),
        IFormattable number when value is int or long or short or byte or uint or ulong or ushort or sbyte or double or float or decimal => number.ToString(null, CultureInfo.InvariantCulture),
        IEnumerable items => "[" + string.Join(", ", items.Cast<object>().Select(Toml)) + "]",
        _ => Quote(Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty),
    };

    private static string Quote(string s) => "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
