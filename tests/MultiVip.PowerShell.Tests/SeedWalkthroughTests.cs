using System.Text;
using MultiVip.Model.Errors;

namespace MultiVip.PowerShell.Tests;

/// <summary>
/// The seed's PowerShell blocks, verbatim and in order, in one pwsh against a live server, with the
/// printed output asserted field by field. The seed is not self-consistent, and the test asserts
/// what really happens (docs/powershell.md, "The seed, run verbatim"):
/// - it shows Vip2 before anyone adds it, so the setup adds Vip2 along with myService, myVM1, myVM2;
/// - it removes Vip3 and then shows it: after the removal only Vip1 and Vip2 are listed;
/// - its load-balanced-set block adds a second "myEndpoint" to myVM1, which Azure refused with
///   "An endpoint named 'myEndpoint' has already been defined for this VM. ..." and so do we; myVM2
///   joins the set alone.
/// </summary>
public sealed class SeedWalkthroughTests
{
    private const string Setup = """
        New-AzureService -ServiceName myService | Out-Null
        New-AzureVM -ServiceName myService -Name myVM1 -IPAddress 127.0.0.1 | Out-Null
        New-AzureVM -ServiceName myService -Name myVM2 -IPAddress 127.0.0.2 | Out-Null
        Add-AzureVirtualIP -VirtualIPName Vip2 -ServiceName myService | Out-Null

        """;

    [Fact]
    public async Task Seed_blocks_run_verbatim_and_print_like_the_seed()
    {
        await using var server = await TestServer.StartAsync();
        var script = new StringBuilder(Setup);
        for (var i = 0; i < SeedBlocks.All.Count; i++)
        {
            script.Append("'=== block ").Append(i + 1).Append("'\n");
            script.Append(". Invoke-Interactive ").Append(SeedBlocks.HereString(SeedBlocks.All[i])).Append('\n');
        }

        // After the seed: what the two VMs and the deployment hold now.
        script.Append("""
            '=== myVM1'
            Get-AzureVM -ServiceName myService -Name myVM1 | Get-AzureEndpoint | Format-List Name, LocalPort, Port, VirtualIPName, LBSetName | Out-String -Width 200
            '=== myVM2'
            Get-AzureVM -ServiceName myService -Name myVM2 | Get-AzureEndpoint | Format-List Name, LocalPort, Port, VirtualIPName, LBSetName, ProbeProtocol, ProbePort | Out-String -Width 200
            '=== final'
            (Get-AzureDeployment -ServiceName myService).VirtualIPs | Out-String -Width 200
            '=== end'

            """);

        // Block 2 (Remove-AzureVirtualIP without -Force) asks for confirmation: answer Yes as a user would.
        var result = await server.PwshAsync(script.ToString(), input: "Y\n");

        // 1: Add-AzureVirtualIP
        var block1 = result.Section("block 1");
        Assert.Contains(Output.OperationHeader, Output.NonEmpty(block1));
        Output.AssertOperations(block1, "Add-AzureVirtualIP");

        // 2: Remove-AzureVirtualIP, confirmed at the prompt
        var block2 = result.Section("block 2");
        Assert.Contains(Messages.RemoveVirtualIpConfirmation, Flatten(block2), StringComparison.Ordinal);
        // "Remove-AzureVirtualIP" is 21 characters: its column is one wider than the seed's header.
        Output.AssertOperations(AfterPrompt(block2), "Remove-AzureVirtualIP");

        // 3: the VIPs: the default one with its address and IsDnsProgrammed True, Vip2 without address
        var block3 = result.Section("block 3");
        var vips = Output.List(block3);
        Assert.Equal(["Vip1", "Vip2"], vips.Select(v => v["Name"]));
        var vip1Address = vips[0]["Address"];
        Assert.StartsWith(server.PoolPrefix, vip1Address, StringComparison.Ordinal);
        AssertVip(vips[0], vip1Address, "True", "Vip1");
        AssertVip(vips[1], string.Empty, string.Empty, "Vip2");
        Assert.Equal(
            ["Address         : " + vip1Address, "IsDnsProgrammed : True", "Name            : Vip1", "ReservedIPName  :", "ExtensionData   :"],
            Output.NonEmpty(block3).Take(5));

        // 4: the endpoint on Vip2
        Output.AssertOperations(result.Section("block 4"), "Update-AzureVM");

        // 5: Vip2 has an address now
        vips = Output.List(result.Section("block 5"));
        Assert.Equal(["Vip1", "Vip2"], vips.Select(v => v["Name"]));
        AssertVip(vips[0], vip1Address, "True", "Vip1");
        var vip2Address = vips[1]["Address"];
        Assert.StartsWith(server.PoolPrefix, vip2Address, StringComparison.Ordinal);
        Assert.NotEqual(vip1Address, vip2Address);
        AssertVip(vips[1], vip2Address, string.Empty, "Vip2");

        // 6: myVM1 already has myEndpoint: refused locally with Azure's message; myVM2 joins myLBSet
        var block6 = result.Section("block 6");
        Assert.Equal([Messages.EndpointNameExists("myEndpoint")], Output.Errors(block6));
        Output.AssertOperations(block6, "Update-AzureVM");

        // 7: the set moves to Vip1
        Output.AssertOperations(result.Section("block 7"), "Set-AzureLoadBalancedEndpoint");

        var vm1 = Output.List(result.Section("myVM1"));
        var only = Assert.Single(vm1);
        Assert.Equal(("myEndpoint", "8080", "80", "Vip2", string.Empty), (only["Name"], only["LocalPort"], only["Port"], only["VirtualIPName"], only["LBSetName"]));

        var vm2 = Assert.Single(Output.List(result.Section("myVM2")));
        Assert.Equal(
            ("myEndpoint", "8181", "81", "Vip1", "myLBSet", "tcp", "8181"),
            (vm2["Name"], vm2["LocalPort"], vm2["Port"], vm2["VirtualIPName"], vm2["LBSetName"], vm2["ProbeProtocol"], vm2["ProbePort"]));

        // Vip2 keeps its address: myVM1's endpoint still uses it.
        vips = Output.List(result.Section("final"));
        AssertVip(vips[0], vip1Address, "True", "Vip1");
        AssertVip(vips[1], vip2Address, string.Empty, "Vip2");
    }

