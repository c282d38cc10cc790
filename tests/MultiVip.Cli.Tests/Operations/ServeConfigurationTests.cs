using System.Collections;
using System.CommandLine;
using System.CommandLine.Completions;
using System.Globalization;
using MultiVip.Cli.Infrastructure;
using MultiVip.Cli.Serve;
using MultiVip.Cli.Tests.Cli;

namespace MultiVip.Cli.Tests.Operations;

/// <summary>`multivip serve --config FILE`, MULTIVIP_* variables and --print-config.</summary>
public sealed class ServeConfigurationTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "multivip-config", Guid.NewGuid().ToString("N"));

    public ServeConfigurationTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// Walks every option of the serve command, as it is today and as others extend it: each must be
    /// settable from the file and from its variable, to exactly the value the flag gives. A new option
    /// whose type or name the scheme cannot carry fails here.
    /// </summary>
    [Fact]
    public void Every_serve_option_can_be_set_from_the_file_and_from_the_environment()
    {
        var (cli, root, serve) = Build();
        var options = ServeConfiguration.SettableOptions(cli, serve);
        Assert.Contains(options, o => o.Name == "--vip-pool");
        Assert.Contains(options, o => o.Name == "--data-dir");
        Assert.Contains(options, o => o.Name == "--demo");
        Assert.DoesNotContain(options, o => o.Name is "--config" or "--print-config" or "--token" or "--output");

        foreach (var option in options)
        {
            var key = ServeConfiguration.KeyOf(option);
            Assert.Matches("^[a-z][a-z0-9-]*$", key);
            var sample = Sample(option);
            var direct = root.Parse(["serve", .. sample.SelectMany(v => new[] { option.Name, v })]);
            Assert.True(direct.Errors.Count == 0, $"{option.Name} {string.Join(' ', sample)}: {string.Join(" ", direct.Errors.Select(e => e.Message))}");
            var expected = Canonical(Value(direct, option));
            Assert.NotEqual(Canonical(Value(root.Parse(["serve"]), option)), expected);

            var file = Path.Combine(_dir, $"{key}.toml");
            File.WriteAllText(file, $"# {option.Name}\n{key} = {Toml(option, sample)}\n");
            AssertLayered(option, ["serve", "--config", file], null, expected, SettingSource.File);

            var variable = ServeConfiguration.VariableOf(option);
            Assert.Matches("^MULTIVIP_[A-Z][A-Z0-9_]*$", variable);
            AssertLayered(option, ["serve"], new Dictionary<string, string> { [variable] = string.Join(",", sample) }, expected, SettingSource.Environment);
        }
    }

    [Fact]
    public async Task Flags_beat_the_environment_which_beats_the_file_which_beats_the_default()
    {
        var file = Write("precedence.toml", "drain-timeout = 5\ndns = \"off\"\nvip-pool = [\"127.70.1.0/24\", \"127.70.2.0-127.70.2.9\"]\n");
        var env = new Dictionary<string, string> { ["MULTIVIP_DRAIN_TIMEOUT"] = "6", ["MULTIVIP_MAX_VMS_PER_SERVICE"] = "7" };

        var all = await PrintConfig(["--config", file, "--drain-timeout", "8"], env);
        Assert.Matches(@"(?m)^drain-timeout = 8\s+# flag --drain-timeout$", all);
        Assert.Matches(@"(?m)^max-vms-per-service = 7\s+# environment MULTIVIP_MAX_VMS_PER_SERVICE$", all);
        Assert.Matches($@"(?m)^dns = ""off""\s+# file {Escape(file)}:2$", all);
        Assert.Matches($@"(?m)^vip-pool = \[""127.70.1.0/24"", ""127.70.2.0-127.70.2.9""\]\s+# file {Escape(file)}:3$", all);
        Assert.Matches(@"(?m)^max-endpoints-per-service = 150\s+# default$", all);
        Assert.Matches(@"(?m)^data-dir = "".multivip""\s+# default$", all);
        Assert.Matches(@"(?m)^# tls-cert = \(not set\)\s+# default$", all);

        Assert.Matches(@"(?m)^drain-timeout = 6\s+# environment MULTIVIP_DRAIN_TIMEOUT$", await PrintConfig(["--config", file], env));
        Assert.Matches($@"(?m)^drain-timeout = 5\s+# file {Escape(file)}:1$", await PrintConfig(["--config", file], null));
        Assert.Matches(@"(?m)^drain-timeout = 30\s+# default$", await PrintConfig([], null));

        // The file can come from MULTIVIP_CONFIG too; --config wins over it.
        Assert.Matches($@"(?m)^drain-timeout = 5\s+# file {Escape(file)}:1$", await PrintConfig([], new Dictionary<string, string> { ["MULTIVIP_CONFIG"] = file }));
        var other = Write("other.toml", "drain-timeout = 9\n");
        Assert.Matches(@"(?m)^drain-timeout = 9\s+# file ", await PrintConfig(["--config", other], new Dictionary<string, string> { ["MULTIVIP_CONFIG"] = file }));

        // Booleans from the environment as operators write them; lists comma-separated.
        var flags = await PrintConfig([], new Dictionary<string, string> { ["MULTIVIP_INSECURE"] = "1", ["MULTIVIP_ALLOWED_HOST"] = "lb.example, lb.example:8443" });
        Assert.Matches(@"(?m)^insecure = true\s+# environment MULTIVIP_INSECURE$", flags);
        Assert.Matches(@"(?m)^allowed-host = \[""lb.example"", ""lb.example:8443""\]\s+# environment MULTIVIP_ALLOWED_HOST$", flags);
    }

    [Fact]
    public async Task Print_config_output_is_a_config_file_that_gives_the_same_settings()
    {
        var file = Write("start.toml", "drain-timeout = 12\nvip-pool = [\"127.70.3.0/24\"]\nlog-format = \"json\"\ninsecure = true\n");
        var first = await PrintConfig(["--config", file], new Dictionary<string, string> { ["MULTIVIP_DNS"] = "127.0.0.1:0" });
        var copy = Write("copy.toml", first);
        var second = await PrintConfig(["--config", copy], null);
        static IEnumerable<string> Settings(string text) => text.Split('\n').Where(l => l.Length > 0 && !l.StartsWith("# E", StringComparison.Ordinal) && !l.StartsWith("# C", StringComparison.Ordinal)).Select(l => l[..l.IndexOf("  #", StringComparison.Ordinal)].TrimEnd());
        Assert.Equal(Settings(first), Settings(second));
        Assert.Contains("dns = \"127.0.0.1:0\"", second);
    }

    [Fact]
    public async Task The_example_config_in_packaging_is_accepted()
    {
        var example = Path.Combine(RepositoryRoot(), "packaging", "multivip.toml");
        var printed = await PrintConfig(["--config", example], null);
        Assert.Matches(@"(?m)^vip-pool = \[""127.100.0.0/16""\]\s+# file .*multivip.toml:\d+$", printed);
        Assert.Matches(@"(?m)^drain-timeout = 30\s+# file ", printed);
    }

    [Fact]
    public async Task Unknown_keys_and_bad_values_name_the_key_and_where_it_came_from_and_nothing_starts()
    {
        await Refused(Write("typo.toml", "drain-timeout = 5\ndrain-timout = 5\n"), null, "typo.toml:2: unknown key 'drain-timout'. Did you mean 'drain-timeout'?");
        await Refused(Write("underscore.toml", "vip_pool = [\"127.70.4.0/24\"]\n"), null, "underscore.toml:1: unknown key 'vip_pool'. Did you mean 'vip-pool'?");
        await Refused(Write("client.toml", "token = \"abc\"\n"), null, "unknown key 'token'. 'token' is a command-line option only.");
        await Refused(Write("type.toml", "\n\ndrain-timeout = \"soon\"\n"), null, "type.toml:3: drain-timeout: Cannot parse argument 'soon' for option '--drain-timeout'");
        await Refused(Write("minimum.toml", "max-vms-per-service = 0\n"), null, "minimum.toml:1: max-vms-per-service: --max-vms-per-service must be at least 1.");
        await Refused(Write("list.toml", "drain-timeout = [1, 2]\n"), null, "list.toml:1: drain-timeout: takes one value, not a list.");
        await Refused(Write("table.toml", "[server]\napi = \"http://127.0.0.1:7400\"\n"), null, "table.toml:1: tables ([server]) are not used");
        await Refused(Write("syntax.toml", "api = \"http://127.0.0.1:7400\"\ndns =\n"), null, "syntax.toml:2:");
        await Refused(Path.Combine(_dir, "missing.toml"), null, "missing.toml does not exist");
        await Refused(null, new Dictionary<string, string> { ["MULTIVIP_DRAIN_TIMEOUT"] = "soon" }, "MULTIVIP_DRAIN_TIMEOUT=soon: Cannot parse argument 'soon'");
        await Refused(null, new Dictionary<string, string> { ["MULTIVIP_LOG_FORMAT"] = "xml" }, "MULTIVIP_LOG_FORMAT=xml:");
        await Refused(null, new Dictionary<string, string> { ["MULTIVIP_CONFIG"] = Path.Combine(_dir, "nope.toml") }, "nope.toml does not exist");

        // A non-number on the command line is a usage error too, not a crash in the validator.
        var flag = await TestCli.RunAsync(["serve", "--drain-timeout", "abc", "--data-dir", Path.Combine(_dir, "never")]);
        Assert.Equal(ExitCodes.UsageError, flag.ExitCode);
        Assert.Contains("Cannot parse argument 'abc' for option '--drain-timeout'", flag.Error);
    }

    private async Task Refused(string? file, IReadOnlyDictionary<string, string>? env, string message)
    {
        var dataDir = Path.Combine(_dir, "data-" + Guid.NewGuid().ToString("N"));
        string[] args = file is null
            ? ["serve", "--data-dir", dataDir, "--api", "http://127.0.0.1:0", "--dns", "off"]
            : ["serve", "--config", file, "--data-dir", dataDir, "--api", "http://127.0.0.1:0", "--dns", "off"];
        var run = await TestCli.RunAsync(args, env: env);
        Assert.True(run.ExitCode == ExitCodes.UsageError, $"exit {run.ExitCode}, out: {run.Out} err: {run.Error}");
        Assert.Contains(message, run.Error);
        if (file is not null && File.Exists(file))
        {
            Assert.Contains(file, run.Error);
        }

        Assert.DoesNotContain("serving", run.Out);
        Assert.False(Directory.Exists(dataDir), "the server started (its data dir exists) although the settings were refused");
    }

    private static async Task<string> PrintConfig(string[] args, IReadOnlyDictionary<string, string>? env)
    {
        var run = await TestCli.RunAsync(["serve", .. args, "--print-config"], env: env);
        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}: {run.Error}");
        return run.Out;
    }

    private void AssertLayered(Option option, string[] args, IReadOnlyDictionary<string, string>? env, string expected, SettingSource source)
    {
        var (cli, root, serve) = Build(env);
        var same = ServeConfiguration.SettableOptions(cli, serve).Single(o => o.Name == option.Name);
        var layered = ServeConfiguration.Resolve(cli, serve, root.Parse(args));
        Assert.Equal(expected, Canonical(Value(layered.Parse, same)));
        Assert.Equal(source, layered.Settings.Single(s => ReferenceEquals(s.Option, same)).Source);
        Assert.Contains($"{ServeConfiguration.KeyOf(same)} = ", layered.Describe());
    }

    private static (CliContext Cli, RootCommand Root, Command Serve) Build(IReadOnlyDictionary<string, string>? env = null)
    {
        var console = new CliConsole(TextWriter.Null, TextWriter.Null, TextReader.Null, false, false, name => env is not null && env.TryGetValue(name, out var v) ? v : null);
        var cli = new CliContext(console);
        var root = Program.BuildRoot(cli);
        return (cli, root, root.Subcommands.Single(c => c.Name == "serve"));
    }

    /// <summary>A value for the option, as typed on the command line, that differs from its default.</summary>
    private static string[] Sample(Option option)
    {
        var type = Nullable.GetUnderlyingType(option.ValueType) ?? option.ValueType;
        var element = type.IsArray ? type.GetElementType()! : type;
        element = Nullable.GetUnderlyingType(element) ?? element;
        var key = ServeConfiguration.KeyOf(option);
        var fallback = option.HasDefaultValue ? option.GetDefaultValue() : null;
        if (element == typeof(bool))
        {
            return [fallback is true ? "false" : "true"];
        }

        if (element.IsEnum)
        {
            return [Enum.GetNames(element).First(n => !string.Equals(n, fallback?.ToString(), StringComparison.OrdinalIgnoreCase)).ToLowerInvariant()];
        }

        if (element == typeof(int) || element == typeof(long))
        {
            return [(Convert.ToInt64(fallback ?? 0L, CultureInfo.InvariantCulture) + 1).ToString(CultureInfo.InvariantCulture)];
        }

        var completions = option.GetCompletions(CompletionContext.Empty).Select(c => c.Label).Where(l => !string.Equals(l, fallback?.ToString(), StringComparison.OrdinalIgnoreCase)).ToList();
        if (completions.Count > 0)
        {
            return type.IsArray ? [.. completions.Take(2)] : [completions[0]];
        }

        if (element == typeof(string))
        {
            return type.IsArray ? [$"sample-a-{key}", $"sample-b-{key}:8443"] : [$"sample-{key}"];
        }

        Assert.Fail($"{option.Name} has the type {option.ValueType}: add a sample for it here, after checking a config file value and a MULTIVIP_ variable can express it.");
        return [];
    }

    private static string Toml(Option option, string[] sample)
    {
        var type = Nullable.GetUnderlyingType(option.ValueType) ?? option.ValueType;
        var element = type.IsArray ? type.GetElementType()! : type;
        element = Nullable.GetUnderlyingType(element) ?? element;
        var bare = element == typeof(bool) || element == typeof(int) || element == typeof(long);
        var items = sample.Select(s => bare ? s : "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"").ToList();
        return ServeConfiguration.IsRepeatable(option) ? "[" + string.Join(", ", items) + "]" : items.Single();
    }

    private static object? Value(ParseResult parse, Option option) =>
        parse.GetResult(option) is System.CommandLine.Parsing.OptionResult result ? result.GetValueOrDefault<object?>() : option.HasDefaultValue ? option.GetDefaultValue() : null;

    private static string Canonical(object? value) => value switch
    {
        null => "<null>",
        string s => s,
        IEnumerable items => "[" + string.Join("|", items.Cast<object?>().Select(Canonical)) + "]",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? string.Empty,
    };

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static string Escape(string text) => System.Text.RegularExpressions.Regex.Escape(text);

    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MultiVip.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("The repository root (MultiVip.slnx) is not above " + AppContext.BaseDirectory);
    }
}
