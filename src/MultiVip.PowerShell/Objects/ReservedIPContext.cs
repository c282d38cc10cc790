using MultiVip.Model.ReservedIps;

namespace MultiVip.PowerShell.Objects;

/// <summary>Get-AzureReservedIP, with Azure's property names.</summary>
public sealed class ReservedIPContext
{
    internal ReservedIPContext(ReservedIp r)
    {
        ReservedIPName = r.Name;
        Address = r.Address;
        Id = r.Id.ToString();
        Label = r.Label;
        Location = r.Location;
        State = r.State;
        InUse = r.InUse;
        ServiceName = r.ServiceName;
        DeploymentName = r.DeploymentName;
        VirtualIPName = r.VirtualIpName;
    }

    public string ReservedIPName { get; }

    public string Address { get; }

    public string Id { get; }

    public string? Label { get; }

    public string Location { get; }

    public string State { get; }

    public bool InUse { get; }

    public string? ServiceName { get; }

    public string? DeploymentName { get; }

    public string? VirtualIPName { get; }
}
