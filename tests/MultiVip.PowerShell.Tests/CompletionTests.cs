namespace MultiVip.PowerShell.Tests;

/// <summary>Tab completion (TabExpansion2, what Tab and Ctrl+Space call) of names from a live server.</summary>
public sealed class CompletionTests
{
    [Fact]
    public async Task Tab_completes_services_VMs_VIPs_sets_endpoints_and_reserved_IPs_from_the_server()
    {
        await using var server = await TestServer.StartAsync(network: "127.69");
        // A shell opened where `multivip serve` keeps its data (./.multivip) finds the server from its
        // current location, as the cmdlets do; the process's own directory (the repo root) has none.
        var here = Directory.CreateTempSubdirectory("multivip-ps-here-").FullName;
        Directory.CreateSymbolicLink(Path.Combine(here, ".multivip"), server.DataDir);
        var result = await server.PwshAsync($$"""
            New-AzureService -ServiceName alpha-shop | Out-Null
            New-AzureService -ServiceName alpha-blog | Out-Null
            New-AzureService -ServiceName beta | Out-Null
            New-AzureVM -ServiceName alpha-shop -Name web1 -IPAddress 127.0.0.1 | Out-Null
            New-AzureVM -ServiceName alpha-shop -Name web2 -IPAddress 127.0.0.2 | Out-Null
            New-AzureVM -ServiceName beta -Name db1 -IPAddress 127.0.0.3 | Out-Null
            Add-AzureVirtualIP -VirtualIPName Vip2 -ServiceName alpha-shop | Out-Null
            Add-AzureVirtualIP -VirtualIPName Tls3 -ServiceName alpha-shop | Out-Null
            Add-AzureVirtualIP -VirtualIPName Other -ServiceName beta | Out-Null
            Get-AzureVM alpha-shop web1 | Add-AzureEndpoint -Name https -Protocol tcp -LocalPort 8443 -PublicPort 443 -LBSetName tls -DefaultProbe | Add-AzureEndpoint -Name admin -Protocol tcp -LocalPort 9000 | Update-AzureVM | Out-Null
            Get-AzureVM alpha-shop web2 | Add-AzureEndpoint -Name https -Protocol tcp -LocalPort 8443 -PublicPort 443 -LBSetName tls -DefaultProbe | Update-AzureVM | Out-Null
            Get-AzureVM beta db1 | Add-AzureEndpoint -Name sql -Protocol tcp -LocalPort 1433 -LBSetName sqlset -NoProbe | Update-AzureVM | Out-Null
            New-AzureReservedIP -ReservedIPName keep-me -Location local | Out-Null

            function Complete([string] $line) {
                (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText -join ','
            }
            '=== services'
            Complete 'Get-AzureDeployment -ServiceName '
            '=== services prefix'
            Complete 'Get-AzureDeployment -ServiceName ALP'
            '=== vms'
            Complete 'Get-AzureVM -ServiceName alpha-shop -Name '
            '=== vms positional'
            Complete 'Remove-AzureVM alpha-shop w'
            '=== vms every service'
            Complete 'Get-AzureVM -Name '
            '=== vips'
            Complete 'Remove-AzureVirtualIP -ServiceName alpha-shop -VirtualIPName '
            '=== vips from the pipeline'
            Complete 'Get-AzureVM -ServiceName beta -Name db1 | Add-AzureEndpoint -Name x -Protocol tcp -LocalPort 1 -VirtualIPName '
            '=== sets'
            Complete 'Set-AzureLoadBalancedEndpoint -ServiceName alpha-shop -LBSetName '
            '=== sets by alias from the pipeline'
            Complete 'Get-AzureVM alpha-shop web2 | Add-AzureEndpoint -Name x -Protocol tcp -LocalPort 1 -LoadBalancedEndpointSetName '
            '=== endpoints'
            Complete 'Get-AzureVM -ServiceName alpha-shop -Name web1 | Set-AzureEndpoint -Name '
            '=== reserved'
            Complete 'Remove-AzureReservedIP -ReservedIPName '
            '=== unknown service'
            Complete 'Get-AzureVM -ServiceName nosuch -Name '
            '=== from the location'
            $env:MULTIVIP_API = $null
            $env:MULTIVIP_TOKEN = $null
            Set-Location '{{here}}'
            Complete 'Get-AzureService -ServiceName b'
            '=== no server'
            Set-MultiVipContext -Api http://127.0.0.1:1 -Token x
            Complete 'Get-AzureDeployment -ServiceName '
            '=== end'

            """);

        string Line(string section) => string.Join('\n', Output.NonEmpty(result.Section(section)));
        Assert.Equal("alpha-blog,alpha-shop,beta", Line("services"));
        Assert.Equal("alpha-blog,alpha-shop", Line("services prefix"));
        Assert.Equal("web1,web2", Line("vms"));
        Assert.Equal("web1,web2", Line("vms positional"));
        Assert.Equal("db1,web1,web2", Line("vms every service"));
        Assert.Equal("Tls3,Vip1,Vip2", Line("vips"));
        Assert.Equal("Other,Vip1", Line("vips from the pipeline"));
        Assert.Equal("tls", Line("sets"));
        Assert.Equal("tls", Line("sets by alias from the pipeline"));
        Assert.Equal("admin,https", Line("endpoints"));
        Assert.Equal("keep-me", Line("reserved"));
        Assert.Equal(string.Empty, Line("unknown service"));
        Assert.Equal("beta", Line("from the location"));
        Assert.Equal(string.Empty, Line("no server"));
        Directory.Delete(here, recursive: true);
    }
}
