using MultiVip.Model.Errors;

namespace MultiVip.PowerShell.Tests;

/// <summary>Confirmation, local validation, pipeline, ETag and error wrapping; one pwsh run per scenario.</summary>
public sealed class CmdletBehaviourTests
{
    private const string Setup = """
        New-AzureService -ServiceName svc | Out-Null
        New-AzureVM -ServiceName svc -Name vm1 -IPAddress 127.0.0.1 | Out-Null
        New-AzureVM -ServiceName svc -Name vm2 -IPAddress 127.0.0.2 | Out-Null

        """;

    private const string WrapPrefix = "An exception occurred when calling the ServiceManagement API. HTTP Status Code: ";

    [Fact]
    public async Task Remove_AzureVirtualIP_asks_unless_Force_and_a_declined_prompt_changes_nothing()
    {
        await using var server = await TestServer.StartAsync();
        var result = await server.PwshAsync(Setup + """
            Add-AzureVirtualIP -VirtualIPName VipA -ServiceName svc | Out-Null
            Add-AzureVirtualIP VipB svc | Out-Null
            '=== declined'
            . Invoke-Interactive 'Remove-AzureVirtualIP -VirtualIPName VipA -ServiceName svc'
            '=== after declined'
            (Get-AzureDeployment svc).VirtualIPs.Name -join ','
            '=== force'
            . Invoke-Interactive 'Remove-AzureVirtualIP -VirtualIPName VipA -ServiceName svc -Force'
            '=== whatif'
            . Invoke-Interactive 'Remove-AzureVirtualIP VipB svc -Force -WhatIf'
            '=== after'
            (Get-AzureDeployment svc).VirtualIPs.Name -join ','
            '=== default vip'
            . Invoke-Interactive 'Remove-AzureVirtualIP -VirtualIPName Vip1 -ServiceName svc -Force'
            '=== end'

            """, input: "N\n");

        var declined = result.Section("declined");
        Assert.Contains("Confirm", declined, StringComparison.Ordinal);
        Assert.DoesNotContain("OperationId", declined, StringComparison.Ordinal);
        Assert.Equal("Vip1,VipA,VipB", Output.NonEmpty(result.Section("after declined")).Single());

        Assert.DoesNotContain("Confirm", result.Section("force"), StringComparison.Ordinal);
        Output.AssertOperations(result.Section("force"), "Remove-AzureVirtualIP");
        Assert.Contains("What if: Performing the operation", result.Section("whatif"), StringComparison.Ordinal);
        Assert.Equal("Vip1,VipB", Output.NonEmpty(result.Section("after")).Single());

        var error = Assert.Single(Output.Errors(result.Section("default vip")));
        Assert.Equal(WrapPrefix + "409. Service Management Error Code: ConflictError. Message: " + Messages.DefaultVirtualIpCannotBeRemoved("Vip1").TrimEnd('.') + ".", error);
    }

