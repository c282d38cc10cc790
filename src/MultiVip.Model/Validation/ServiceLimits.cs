namespace MultiVip.Model.Validation;

/// <summary>Azure's default limits; each can be raised or lowered per server.</summary>
public sealed record ServiceLimits
{
    public static readonly ServiceLimits Default = new();

    /// <summary>Public VIPs per deployment, the default one included (Azure: 5).</summary>
    public int MaxVirtualIpsPerDeployment { get; init; } = 5;

    /// <summary>Input endpoints per cloud service (Azure: 150).</summary>
    public int MaxEndpointsPerService { get; init; } = 150;

    /// <summary>VMs per cloud service (Azure: 50).</summary>
    public int MaxVmsPerService { get; init; } = 50;

    /// <summary>ACL rules per endpoint (Azure: 50).</summary>
    public int MaxAclRulesPerEndpoint { get; init; } = 50;
}