    [Fact]
    public void Blocks_are_the_seeds_verbatim()
    {
        var seed = FindSeed();
        if (seed is null)
        {
            return; // The seed lives in shared/, beside the repository; without it there is nothing to compare.
        }

        Assert.Equal(SeedBlocks.Extract(File.ReadAllText(seed)), SeedBlocks.All.Select(b => b.Replace("\r\n", "\n", StringComparison.Ordinal)));
    }

    private static void AssertVip(Dictionary<string, string> vip, string address, string isDnsProgrammed, string name)
    {
        Assert.Equal(address, vip["Address"]);
        Assert.Equal(isDnsProgrammed, vip["IsDnsProgrammed"]);
        Assert.Equal(name, vip["Name"]);
        Assert.Equal(string.Empty, vip["ReservedIPName"]);
        Assert.Equal(string.Empty, vip["ExtensionData"]);
        Assert.Equal(5, vip.Count);
    }

    /// <summary>The prompt wraps at the console width; compare its words.</summary>
    private static string Flatten(string text) => string.Join(' ', text.Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries));

    private static string AfterPrompt(string section) =>
        section[section.IndexOf("OperationDescription", StringComparison.Ordinal)..];

    private static string? FindSeed()
    {
        const string relative = "shared/seed/000_5d8dde946eaeeadf.txt";
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, relative);
            if (File.Exists(path))
            {
                return path;
            }
        }

        return null;
    }
}
