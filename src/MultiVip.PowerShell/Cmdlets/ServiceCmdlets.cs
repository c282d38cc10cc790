using System.Globalization;
using System.Management.Automation;
using MultiVip.Contracts;
using MultiVip.PowerShell.Completion;
using MultiVip.PowerShell.Infrastructure;
using MultiVip.PowerShell.Objects;

namespace MultiVip.PowerShell.Cmdlets;

[Cmdlet(VerbsCommon.New, "AzureService"), OutputType(typeof(ManagementOperationContext))]
public sealed class NewAzureServiceCmdlet : MultiVipCmdlet
{
    [Parameter(Position = 0, Mandatory = true, ValueFromPipelineByPropertyName = true, HelpMessage = "Cloud service name (a DNS label).")]
    public string ServiceName { get; set; } = string.Empty;

    [Parameter(Position = 1, ValueFromPipelineByPropertyName = true)]
    public string? Label { get; set; }

    [Parameter(Position = 2, ValueFromPipelineByPropertyName = true)]
    public string? Description { get; set; }

    /// <summary>Optional here (Azure required it): a single-site load balancer has one location, "local".</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? Location { get; set; }

    protected override void ProcessRecord() =>
        WriteOperation((c, ct) => c.CreateServiceAsync(
            new CreateServiceRequest { Name = ServiceName, Label = Label, Description = Description, Location = Location }, cancellationToken: ct), ServiceName);
}

[Cmdlet(VerbsCommon.Get, "AzureService"), OutputType(typeof(HostedServiceContext))]
public sealed class GetAzureServiceCmdlet : MultiVipCmdlet
{
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(ServiceNameCompleter))]
    public string? ServiceName { get; set; }

    protected override void ProcessRecord()
    {
        if (ServiceName is null)
        {
            foreach (var s in Call((c, ct) => c.ListServicesAsync(ct)))
            {
                WriteObject(new HostedServiceContext(s));
            }

            return;
        }

        WriteObject(new HostedServiceContext(Call((c, ct) => c.GetServiceAsync(ServiceName, ct), ServiceName).Value));
    }
}

[Cmdlet(VerbsCommon.Remove, "AzureService", SupportsShouldProcess = true), OutputType(typeof(ManagementOperationContext))]
public sealed class RemoveAzureServiceCmdlet : MultiVipCmdlet
{
    [Parameter(Position = 0, Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(ServiceNameCompleter))]
    public string ServiceName { get; set; } = string.Empty;

    /// <summary>Also removes the deployment with its VMs and endpoints.</summary>
    [Parameter]
    public SwitchParameter DeleteAll { get; set; }

    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        var question = string.Format(CultureInfo.InvariantCulture, "This cmdlet will remove the cloud service '{0}'. Do you want to continue?", ServiceName);
        if ((Force || ShouldContinue(question, string.Empty)) && ShouldProcess(ServiceName, "Remove the cloud service"))
        {
            WriteOperation((c, ct) => c.DeleteServiceAsync(ServiceName, DeleteAll, cancellationToken: ct), ServiceName);
        }
    }
}

[Cmdlet(VerbsCommon.Get, "AzureDeployment"), OutputType(typeof(DeploymentInfoContext))]
public sealed class GetAzureDeploymentCmdlet : MultiVipCmdlet
{
    [Parameter(Position = 0, Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(ServiceNameCompleter))]
    public string ServiceName { get; set; } = string.Empty;

    /// <summary>Only Production exists here; Staging is accepted for scripts and reported as absent.</summary>
    [Parameter(Position = 1, ValueFromPipelineByPropertyName = true)]
    [ValidateSet("Staging", "Production", IgnoreCase = true)]
    public string Slot { get; set; } = "Production";

    protected override void ProcessRecord()
    {
        if (string.Equals(Slot, "Staging", StringComparison.OrdinalIgnoreCase))
        {
            throw InvalidArgument(
                $"The cloud service '{ServiceName}' has no Staging deployment: MultiVip keeps only the Production slot.", ServiceName);
        }

        WriteObject(new DeploymentInfoContext(Call((c, ct) => c.GetDeploymentAsync(ServiceName, ct), ServiceName).Value));
    }
}

[Cmdlet(VerbsCommon.Add, "AzureVirtualIP"), OutputType(typeof(ManagementOperationContext))]
public sealed class AddAzureVirtualIPCmdlet : MultiVipCmdlet
{
    [Parameter(Position = 0, Mandatory = true, HelpMessage = "Virtual IP name.")]
    [ValidateNotNullOrEmpty]
    public string VirtualIPName { get; set; } = string.Empty;

    [Parameter(Position = 1, Mandatory = true, ValueFromPipelineByPropertyName = true, HelpMessage = "Cloud service name.")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ServiceNameCompleter))]
    public string ServiceName { get; set; } = string.Empty;

    /// <summary>IPv4 (default) or IPv6, as in Azure Resource Manager's -IpAddressVersion; classic VIPs were IPv4 only.</summary>
    [Parameter(HelpMessage = "IPv4 (default) or IPv6: the pool ranges the VIP's address comes from.")]
    [ValidateSet("IPv4", "IPv6", IgnoreCase = true)]
    public string? AddressFamily { get; set; }

    protected override void ProcessRecord() =>
        WriteOperation((c, ct) => c.AddVirtualIpAsync(ServiceName, new AddVirtualIpRequest { Name = VirtualIPName, AddressFamily = AddressFamily }, cancellationToken: ct), VirtualIPName);
}

[Cmdlet(VerbsCommon.Remove, "AzureVirtualIP", SupportsShouldProcess = true), OutputType(typeof(ManagementOperationContext))]
public sealed class RemoveAzureVirtualIPCmdlet : MultiVipCmdlet
{
    [Parameter(Position = 0, Mandatory = true, HelpMessage = "Virtual IP name.")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(VirtualIPNameCompleter))]
    public string VirtualIPName { get; set; } = string.Empty;

    [Parameter(Position = 1, Mandatory = true, ValueFromPipelineByPropertyName = true, HelpMessage = "Cloud service name.")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ServiceNameCompleter))]
    public string ServiceName { get; set; } = string.Empty;

    [Parameter(Position = 2, HelpMessage = "Do not ask for confirmation.")]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        // Azure's ConfirmAction: ShouldContinue unless -Force, then ShouldProcess (so -WhatIf still works with -Force).
        if ((Force || ShouldContinue(Model.Errors.Messages.RemoveVirtualIpConfirmation, string.Empty))
            && ShouldProcess(VirtualIPName, "Remove the virtual IP from cloud service " + ServiceName))
        {
            WriteOperation((c, ct) => c.RemoveVirtualIpAsync(ServiceName, VirtualIPName, cancellationToken: ct), VirtualIPName);
        }
    }
}
