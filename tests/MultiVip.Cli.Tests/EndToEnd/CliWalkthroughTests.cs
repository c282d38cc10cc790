using MultiVip.Cli.Tests.Cli;
using MultiVip.Server.Hosting;

namespace MultiVip.Cli.Tests.EndToEnd;

/// <summary>The seed's walk-through typed as CLI commands against a real server on loopback.</summary>
public sealed class CliWalkthroughTests : IAsyncLifetime
{
    private RunningServer _server = null!;
    private string _dataDir = null!;

    public async Task InitializeAsync()
    {
        _dataDir = Path.Combine(Path.GetTempPath(), "multivip-cli-e2e", Guid.NewGuid().ToString("N"));
        _server = await ServerHost.StartAsync(new ServerOptions
        {
            DataDir = _dataDir,
            Api = "http://127.0.0.1:0",
            Dns = "127.0.0.1:0",
            VipPools = [$"127.103.{Random.Shared.Next(0, 250)}.0/24"],
        });
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_dataDir, recursive: true);
    }

    /// <summary>No --api or --token: the CLI finds both in the data dir the server wrote, as a user's does.</summary>
    private Task<CliRun> Run(params string[] args) => TestCli.RunAsync([.. args, "--data-dir", _dataDir]);

    private async Task<string> Ok(params string[] args)
    {
        var run = await Run(args);
        Assert.True(run.ExitCode == 0, $"{string.Join(' ', args)} exited {run.ExitCode}: {run.Error}");
        return run.Out;
    }

    private static void AssertOperation(string output, string description)
    {
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"^OperationDescription\s+OperationId\s+OperationStatus\s*$", lines[0]);
        Assert.Matches($@"^{description}\s+[0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}} Succeeded\s*$", lines[2]);
    }

    [Fact]
    public async Task Seed_walkthrough_prints_what_the_seed_prints()
    {
        AssertOperation(await Ok("service", "create", "--name", "myService"), "New-AzureService");
        AssertOperation(await Ok("vm", "add", "--service", "myService", "--name", "myVM1", "--address", "127.0.0.11"), "New-AzureVM");
        AssertOperation(await Ok("vm", "add", "--service", "myService", "--name", "myVM2", "--address", "127.0.0.12"), "New-AzureVM");
        AssertOperation(await Ok("vip", "add", "--service", "myService", "--name", "Vip2"), "Add-AzureVirtualIP");
        AssertOperation(await Ok("vip", "add", "--service", "myService", "--name", "Vip3"), "Add-AzureVirtualIP");

        var vips = await Ok("vip", "list", "--service", "myService");
        var vip1 = _server.Control.Current.Services["myService"].Deployment!.VirtualIps[0].Address!;
        Assert.Equal(
            $"""
            Address         : {vip1}
            IsDnsProgrammed : True
            Name            : Vip1
            ReservedIPName  :
            ExtensionData   :

            Address         :
            IsDnsProgrammed :
            Name            : Vip2
            ReservedIPName  :
            ExtensionData   :

            Address         :
            IsDnsProgrammed :
            Name            : Vip3
            ReservedIPName  :
            ExtensionData   :

            """.ReplaceLineEndings("\n"),
            vips.ReplaceLineEndings("\n"));

        AssertOperation(await Ok("endpoint", "add", "--service", "myService", "--vm", "myVM1", "--name", "myEndpoint", "--protocol", "tcp", "--local-port", "8080", "--public-port", "80", "--vip", "Vip2"), "Add-AzureEndpoint");
        var vip2 = _server.Control.Current.Services["myService"].Deployment!.FindVirtualIp("Vip2")!.Address;
        Assert.NotNull(vip2);
        Assert.Contains($"Address         : {vip2}\nIsDnsProgrammed :\nName            : Vip2", (await Ok("deployment", "show", "--service", "myService")).ReplaceLineEndings("\n"));

        foreach (var vm in new[] { "myVM1", "myVM2" })
        {
            AssertOperation(await Ok("endpoint", "add", "--service", "myService", "--vm", vm, "--name", "myLBEndpoint", "--lb-set", "myLBSet", "--protocol", "tcp", "--local-port", "8181", "--public-port", "81", "--vip", "Vip2", "--default-probe"), "Add-AzureEndpoint");
        }

        AssertOperation(await Ok("lbset", "set", "--service", "myService", "--name", "myLBSet", "--vip", "Vip1"), "Set-AzureLoadBalancedEndpoint");
        Assert.Matches(@"myLBSet\s+Vip1\s+tcp\s+81", await Ok("lbset", "list", "--service", "myService"));
        AssertOperation(await Ok("vip", "remove", "--service", "myService", "--name", "Vip3", "--force"), "Remove-AzureVirtualIP");
        Assert.DoesNotContain("Vip3", await Ok("vip", "list", "--service", "myService"));
    }

    [Fact]
    public async Task Bad_input_gets_a_clear_message_and_a_nonzero_exit()
    {
        await Ok("service", "create", "--name", "myService");
        await Ok("vm", "add", "--service", "myService", "--name", "myVM1", "--address", "127.0.0.11");
        await Ok("endpoint", "add", "--service", "myService", "--vm", "myVM1", "--name", "web", "--protocol", "tcp", "--local-port", "8080", "--public-port", "80");
        var before = _server.Control.Current.Generation;

        async Task Fails(string message, params string[] args)
        {
            var run = await Run(args);
            Assert.NotEqual(0, run.ExitCode);
            Assert.StartsWith("multivip: ", run.Error);
            Assert.Contains(message, run.Error);
        }

        await Fails("The cloud service 'nope' does not exist", "vip", "add", "--service", "nope", "--name", "Vip2");
        await Fails("The VM 'ghost' does not exist in cloud service 'myService'", "endpoint", "add", "--service", "myService", "--vm", "ghost", "--name", "x", "--protocol", "tcp", "--local-port", "1");
        await Fails("An endpoint named 'web' has already been defined for this VM.", "endpoint", "add", "--service", "myService", "--vm", "myVM1", "--name", "web", "--protocol", "tcp", "--local-port", "9090");
        await Fails("Ports must be in the range of 1 - 65535", "endpoint", "add", "--service", "myService", "--vm", "myVM1", "--name", "p0", "--protocol", "tcp", "--local-port", "0");
        await Fails("Ports must be in the range of 1 - 65535", "endpoint", "add", "--service", "myService", "--vm", "myVM1", "--name", "p7", "--protocol", "tcp", "--local-port", "8081", "--public-port", "70000");
        await Fails("is not a valid subnet", "endpoint", "add", "--service", "myService", "--vm", "myVM1", "--name", "acl", "--protocol", "tcp", "--local-port", "8082", "--acl", "100:permit:10.0.0.0/33");
        await Fails("The virtual IP 'Vip1' is the deployment's default virtual IP", "vip", "remove", "--service", "myService", "--name", "Vip1", "--force");
        await Fails("--force", "vip", "remove", "--service", "myService", "--name", "Vip1");
        Assert.Equal(before, _server.Control.Current.Generation);
    }
}
