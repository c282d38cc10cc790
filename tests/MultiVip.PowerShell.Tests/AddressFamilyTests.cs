using MultiVip.Model.Services;

namespace MultiVip.PowerShell.Tests;

/// <summary>Add-AzureVirtualIP -AddressFamily: IPv4 by default, IPv6 when asked and the pool has IPv6 addresses.</summary>
public sealed class AddressFamilyTests
{
    [Fact]
    public async Task Add_AzureVirtualIP_takes_an_address_family_and_checks_it()
    {
        await using var server = await TestServer.StartAsync(extraPools: ["2001:db8:100::/120"]);
        var result = await server.PwshAsync("""
            New-AzureService -ServiceName svc | Out-Null
            New-AzureVM -ServiceName svc -Name vm1 -IPAddress 127.0.0.1 | Out-Null
            '=== v6'
            Add-AzureVirtualIP -VirtualIPName Vip6 -ServiceName svc -AddressFamily IPv6
            '=== v4'
            Add-AzureVirtualIP -VirtualIPName Vip4 -ServiceName svc
            '=== bad'
            . Invoke-Interactive 'Add-AzureVirtualIP -VirtualIPName Vip5 -ServiceName svc -AddressFamily IPv5'
            '=== end'

            """);

        Output.AssertOperations(result.Section("v6"), "Add-AzureVirtualIP");
        Output.AssertOperations(result.Section("v4"), "Add-AzureVirtualIP");
        Assert.StartsWith("Cannot validate argument on parameter 'AddressFamily'. The argument \"IPv5\" does not belong to the set \"IPv4,IPv6\"", Assert.Single(Output.Errors(result.Section("bad"))), StringComparison.Ordinal);
        var vips = server.Server.Control.Current.Services["svc"].Deployment!.VirtualIps;
        Assert.Equal(VipAddressFamily.IPv6, vips.Single(v => v.Name == "Vip6").AddressFamily);
        Assert.Equal(VipAddressFamily.IPv4, vips.Single(v => v.Name == "Vip4").AddressFamily);
        Assert.DoesNotContain(vips, v => v.Name == "Vip5");
    }
}
