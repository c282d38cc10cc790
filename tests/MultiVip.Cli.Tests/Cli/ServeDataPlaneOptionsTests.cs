using System.CommandLine;
using System.Globalization;
using System.Reflection;
using MultiVip.Cli.Infrastructure;
using MultiVip.Cli.Serve;
using MultiVip.DataPlane;
using MultiVip.Server.Hosting;

namespace MultiVip.Cli.Tests.Cli;

/// <summary>
/// `multivip serve` sets every <see cref="DataPlaneOptions"/> field. Walks the properties by
/// reflection against the one mapping table (<see cref="ServerHost.DataPlaneSettings"/>), then
/// parses each option for real and checks it reaches its property, and only that one.
/// </summary>
public sealed class ServeDataPlaneOptionsTests
{
    private static readonly PropertyInfo[] Properties = typeof(DataPlaneOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance);

    [Fact]
    public void Every_DataPlaneOptions_property_has_one_serve_option()
    {
        var serve = ServeCommand.Create(Cli(), (_, _, _, _) => Task.FromResult(0));
        foreach (var property in Properties)
        {
            var rows = ServerHost.DataPlaneSettings.Count(s => s.Property == property.Name);
            Assert.True(rows == 1,
                $"DataPlaneOptions.{property.Name} has {rows} rows in ServerHost.DataPlaneSettings (src/MultiVip.Server/Hosting/DefaultDataPlane.cs). " +
                "Give it exactly one, with a ServerOptions field, a `multivip serve` option and a README row, so an operator can set it.");
        }

        foreach (var setting in ServerHost.DataPlaneSettings)
        {
            Assert.Contains(setting.Property, Properties.Select(p => p.Name));
            Assert.True(serve.Options.Any(o => o.Name == setting.ServeOption), $"`multivip serve` has no option {setting.ServeOption} (row {setting.Property}).");
        }
    }

    [Fact]
    public async Task Each_data_plane_option_of_serve_reaches_its_property_and_only_it()
    {
        // Without options, serve gives the data plane its own defaults.
        var baseline = ServerHost.DataPlaneOptionsFor(await ParseAsync());
        Assert.Equal(new DataPlaneOptions(), baseline);

        var serve = ServeCommand.Create(Cli(), (_, _, _, _) => Task.FromResult(0));
        foreach (var setting in ServerHost.DataPlaneSettings)
        {
            var other = serve.Options.Single(o => o.Name == setting.ServeOption) switch
            {
                Option<int> given => ((int)given.GetDefaultValue()! + 1).ToString(CultureInfo.InvariantCulture),
                Option<int?> derived => "1234", // no default of its own: sized from the open-file limit
                Option<string?> or Option<string> => "eth9",
                Option<SocketEngine> engine => Enum.GetValues<SocketEngine>().First(e => e != (SocketEngine)engine.GetDefaultValue()!).ToString().ToLowerInvariant(),
                Option<SpliceMode> mode => Enum.GetValues<SpliceMode>().First(e => e != (SpliceMode)mode.GetDefaultValue()!).ToString().ToLowerInvariant(),
                var option => throw new InvalidOperationException($"{option.Name} has the type {option.ValueType}: add a sample for it here."),
            };
            var parsed = ServerHost.DataPlaneOptionsFor(await ParseAsync(setting.ServeOption, other));
            var changed = Properties.Where(p => !Equals(p.GetValue(parsed), p.GetValue(baseline))).Select(p => p.Name);
            Assert.Equal([setting.Property], changed);
        }
    }

    [Fact]
    public async Task Connect_timeout_is_in_milliseconds_and_attempts_are_a_count()
    {
        var options = ServerHost.DataPlaneOptionsFor(await ParseAsync("--connect-timeout", "250", "--connect-attempts", "2"));
        Assert.Equal(TimeSpan.FromMilliseconds(250), options.BackendConnectTimeout);
        Assert.Equal(2, options.MaxConnectAttempts);

        // "5" meant as seconds would be a 5 ms timeout: refused, saying the unit, and nothing starts.
        var run = await TestCli.RunAsync(["serve", "--connect-timeout", "5"]);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--connect-timeout is in milliseconds and must be at least 10", run.Error);
        run = await TestCli.RunAsync(["serve", "--connect-attempts", "0"]);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--connect-attempts must be at least 1", run.Error);
    }

    /// <summary>Parses `serve` with <paramref name="args"/> and returns the options it would start the server with.</summary>
    private static async Task<ServerOptions> ParseAsync(params string[] args)
    {
        ServerOptions? captured = null;
        var cli = Cli();
        var root = new RootCommand();
        foreach (var option in cli.Global.All)
        {
            root.Options.Add(option);
        }

        root.Subcommands.Add(ServeCommand.Create(cli, (_, options, _, _) =>
        {
            captured = options;
            return Task.FromResult(0);
        }));
        var parse = root.Parse(["serve", .. args]);
        Assert.Empty(parse.Errors);
        Assert.Equal(0, await parse.InvokeAsync());
        return captured ?? throw new InvalidOperationException("serve did not run");
    }

    private static CliContext Cli() =>
        new(new CliConsole(TextWriter.Null, TextWriter.Null, TextReader.Null, IsOutputTerminal: false, IsInputTerminal: false, _ => null));
}
