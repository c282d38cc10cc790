using System.Management.Automation;
using MultiVip.Contracts;
using MultiVip.PowerShell.Completion;
using MultiVip.PowerShell.Infrastructure;
using MultiVip.PowerShell.Objects;

namespace MultiVip.PowerShell.Cmdlets;

/// <summary>
/// Registers an existing machine as a VM of the service (deviation: Azure's New-AzureVM created the
/// machine from an image). The first VM creates the Production deployment and its default VIP.
/// </summary>
[Cmdlet(VerbsCommon.New, "AzureVM"), OutputType(typeof(ManagementOperationContext))]
public sealed class NewAzureVMCmdlet : MultiVipCmdlet
{
    [Parameter(Position = 0, Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(ServiceNameCompleter))]
    public string ServiceName { get; set; } = string.Empty;

    [Parameter(Position = 1, Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [Alias("RoleName")]
    public string Name { get; set; } = string.Empty;

    /// <summary>The machine's internal address, where traffic for its endpoints is forwarded.</summary>
    [Parameter(Position = 2, Mandatory = true, ValueFromPipelineByPropertyName = true)]
    public string IPAddress { get; set; } = string.Empty;

    /// <summary>Name of the default VIP when this VM creates the deployment (Vip1).</summary>
    [Parameter]
    public string? DefaultVirtualIPName { get; set; }

    protected override void ProcessRecord() =>
        WriteOperation((c, ct) => c.AddVmAsync(ServiceName, new AddVmRequest { Name = Name, Address = IPAddress, DefaultVirtualIpName = DefaultVirtualIPName }, cancellationToken: ct), Name);
}

[Cmdlet(VerbsCommon.Get, "AzureVM"), OutputType(typeof(PersistentVMRoleContext))]
public sealed class GetAzureVMCmdlet : MultiVipCmdlet
{
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(ServiceNameCompleter))]
    public string? ServiceName { get; set; }

    [Parameter(Position = 1, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(VmNameCompleter))]
    public string? Name { get; set; }

    protected override void ProcessRecord()
    {
        if (ServiceName is not null && Name is not null)
        {
            WriteObject(ReadVm(ServiceName, Name));
            return;
        }

        var services = ServiceName is not null
            ? [ServiceName]
            : Call((c, ct) => c.ListServicesAsync(ct)).Where(s => s.DeploymentName is not null).Select(s => s.Name).ToList();
        foreach (var service in services)
        {
            foreach (var vm in Call((c, ct) => c.ListVmsAsync(service, ct), service))
            {
                if (Name is null || string.Equals(vm.Name, Name, StringComparison.OrdinalIgnoreCase))
                {
                    WriteObject(ReadVm(service, vm.Name));
                }
            }
        }
    }
}

/// <summary>
/// Commits the VM object's endpoint list with PUT + If-Match: if the VM changed on the server since
/// Get-AzureVM read it, the server refuses (PreconditionFailed) and nothing is overwritten.
/// </summary>
[Cmdlet(VerbsData.Update, "AzureVM"), OutputType(typeof(ManagementOperationContext))]
public sealed class UpdateAzureVMCmdlet : MultiVipCmdlet
{
    [Parameter(Position = 0, Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(ServiceNameCompleter))]
    public string ServiceName { get; set; } = string.Empty;

    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(VmNameCompleter))]
    public string Name { get; set; } = string.Empty;

    [Parameter(Mandatory = true, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("InputObject")]
    public IPersistentVM? VM { get; set; }

    protected override void ProcessRecord()
    {
        var vm = VM!.GetInstance();
        var request = new UpdateVmRequest { Endpoints = vm.Endpoints.ToList() };
        WriteOperation((c, ct) => c.UpdateVmAsync(ServiceName, Name, request, vm.ETag, cancellationToken: ct), Name);

        // Refresh the object so it can be edited and committed again without another Get-AzureVM.
        var fresh = Call((c, ct) => c.GetVmAsync(ServiceName, Name, ct), Name);
        var deployment = Call((c, ct) => c.GetDeploymentAsync(ServiceName, ct), ServiceName).Value;
        vm.Load(fresh.Value, fresh.ETag, VipAddresses(deployment));
    }
}

[Cmdlet(VerbsCommon.Remove, "AzureVM"), OutputType(typeof(ManagementOperationContext))]
public sealed class RemoveAzureVMCmdlet : MultiVipCmdlet
{
    [Parameter(Position = 0, Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(ServiceNameCompleter))]
    public string ServiceName { get; set; } = string.Empty;

    [Parameter(Position = 1, Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(VmNameCompleter))]
    public string Name { get; set; } = string.Empty;

    /// <summary>Accepted for scripts; there are no disks to delete.</summary>
    [Parameter]
    public SwitchParameter DeleteVHD { get; set; }

    protected override void ProcessRecord() =>
        WriteOperation((c, ct) => c.RemoveVmAsync(ServiceName, Name, cancellationToken: ct), Name);
}

/// <summary>
/// Maintenance without removing endpoints (no Azure counterpart; HAProxy's ready / drain / maint):
/// Draining sends the VM no new connections while established ones go on, and becomes Disabled when
/// they reach 0; Disabled takes it out at once; Enabled puts it back into rotation.
/// </summary>
[Cmdlet(VerbsCommon.Set, "AzureVMState"), OutputType(typeof(ManagementOperationContext))]
public sealed class SetAzureVMStateCmdlet : MultiVipCmdlet
{
    [Parameter(Position = 0, Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(ServiceNameCompleter))]
    public string ServiceName { get; set; } = string.Empty;

    [Parameter(Position = 1, Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(VmNameCompleter))]
    public string Name { get; set; } = string.Empty;

    [Parameter(Position = 2, Mandatory = true)]
    [ValidateSet("Enabled", "Draining", "Disabled")]
    public string State { get; set; } = string.Empty;

    protected override void ProcessRecord() =>
        WriteOperation((c, ct) => c.SetVmStateAsync(ServiceName, Name, new SetVmStateRequest { State = State.ToLowerInvariant() }, cancellationToken: ct), Name);
}
