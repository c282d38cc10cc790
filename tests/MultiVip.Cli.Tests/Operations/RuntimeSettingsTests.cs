using System.Diagnostics;
using System.Text.Json;

namespace MultiVip.Cli.Tests.Operations;

/// <summary>
/// The runtime settings multivip ships with (docs/operations.md#runtime-settings) live in one place,
/// src/MultiVip.Cli/MultiVip.Cli.csproj, and reach every way multivip is started.
/// </summary>
public sealed class RuntimeSettingsTests
{
    /// <summary>The built multivip.runtimeconfig.json: what `dotnet multivip.dll`, the launcher and the single file read.</summary>
    [Fact]
    public async Task The_built_runtimeconfig_carries_the_measured_gc_and_jit_settings()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "multivip.runtimeconfig.json");
        Assert.True(File.Exists(path), $"{path} is missing: the tests run next to the built multivip.");
        using var config = JsonDocument.Parse(await File.ReadAllTextAsync(path));
        var properties = config.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");

        Assert.False(properties.GetProperty("System.GC.Server").GetBoolean());
        Assert.False(properties.GetProperty("System.GC.Concurrent").GetBoolean());
        Assert.True(properties.GetProperty("System.Runtime.TieredCompilation").GetBoolean());
        Assert.True(properties.GetProperty("System.Runtime.TieredPGO").GetBoolean());
        Assert.True(properties.GetProperty("System.Globalization.Invariant").GetBoolean());
    }

    /// <summary>
    /// ReadyToRun is a publish-time setting: MSBuild's own evaluation of the project says it is on, and
    /// both the launcher and `./multivip publish` publish (the launcher for this machine's runtime).
    /// </summary>
    [Fact]
    public async Task Both_the_launcher_and_publish_build_ready_to_run_from_the_project_alone()
    {
        var root = ServeConfigurationTests.RepositoryRoot();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            ArgumentList = { "msbuild", Path.Combine(root, "src", "MultiVip.Cli", "MultiVip.Cli.csproj"), "-nologo", "-getProperty:PublishReadyToRun" },
        };
        using var msbuild = Process.Start(start)!;
        var output = await msbuild.StandardOutput.ReadToEndAsync();
        await msbuild.WaitForExitAsync();
        Assert.True(msbuild.ExitCode == 0, $"dotnet msbuild -getProperty failed: {output}{await msbuild.StandardError.ReadToEndAsync()}");
        Assert.Equal("true", output.Trim());

        var launcher = await File.ReadAllTextAsync(Path.Combine(root, "multivip"));
        Assert.Contains("dotnet publish \"$root/src/MultiVip.Cli/MultiVip.Cli.csproj\" -c Release --use-current-runtime --no-self-contained", launcher);
        Assert.Contains("dotnet publish \"$root/src/MultiVip.Cli/MultiVip.Cli.csproj\" -c Release -r \"$runtime\" --self-contained", launcher);

        // One source of truth: no runtime knob set beside the project, where it would reach one way of starting only.
        var unit = await File.ReadAllTextAsync(Path.Combine(root, "packaging", "systemd", "multivip.service"));
        foreach (var text in new[] { launcher, unit })
        {
            Assert.DoesNotMatch(@"DOTNET_(gc|GC|Tiered|TC_|ReadyToRun|TieredPGO|ThreadPool)", text);
        }
    }
}
