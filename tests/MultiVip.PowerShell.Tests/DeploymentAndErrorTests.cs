using MultiVip.Model.Errors;

namespace MultiVip.PowerShell.Tests;

/// <summary>Get-AzureDeployment's Azure properties, and the Operation Tracking ID of errors.</summary>
public sealed class DeploymentAndErrorTests
{
    [Fact]
    public async Task Get_AzureDeployment_has_Azures_name_slot_status_label_and_a_url_in_the_servers_zone()
    {
        await using var server = await TestServer.StartAsync(network: "127.69", dnsZone: "lb.example.test");
        var result = await server.PwshAsync("""
            New-AzureService -ServiceName myService | Out-Null
            New-AzureVM -ServiceName myService -Name myVM1 -IPAddress 127.0.0.1 | Out-Null
            '=== deployment'
            Get-AzureDeployment -ServiceName myService | Format-List ServiceName, DeploymentName, Slot, Status, Label, Url | Out-String -Width 200
            '=== url type'
            (Get-AzureDeployment myService).Url.GetType().FullName
            '=== end'

            """);

        var deployment = Assert.Single(Output.List(result.Section("deployment")));
        Assert.Equal(
            ("myService", "myService", "Production", "Running", "myService", "http://myservice.lb.example.test/"),
            (deployment["ServiceName"], deployment["DeploymentName"], deployment["Slot"], deployment["Status"], deployment["Label"], deployment["Url"]));
        Assert.Equal("System.Uri", Output.NonEmpty(result.Section("url type")).Single());
    }

    [Fact]
    public async Task An_accepted_operation_that_fails_gives_its_tracking_id_and_a_refused_request_none()
    {
        await using var server = await TestServer.StartAsync(network: "127.69");
        var result = await server.PwshAsync("""
            New-AzureService -ServiceName svc | Out-Null
            New-AzureVM -ServiceName svc -Name vm1 -IPAddress 127.0.0.1 | Out-Null
            # Hold the port the endpoint will want on the default VIP: the server accepts the change,
            # and the data plane then cannot listen there, so the operation fails after it got its id.
            $vip = (Get-AzureDeployment svc).VirtualIPs | Where-Object Name -eq Vip1
            $holder = [System.Net.Sockets.TcpListener]::new([ipaddress]$vip.Address, 0)
            $holder.Start()
            $port = $holder.LocalEndpoint.Port
            '=== failed'
            . Invoke-Interactive "Get-AzureVM svc vm1 | Add-AzureEndpoint -Name web -Protocol tcp -LocalPort 8080 -PublicPort $port | Update-AzureVM"
            '=== operation'
            Get-AzureOperationStatus -First 1 | Format-List OperationDescription, OperationId, OperationStatus, ErrorCode | Out-String -Width 200
            '=== refused'
            . Invoke-Interactive 'Remove-AzureVirtualIP -VirtualIPName Vip1 -ServiceName svc -Force'
            '=== end'
            $holder.Stop()

            """);

        var operation = Assert.Single(Output.List(result.Section("operation")));
        Assert.Equal(("Update-AzureVM", "Failed", "DataPlaneError"), (operation["OperationDescription"], operation["OperationStatus"], operation["ErrorCode"]));
        var failed = Assert.Single(Output.Errors(result.Section("failed")));
        Assert.StartsWith("An exception occurred when calling the ServiceManagement API. HTTP Status Code: 500. Service Management Error Code: DataPlaneError. Message: The change is stored but the data plane could not apply it", failed, StringComparison.Ordinal);
        Assert.EndsWith($". Operation Tracking ID: {operation["OperationId"]}.", failed, StringComparison.Ordinal);

        var refused = Assert.Single(Output.Errors(result.Section("refused")));
        Assert.DoesNotContain("Operation Tracking ID", refused, StringComparison.Ordinal);
        Assert.EndsWith("Service Management Error Code: ConflictError. Message: " + Messages.DefaultVirtualIpCannotBeRemoved("Vip1").TrimEnd('.') + ".", refused, StringComparison.Ordinal);
    }
}
