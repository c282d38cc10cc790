using MultiVip.Contracts;

namespace MultiVip.PowerShell.Objects;

/// <summary>One entry of <see cref="DeploymentInfoContext.VirtualIPs"/>, with the property set the seed prints.</summary>
public sealed class VirtualIP
{
    public string? Address { get; init; }

    /// <summary>Nullable as in Azure's contract: True for the default VIP, empty (not False) for the others, as the seed shows.</summary>
    public bool? IsDnsProgrammed { get; init; }

    public required string Name { get; init; }

    public string? ReservedIPName { get; init; }

    /// <summary>Always empty; kept because Azure's WCF data contract had it and the seed's output shows the line.</summary>
    public object? ExtensionData { get; init; }

    internal static VirtualIP From(Model.Services.VirtualIp vip) => new()
    {
        Address = string.IsNullOrEmpty(vip.Address) ? null : vip.Address,
        IsDnsProgrammed = vip.IsDnsProgrammed ? true : null,
        Name = vip.Name,
        ReservedIPName = vip.ReservedIpName,
    };
}

/// <summary>A VM of the deployment, as RoleInstanceList shows it.</summary>
public sealed class RoleInstanceContext
{
    public required string RoleName { get; init; }

    public required string InstanceName { get; init; }

    public required string IPAddress { get; init; }

    public int EndpointCount { get; init; }
}

/// <summary>Get-AzureDeployment.</summary>
public sealed class DeploymentInfoContext
{
    internal DeploymentInfoContext(DeploymentView d)
    {
        ServiceName = d.ServiceName;
        DeploymentName = d.Name;
        Name = d.Name;
        Slot = d.Slot;
        Label = d.Name;
        Url = d.Url is null ? null : new Uri(d.Url);
        CreatedTime = d.CreatedAt;
        ReservedIPName = d.ReservedIpName;
        VirtualIPs = d.VirtualIps.Select(VirtualIP.From).ToList();
        RoleInstanceList = d.VirtualMachines.Select(vm => new RoleInstanceContext
        {
            RoleName = vm.Name,
            InstanceName = vm.Name,
            IPAddress = vm.Address,
            EndpointCount = vm.Endpoints.Count,
        }).ToList();
        LoadBalancedSets = d.LoadBalancedSets;
        Health = d.Health;
    }

    public string ServiceName { get; }

    public string DeploymentName { get; }

    public string Name { get; }

    public string Slot { get; }

    /// <summary>Always Running: a registered machine is never stopped by us.</summary>
    public string Status => "Running";

    /// <summary>The deployment's name, as Azure labelled the deployment New-AzureVM created.</summary>
    public string Label { get; }

    /// <summary>http://&lt;service&gt;.&lt;zone&gt;/ in the server's DNS zone (Azure: http://&lt;service&gt;.cloudapp.net/).</summary>
    public Uri? Url { get; }

    public DateTimeOffset CreatedTime { get; }

    public string? ReservedIPName { get; }

    public IReadOnlyList<VirtualIP> VirtualIPs { get; }

    public IReadOnlyList<RoleInstanceContext> RoleInstanceList { get; }

    public IReadOnlyList<LoadBalancedSetView> LoadBalancedSets { get; }

    /// <summary>Live backend health from the data plane (our addition; Azure showed none).</summary>
    public IReadOnlyList<BackendHealthView> Health { get; }
}
