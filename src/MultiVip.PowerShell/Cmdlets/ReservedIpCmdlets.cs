using System.Globalization;
using System.Management.Automation;
using MultiVip.Contracts;
using MultiVip.Model.Errors;
using MultiVip.Model.Services;
using MultiVip.PowerShell.Completion;
using MultiVip.PowerShell.Infrastructure;
using MultiVip.PowerShell.Objects;

namespace MultiVip.PowerShell.Cmdlets;

[Cmdlet(VerbsCommon.New, "AzureReservedIP"), OutputType(typeof(ManagementOperationContext))]
public sealed class NewAzureReservedIPCmdlet : MultiVipCmdlet
{
    [Parameter(Position = 0, Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string ReservedIPName { get; set; } = string.Empty;

    [Parameter(Position = 1, ValueFromPipelineByPropertyName = true)]
    public string? Label { get; set; }

    [Parameter(Position = 2, Mandatory = true, ValueFromPipelineByPropertyName = true)]
    public string Location { get; set; } = string.Empty;

    /// <summary>With a service: reserve the address its VIP already has.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(ServiceNameCompleter))]
    public string? ServiceName { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(VirtualIPNameCompleter))]
    public string? VirtualIPName { get; set; }

    protected override void ProcessRecord() =>
        WriteOperation((c, ct) => c.CreateReservedIpAsync(new CreateReservedIpRequest
        {
            Name = ReservedIPName,
            Label = Label,
            Location = Location,
            ServiceName = ServiceName,
            VirtualIpName = VirtualIPName,
        }, cancellationToken: ct), ReservedIPName);
}

[Cmdlet(VerbsCommon.Get, "AzureReservedIP"), OutputType(typeof(ReservedIPContext))]
public sealed class GetAzureReservedIPCmdlet : MultiVipCmdlet
{
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(ReservedIPNameCompleter))]
    public string? ReservedIPName { get; set; }

    protected override void ProcessRecord()
    {
        if (ReservedIPName is null)
        {
            foreach (var r in Call((c, ct) => c.ListReservedIpsAsync(ct)))
            {
                WriteObject(new ReservedIPContext(r));
            }

            return;
        }

        WriteObject(new ReservedIPContext(Call((c, ct) => c.GetReservedIpAsync(ReservedIPName, ct), ReservedIPName)));
    }
}

[Cmdlet(VerbsCommon.Remove, "AzureReservedIP", SupportsShouldProcess = true), OutputType(typeof(ManagementOperationContext))]
public sealed class RemoveAzureReservedIPCmdlet : MultiVipCmdlet
{
    [Parameter(Position = 0, Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ReservedIPNameCompleter))]
    public string ReservedIPName { get; set; } = string.Empty;

    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        var question = string.Format(CultureInfo.InvariantCulture, "This cmdlet will remove the reserved IP '{0}'. Do you want to continue?", ReservedIPName);
        if ((Force || ShouldContinue(question, string.Empty)) && ShouldProcess(ReservedIPName, "Remove the reserved IP"))
        {
            WriteOperation((c, ct) => c.RemoveReservedIpAsync(ReservedIPName, cancellationToken: ct), ReservedIPName);
        }
    }
}

[Cmdlet(VerbsCommon.Set, "AzureReservedIPAssociation"), OutputType(typeof(ManagementOperationContext))]
public sealed class SetAzureReservedIPAssociationCmdlet : MultiVipCmdlet
{
    [Parameter(Position = 0, Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ReservedIPNameCompleter))]
    public string ReservedIPName { get; set; } = string.Empty;

    [Parameter(Position = 1, Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ServiceNameCompleter))]
    public string ServiceName { get; set; } = string.Empty;

    /// <summary>The default VIP when omitted.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(VirtualIPNameCompleter))]
    public string? VirtualIPName { get; set; }

    protected override void ProcessRecord() =>
        WriteOperation((c, ct) => c.AssociateReservedIpAsync(ReservedIPName, new AssociateReservedIpRequest { ServiceName = ServiceName, VirtualIpName = VirtualIPName }, cancellationToken: ct), ReservedIPName);
}

[Cmdlet(VerbsCommon.Remove, "AzureReservedIPAssociation", SupportsShouldProcess = true), OutputType(typeof(ManagementOperationContext))]
public sealed class RemoveAzureReservedIPAssociationCmdlet : MultiVipCmdlet
{
    [Parameter(Position = 0, Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ReservedIPNameCompleter))]
    public string ReservedIPName { get; set; } = string.Empty;

    [Parameter(Position = 1, Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ServiceNameCompleter))]
    public string ServiceName { get; set; } = string.Empty;

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(VirtualIPNameCompleter))]
    public string? VirtualIPName { get; set; }

    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        // Checked here so the wrong service or VIP is refused instead of detaching another association.
        var reserved = Call((c, ct) => c.GetReservedIpAsync(ReservedIPName, ct), ReservedIPName);
        if (reserved.ServiceName is null)
        {
            throw InvalidArgument(Messages.ReservedIpNotAssociated(reserved.Name), ReservedIPName);
        }

        if (!Names.Equal(reserved.ServiceName, ServiceName) || (VirtualIPName is not null && !Names.Equal(reserved.VirtualIpName, VirtualIPName)))
        {
            throw InvalidArgument(Messages.ReservedIpNotAssociatedWith(reserved.Name, ServiceName, VirtualIPName ?? reserved.VirtualIpName ?? string.Empty), ReservedIPName);
        }

        var question = string.Format(CultureInfo.InvariantCulture, "This cmdlet will remove the reserved IP '{0}' from cloud service '{1}'. Do you want to continue?", ReservedIPName, ServiceName);
        if ((Force || ShouldContinue(question, string.Empty)) && ShouldProcess(ReservedIPName, "Remove the reserved IP association"))
        {
            WriteOperation((c, ct) => c.DisassociateReservedIpAsync(ReservedIPName, cancellationToken: ct), ReservedIPName);
        }
    }
}

/// <summary>Reads one operation (or the newest ones): our addition, Azure had Get-AzureOperation only in some versions.</summary>
[Cmdlet(VerbsCommon.Get, "AzureOperationStatus"), OutputType(typeof(OperationStatusContext))]
public sealed class GetAzureOperationStatusCmdlet : MultiVipCmdlet
{
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Id", "OperationTrackingId")]
    public Guid? OperationId { get; set; }

    [Parameter]
    [ValidateRange(1, 1000)]
    public int First { get; set; } = 20;

    protected override void ProcessRecord()
    {
        if (OperationId is { } id)
        {
            WriteObject(new OperationStatusContext(Call((c, ct) => c.GetOperationAsync(id, ct), id)));
            return;
        }

        foreach (var operation in Call((c, ct) => c.ListOperationsAsync(First, ct)))
        {
            WriteObject(new OperationStatusContext(operation));
        }
    }
}
