using System.Text.RegularExpressions;
using MultiVip.Cli.Infrastructure;
using MultiVip.Cli.Serve;
using MultiVip.Cli.Tests.Cli;

namespace MultiVip.Cli.Tests.Operations;

/// <summary>
/// The README's order: the walk-through in ./.multivip, then `multivip serve --demo` in the same
/// directory. The demo keeps its own state, so every command it prints works.
/// </summary>
public sealed partial class DemoDataDirTests : IDisposable
{
    private readonly string _cwd = Path.Combine(Path.GetTempPath(), "multivip-demo-dir", Guid.NewGuid().ToString("N"));
    private readonly int _octet = Random.Shared.Next(1, 250);

    public DemoDataDirTests() => Directory.CreateDirectory(_cwd);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_cwd, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task The_demo_after_the_walkthrough_uses_its_own_data_dir_and_every_printed_command_works()
    {
        var walkthroughDir = Path.Combine(_cwd, ".multivip");
        string[] common = ["--api", "http://127.0.0.1:0", "--dns", "off", "--vip-pool", $"127.70.{_octet}.0/24"];

        // The walk-through, as the README has it, in ./.multivip.
        using (var walkthrough = CliProcess.Start(_cwd, null, ["serve", .. common]))
        {
            await walkthrough.WaitForLineAsync("Stop with Ctrl+C or SIGTERM", CliProcess.Bound);
            foreach (var command in new[]
            {
                "service create --name myService",
                "vm add --service myService --name myVM1 --address 127.0.0.11",
                "vm add --service myService --name myVM2 --address 127.0.0.12",
                "vip add --service myService --name Vip2",
                "endpoint add --service myService --vm myVM1 --name myEndpoint --protocol tcp --local-port 8080 --public-port 80 --vip Vip2",
            })
            {
                var run = await TestCli.RunAsync([.. command.Split(' '), "--data-dir", walkthroughDir]);
                Assert.True(run.ExitCode == 0, $"{command}: {run.Error}");
            }

            walkthrough.Terminate();
            Assert.Equal(0, await walkthrough.WaitForExitAsync(CliProcess.Bound));
        }

        Assert.Equal("1 cloud service, 0 reserved IPs", DemoDataDirectory.Describe(walkthroughDir));

        // The demo, twice: the second run starts afresh although the first one's commands moved the set.
        for (var round = 1; round <= 2; round++)
        {
            using var demo = CliProcess.Start(_cwd, null, ["serve", "--demo", .. common]);
            await demo.WaitForLineAsync("lbset set --service myService", CliProcess.Bound);
            var urls = CurlUrl().Matches(demo.Output).Select(m => m.Groups["url"].Value).ToList();
            using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) })
            {
                foreach (var url in urls)
                {
                    Assert.StartsWith("Hello from myVM", await http.GetStringAsync(new Uri(url)));
                }
            }

            Assert.Equal(4, urls.Count); // three tenants on port 80 and the load-balanced set on 81
            Assert.Contains($"data dir : {Path.Combine(_cwd, DemoDataDirectory.Default)}", demo.Output);
            Assert.Contains("myLBSet on Vip2", demo.Output);

            var commands = demo.Output.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("./multivip ", StringComparison.Ordinal)).ToList();
            Assert.Equal(2, commands.Count);
            foreach (var command in commands)
            {
                var args = command.Split('#')[0]["./multivip ".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                Assert.Contains("--data-dir", args);
                var (exit, output) = await CliProcess.RunAsync(_cwd, args);
                Assert.True(exit == 0, $"{command} exited {exit}: {output}");
            }

            demo.Terminate();
            Assert.Equal(0, await demo.WaitForExitAsync(CliProcess.Bound));
        }

        // The walk-through's state is untouched.
        Assert.Equal("1 cloud service, 0 reserved IPs", DemoDataDirectory.Describe(walkthroughDir));

        // Pointed at a data dir with state, the demo refuses with a sentence and starts nothing.
        var refused = await TestCli.RunAsync(["serve", "--demo", "--data-dir", walkthroughDir, .. common]);
        Assert.Equal(ExitCodes.UsageError, refused.ExitCode);
        Assert.Contains($"The data dir {walkthroughDir} already holds state (1 cloud service, 0 reserved IPs); --demo creates its own myService", refused.Error);
        Assert.DoesNotContain("serving", refused.Out);
    }

    [GeneratedRegex(@"curl (?:-s )?(?<url>http://[0-9.]+:[0-9]+/)")]
    private static partial Regex CurlUrl();
}