    [Fact]
    public async Task Parameter_validation_happens_locally_with_Azures_messages()
    {
        await using var server = await TestServer.StartAsync();
        var result = await server.PwshAsync(Setup + """
            $vm = Get-AzureVM -ServiceName svc -Name vm1
            '=== port'
            . Invoke-Interactive '$vm | Add-AzureEndpoint -Name web -Protocol tcp -LocalPort 70000'
            '=== public port'
            . Invoke-Interactive '$vm | Add-AzureEndpoint -Name web -Protocol tcp -LocalPort 80 -PublicPort 0'
            '=== tcp path'
            . Invoke-Interactive '$vm | Add-AzureEndpoint web tcp 80 -LBSetName set -ProbeProtocol tcp -ProbePort 80 -ProbePath /health'
            '=== http no path'
            . Invoke-Interactive '$vm | Add-AzureEndpoint web tcp 80 -LBSetName set -ProbeProtocol http -ProbePort 80'
            '=== protocol'
            . Invoke-Interactive '$vm | Add-AzureEndpoint web tpc 80'
            '=== duplicate'
            $vm | Add-AzureEndpoint web tcp 80 | Out-Null
            . Invoke-Interactive '$vm | Add-AzureEndpoint WEB udp 81'
            '=== local port'
            . Invoke-Interactive '$vm | Add-AzureEndpoint other tcp 80'
            '=== dsr ports'
            . Invoke-Interactive '$vm | Add-AzureEndpoint -Name sql -Protocol tcp -LocalPort 1433 -PublicPort 1434 -DirectServerReturn $true'
            '=== dsr ports set'
            . Invoke-Interactive '$vm | Set-AzureEndpoint -Name web -DirectServerReturn $true -PublicPort 8080'
            '=== set missing'
            . Invoke-Interactive '$vm | Set-AzureEndpoint -Name nope -PublicPort 81'
            '=== remove missing'
            . Invoke-Interactive '$vm | Remove-AzureEndpoint nope'
            '=== acl subnet'
            . Invoke-Interactive 'New-AzureAclConfig | Set-AzureAclConfig -AddRule -Action Permit -RemoteSubnet 10.0.0.0/33'
            '=== lb unknown'
            . Invoke-Interactive 'Set-AzureLoadBalancedEndpoint -ServiceName svc -LBSetName nope -VirtualIPName Vip1'
            '=== lb http without path'
            . Invoke-Interactive 'Set-AzureLoadBalancedEndpoint -ServiceName svc -LBSetName nope -ProbeProtocolHTTP'
            '=== nothing committed'
            (Get-AzureVM -ServiceName svc -Name vm1 | Get-AzureEndpoint | Measure-Object).Count
            '=== end'

            """);

        Assert.Equal([Messages.PortRange], Output.Errors(result.Section("port")));
        Assert.Equal([Messages.PortRange], Output.Errors(result.Section("public port")));
        Assert.Equal([Messages.ProbePathNotValidWithTcp], Output.Errors(result.Section("tcp path")));
        Assert.Equal([Messages.ProbePathRequiredForHttp], Output.Errors(result.Section("http no path")));
        Assert.StartsWith("Cannot validate argument on parameter 'Protocol'. The argument \"tpc\" does not belong to the set \"tcp,udp\"", Assert.Single(Output.Errors(result.Section("protocol"))), StringComparison.Ordinal);
        Assert.Equal([Messages.EndpointNameExists("WEB")], Output.Errors(result.Section("duplicate")));
        Assert.Equal([Messages.LocalPortInUse(80, "other")], Output.Errors(result.Section("local port")));
        // Floating IP keeps the port: refused on the object, before Update-AzureVM sends anything.
        Assert.Equal([Messages.DirectServerReturnPorts("sql", 1433, 1434)], Output.Errors(result.Section("dsr ports")));
        Assert.Equal([Messages.DirectServerReturnPorts("web", 80, 8080)], Output.Errors(result.Section("dsr ports set")));
        Assert.Equal([Messages.EndpointNotFound("nope")], Output.Errors(result.Section("set missing")));
        Assert.Equal([Messages.EndpointNotFound("nope")], Output.Errors(result.Section("remove missing")));
        Assert.Equal([Messages.InvalidCidr("10.0.0.0/33")], Output.Errors(result.Section("acl subnet")));
        Assert.Equal(
            [WrapPrefix + "404. Service Management Error Code: ResourceNotFound. Message: " + Messages.LoadBalancedSetNotFound("nope").TrimEnd('.') + "."],
            Output.Errors(result.Section("lb unknown")));
        Assert.Contains("ProbePath", Assert.Single(Output.Errors(result.Section("lb http without path"))), StringComparison.Ordinal);
        Assert.Equal("0", Output.NonEmpty(result.Section("nothing committed")).Single());
    }

