using MultiVip.Contracts;

namespace MultiVip.PowerShell.Objects;

/// <summary>Get-AzureService.</summary>
public sealed class HostedServiceContext
{
    internal HostedServiceContext(ServiceView s)
    {
        ServiceName = s.Name;
        Label = s.Label;
        Description = s.Description;
        Location = s.Location;
        DateCreated = s.CreatedAt;
        DeploymentName = s.DeploymentName;
        VMCount = s.VmCount;
    }

    public string ServiceName { get; }

    public string? Label { get; }

    public string? Description { get; }

    public string Location { get; }

    public string Status => "Created";

    public DateTimeOffset DateCreated { get; }

    public string? DeploymentName { get; }

    public int VMCount { get; }
}
