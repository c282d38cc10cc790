using System.Text.RegularExpressions;
using MultiVip.Cli.Tests.Cli;

namespace MultiVip.Cli.Tests.Scripting;

/// <summary>`serve --help` lists what applies to serve, each default once.</summary>
public sealed partial class ServeHelpTests
{
    [GeneratedRegex(@"^  (?<names>-\S.*?)\s{2,}(?<description>.*)$")]
    private static partial Regex OptionRow();

    private static async Task<Dictionary<string, string>> HelpRowsAsync(params string[] args)
    {
        var run = await TestCli.RunAsync(args);
        Assert.Equal(0, run.ExitCode);
        var rows = new Dictionary<string, string>(StringComparer.Ordinal);
        var options = run.Out.Split(Environment.NewLine).SkipWhile(l => l != "Options:").Skip(1).TakeWhile(l => l.Length > 0);
        string[] names = [];
        foreach (var line in options)
        {
            // A wrapped description (help on a terminal) continues on lines indented past the names.
            if (line.StartsWith("   ", StringComparison.Ordinal))
            {
                foreach (var name in names)
                {
                    rows[name] += " " + line.Trim();
                }

                continue;
            }

            var row = OptionRow().Match(line);
            Assert.True(row.Success, $"not an option row: '{line}'");
            names = row.Groups["names"].Value.Split(' ').Where(n => n.StartsWith('-')).Select(n => n.TrimEnd(',')).ToArray();
            foreach (var name in names)
            {
                rows[name] = row.Groups["description"].Value;
            }
        }

        return rows;
    }

    [Fact]
    public async Task Serve_help_lists_only_what_serve_takes()
    {
        var rows = await HelpRowsAsync("serve", "--help");

        foreach (var clientOnly in new[] { "--token", "--output", "-o", "--pascal", "--timeout", "--no-wait" })
        {
            Assert.False(rows.ContainsKey(clientOnly), $"serve --help lists the client option {clientOnly}");
        }

        foreach (var option in new[] { "--api", "--data-dir", "--vip-pool", "--drain-timeout", "--dns", "--log-format", "--demo", "--help" })
        {
            Assert.True(rows.ContainsKey(option), $"serve --help does not list {option}");
        }
    }

    [Fact]
    public async Task Serve_help_states_each_default_once()
    {
        var rows = await HelpRowsAsync("serve", "--help");

        foreach (var (option, description) in rows)
        {
            // The bug was "Default 30. [default: 30]": the description's default and the help's own.
            var appended = Regex.Count(description, @"\[default:", RegexOptions.IgnoreCase);
            var stated = Regex.Count(description, @"\bdefault\b", RegexOptions.IgnoreCase) - appended;
            Assert.True(appended == 0 || stated == 0, $"{option} states its default twice: {description}");
            Assert.True(appended <= 1, $"{option} appends its default {appended} times: {description}");
        }

        Assert.Contains("Default 30.", rows["--drain-timeout"], StringComparison.Ordinal);
        Assert.Contains("Default http://127.0.0.1:7400.", rows["--api"], StringComparison.Ordinal);
        Assert.Contains("Default ./.multivip.", rows["--data-dir"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_refuses_client_options_with_a_sentence()
    {
        // Should serve start after all, it does so on a port of its own and is stopped.
        var dataDir = Path.Combine(Path.GetTempPath(), "multivip-serve-help", Guid.NewGuid().ToString("N"));
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var run = await TestCli.RunAsync(
            ["serve", "--token", "x", "--timeout", "5", "--api", "http://127.0.0.1:0", "--dns", "off", "--vip-pool", "127.74.254.0/24", "--data-dir", dataDir],
            cancellationToken: stop.Token);
        if (Directory.Exists(dataDir))
        {
            Directory.Delete(dataDir, recursive: true);
        }

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("multivip: --token does not apply to 'multivip serve'", run.Error, StringComparison.Ordinal);
        Assert.Contains("--timeout does not apply to 'multivip serve'", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Client_verbs_keep_every_global_option()
    {
        var rows = await HelpRowsAsync("vm", "list", "--help");

        foreach (var option in new[] { "--api", "--token", "--data-dir", "--output", "--pascal", "--timeout", "--no-wait", "--service" })
        {
            Assert.True(rows.ContainsKey(option), $"vm list --help does not list {option}");
        }
    }
}