    [Fact]
    public async Task Pipeline_edits_in_memory_Update_AzureVM_commits_and_refuses_a_stale_VM()
    {
        await using var server = await TestServer.StartAsync();
        var result = await server.PwshAsync(Setup + """
            '=== pipeline'
            . Invoke-Interactive @'
            Get-AzureVM -ServiceName svc -Name vm1 | Add-AzureEndpoint -Name web -Protocol tcp -LocalPort 8080 -PublicPort 80 | Add-AzureEndpoint dns udp 5353 -PublicPort 53 | Update-AzureVM
            '@
            '=== endpoints'
            Get-AzureVM svc vm1 | Get-AzureEndpoint | Format-List Name, Protocol, LocalPort, Port, VirtualIPName, Vip | Out-String -Width 200
            '=== stale'
            $stale = Get-AzureVM -ServiceName svc -Name vm1
            Get-AzureVM -ServiceName svc -Name vm1 | Set-AzureEndpoint -Name web -PublicPort 8081 | Update-AzureVM | Out-Null
            . Invoke-Interactive '$stale | Remove-AzureEndpoint -Name dns | Update-AzureVM'
            '=== after stale'
            (Get-AzureVM svc vm1 | Get-AzureEndpoint | ForEach-Object { "$($_.Name):$($_.Port)" }) -join ','
            '=== reuse'
            $vm = Get-AzureVM svc vm1
            . Invoke-Interactive '$vm | Remove-AzureEndpoint dns | Update-AzureVM'
            . Invoke-Interactive '$vm | Set-AzureEndpoint web -LocalPort 9090 | Update-AzureVM'
            '=== after reuse'
            (Get-AzureVM svc vm1 | Get-AzureEndpoint | ForEach-Object { "$($_.Name):$($_.LocalPort)" }) -join ','
            '=== acl'
            $acl = New-AzureAclConfig
            Set-AzureAclConfig -AddRule -ACL $acl -Action Permit -RemoteSubnet 10.0.0.0/8 -Order 100 -Description office
            Set-AzureAclConfig -AddRule -ACL $acl -Action Deny -RemoteSubnet 0.0.0.0/0 -Order 200
            Get-AzureVM svc vm2 | Add-AzureEndpoint -Name web -Protocol tcp -LocalPort 80 -PublicPort 8088 -ACL $acl | Update-AzureVM | Out-Null
            Get-AzureVM svc vm2 | Get-AzureAclConfig -EndpointName web | Out-String -Width 200
            '=== no service'
            . Invoke-Interactive 'Get-AzureDeployment -ServiceName nosuch'
            '=== operation'
            $op = Add-AzureVirtualIP Vip9 svc
            $op | Get-AzureOperationStatus | Format-List OperationDescription, OperationStatus, Target | Out-String -Width 200
            '=== end'

            """);

        Output.AssertOperations(result.Section("pipeline"), "Update-AzureVM");
        var endpoints = Output.List(result.Section("endpoints"));
        Assert.Equal(["dns", "web"], endpoints.Select(e => e["Name"]).Order());
        var web = endpoints.Single(e => e["Name"] == "web");
        Assert.Equal(("tcp", "8080", "80", "Vip1"), (web["Protocol"], web["LocalPort"], web["Port"], web["VirtualIPName"]));
        Assert.StartsWith(server.PoolPrefix, web["Vip"], StringComparison.Ordinal);
        var dns = endpoints.Single(e => e["Name"] == "dns");
        Assert.Equal(("udp", "5353", "53"), (dns["Protocol"], dns["LocalPort"], dns["Port"]));

        var stale = Assert.Single(Output.Errors(result.Section("stale")));
        Assert.StartsWith(WrapPrefix + "412. Service Management Error Code: PreconditionFailed. Message: The VM 'vm1' has changed since you read it", stale, StringComparison.Ordinal);
        Assert.Equal("web:8081,dns:53", Output.NonEmpty(result.Section("after stale")).Single());

        // Update-AzureVM refreshes the object (endpoints and ETag), so it can be edited and committed again.
        var reuse = result.Section("reuse");
        Assert.Empty(Output.Errors(reuse));
        Output.AssertOperations(reuse, "Update-AzureVM", "Update-AzureVM");
        Assert.Equal("web:9090", Output.NonEmpty(result.Section("after reuse")).Single());

        var acl = Output.NonEmpty(result.Section("acl"));
        Assert.Equal("RuleId Order Action RemoteSubnet Description", acl[0]);
        Assert.Matches(@"^\s+0\s+100 Permit 10\.0\.0\.0/8\s+office$", acl[2]);
        Assert.Matches(@"^\s+1\s+200 Deny\s+0\.0\.0\.0/0$", acl[3]);

        Assert.Equal(
            [WrapPrefix + "404. Service Management Error Code: ResourceNotFound. Message: " + Messages.ServiceNotFound("nosuch").TrimEnd('.') + "."],
            Output.Errors(result.Section("no service")));

        var operation = Assert.Single(Output.List(result.Section("operation")));
        Assert.Equal(("Add-AzureVirtualIP", "Succeeded", "svc"), (operation["OperationDescription"], operation["OperationStatus"], operation["Target"]));
    }

