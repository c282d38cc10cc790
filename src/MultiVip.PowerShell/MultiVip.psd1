# MultiVip: the classic Azure "multiple VIPs per cloud service" cmdlets against a MultiVip server.
@{
    RootModule           = 'MultiVip.PowerShell.dll'
    ModuleVersion        = '1.0.0'
    GUID                 = '6f0d7c1e-3a53-4a8e-9d0b-2b7f0e6c4a11'
    Author               = 'MultiVip'
    Description          = 'Cmdlets of the classic Azure Service Management module (Add-AzureVirtualIP, Get-AzureVM | Add-AzureEndpoint | Update-AzureVM, ...) for a self-hosted MultiVip load balancer.'
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
    FormatsToProcess     = @('MultiVip.Format.ps1xml')
    CmdletsToExport      = @(
        'Set-MultiVipContext',
        'New-AzureService', 'Get-AzureService', 'Remove-AzureService',
        'Get-AzureDeployment',
        'Add-AzureVirtualIP', 'Remove-AzureVirtualIP',
        'New-AzureVM', 'Get-AzureVM', 'Update-AzureVM', 'Remove-AzureVM', 'Set-AzureVMState',
        'Add-AzureEndpoint', 'Set-AzureEndpoint', 'Remove-AzureEndpoint', 'Get-AzureEndpoint',
        'Set-AzureLoadBalancedEndpoint',
        'New-AzureAclConfig', 'Set-AzureAclConfig', 'Get-AzureAclConfig', 'Remove-AzureAclConfig',
        'New-AzureReservedIP', 'Get-AzureReservedIP', 'Remove-AzureReservedIP',
        'Set-AzureReservedIPAssociation', 'Remove-AzureReservedIPAssociation',
        'Get-AzureOperationStatus',
        'Get-AzureServiceUsage'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
}
