namespace MultiVip.PowerShell.Tests;

/// <summary>Get-AzureServiceUsage against a real server: the report prints, with its VIPs as a collection.</summary>
public sealed class UsageCmdletTests
{
    [Fact]
    public async Task Get_AzureServiceUsage_prints_the_report_and_its_VirtualIPs()
    {
        // This suite's part of 127.71.0.0/16 for the VIP pool.
        await using var server = await TestServer.StartAsync("127.71");
        var result = await server.PwshAsync("""
            New-AzureService -ServiceName myService | Out-Null
            New-AzureVM -ServiceName myService -Name myVM1 -IPAddress 127.0.0.1 | Out-Null
            Add-AzureVirtualIP -VirtualIPName Vip2 -ServiceName myService | Out-Null
            Get-AzureVM -ServiceName myService -Name myVM1 `
            | Add-AzureEndpoint -Name myEndpoint -Protocol tcp -LocalPort 8080 -PublicPort 80 -VirtualIPName Vip2 `
            | Update-AzureVM | Out-Null
            '=== report'
            . Invoke-Interactive 'Get-AzureServiceUsage -ServiceName myService'
            '=== vips'
            . Invoke-Interactive '(Get-AzureServiceUsage myService).VirtualIPs | Format-Table VirtualIPName, IsDnsProgrammed, BytesIn, BytesOut'
            '=== billed'
            $u = Get-AzureServiceUsage myService
            ($u.VirtualIPs | Where-Object VirtualIPName -eq Vip2).Hours -gt 0
            $u.VipHours -eq ($u.VirtualIPs | Where-Object VirtualIPName -eq Vip2).Hours
            (Get-AzureServiceUsage myService -StartTime '2001-01-01' -EndTime '2001-02-01').VipHours
            '=== unknown'
            . Invoke-Interactive 'Get-AzureServiceUsage -ServiceName nope'
            '=== end'

            """);

        var report = Output.List(result.Section("report")).Single();
        Assert.Equal("myService", report["ServiceName"]);
        Assert.Matches(@"^\{Vip1, Vip2 [0-9.]+h\}$", report["VirtualIPs"]);
        Assert.Equal("{}", report["ReservedIPs"]);
        Assert.Contains("VipHours", report.Keys);
        Assert.Equal("0", report["BytesIn"]);

        var vips = Output.NonEmpty(result.Section("vips"));
        Assert.Equal("VirtualIPName IsDnsProgrammed BytesIn BytesOut", vips[0]);
        Assert.Matches(@"^Vip1\s+True\s+0\s+0$", vips[2]);
        Assert.Matches(@"^Vip2\s+False\s+0\s+0$", vips[3]);

        Assert.Equal(["True", "True", "0"], Output.NonEmpty(result.Section("billed")));
        Assert.Contains("ResourceNotFound", Assert.Single(Output.Errors(result.Section("unknown"))), StringComparison.Ordinal);
    }
}