    [Fact]
    public async Task Services_VMs_and_reserved_IPs_round_trip()
    {
        await using var server = await TestServer.StartAsync();
        var result = await server.PwshAsync(Setup + """
            '=== service'
            Get-AzureService svc | Format-List ServiceName, Status, DeploymentName, VMCount | Out-String -Width 200
            '=== reserve'
            . Invoke-Interactive 'New-AzureReservedIP -ReservedIPName rip1 -Location local -Label web'
            '=== associate'
            . Invoke-Interactive 'Set-AzureReservedIPAssociation -ReservedIPName rip1 -ServiceName svc'
            '=== reserved'
            Get-AzureReservedIP rip1 | Format-List ReservedIPName, Address, InUse, ServiceName, VirtualIPName | Out-String -Width 200
            (Get-AzureDeployment svc).VirtualIPs | Where-Object Name -eq Vip1 | Out-String -Width 200
            '=== wrong service'
            . Invoke-Interactive 'Remove-AzureReservedIPAssociation -ReservedIPName rip1 -ServiceName other -Force'
            '=== disassociate'
            . Invoke-Interactive 'Remove-AzureReservedIPAssociation -ReservedIPName rip1 -ServiceName svc -Force'
            . Invoke-Interactive 'Remove-AzureReservedIP -ReservedIPName rip1 -Force'
            '=== vms'
            . Invoke-Interactive 'Remove-AzureVM -ServiceName svc -Name vm2'
            (Get-AzureVM -ServiceName svc).Name -join ','
            '=== remove service'
            . Invoke-Interactive 'Remove-AzureService -ServiceName svc -DeleteAll -Force'
            (Get-AzureService | Measure-Object).Count
            '=== end'

            """);

        var service = Assert.Single(Output.List(result.Section("service")));
        Assert.Equal(("svc", "Created", "svc", "2"), (service["ServiceName"], service["Status"], service["DeploymentName"], service["VMCount"]));
        Output.AssertOperations(result.Section("reserve"), "New-AzureReservedIP");
        Output.AssertOperations(result.Section("associate"), "Set-AzureReservedIPAssociation");
        var reserved = Output.List(result.Section("reserved"));
        Assert.Equal(("rip1", "True", "svc", "Vip1"), (reserved[0]["ReservedIPName"], reserved[0]["InUse"], reserved[0]["ServiceName"], reserved[0]["VirtualIPName"]));
        Assert.StartsWith(server.PoolPrefix, reserved[0]["Address"], StringComparison.Ordinal);
        Assert.Equal((reserved[0]["Address"], "True", "Vip1", "rip1"), (reserved[1]["Address"], reserved[1]["IsDnsProgrammed"], reserved[1]["Name"], reserved[1]["ReservedIPName"]));

        Assert.Equal([Messages.ReservedIpNotAssociatedWith("rip1", "other", "Vip1")], Output.Errors(result.Section("wrong service")));
        Output.AssertOperations(result.Section("disassociate"), "Remove-AzureReservedIPAssociation", "Remove-AzureReservedIP");
        var vms = result.Section("vms");
        Output.AssertOperations(vms[..vms.LastIndexOf('\n')], "Remove-AzureVM");
        Assert.Equal("vm1", Output.NonEmpty(vms)[^1]);
        var removed = result.Section("remove service");
        Assert.Equal("0", Output.NonEmpty(removed)[^1]);
    }
}
