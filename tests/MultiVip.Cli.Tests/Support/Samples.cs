using MultiVip.Contracts;
using MultiVip.Model.Operations;
using MultiVip.Model.Services;

namespace MultiVip.Cli.Tests.Support;

internal static class Samples
{
    public static readonly Guid SeedOperationId = Guid.Parse("4bd7b638-d2e7-216f-ba38-5221233d70ce");

    public static Operation Operation(OperationStatus status, Guid? id = null, string description = "Add-AzureVirtualIP") => new()
    {
        OperationId = id ?? SeedOperationId,
        OperationDescription = description,
        OperationStatus = status,
        Target = "myService",
        CreatedAt = new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero),
    };

    public static Operation Failed(string code, string message, Guid? id = null) =>
        Operation(OperationStatus.Failed, id) with { ErrorCode = code, ErrorMessage = message };

    /// <summary>The seed's second VirtualIPs sample.</summary>
    public static IReadOnlyList<VirtualIp> SeedVips { get; } =
    [
        new() { Name = "Vip1", Address = "191.238.74.148", IsDnsProgrammed = true },
        new() { Name = "Vip2", Address = "191.238.74.13" },
        new() { Name = "Vip3" },
    ];

    public static VirtualMachine Vm(long version = 7) => new()
    {
        Name = "myVM1",
        Address = "10.0.0.4",
        Version = version,
        Endpoints =
        [
            new InputEndpoint
            {
                Name = "myEndpoint",
                Protocol = TransportProtocol.Tcp,
                LocalPort = 8181,
                PublicPort = 81,
                VirtualIpName = "Vip2",
                LoadBalancedSetName = "myLBSet",
                Probe = new LoadBalancerProbe { Protocol = ProbeProtocol.Tcp, Port = 8181 },
                Acl = [new AclRule { Order = 100, Action = AclAction.Permit, RemoteSubnet = "10.0.0.0/8", Description = "office" }],
            },
        ],
    };

    public static DeploymentView Deployment() => new()
    {
        ServiceName = "myService",
        Name = "myService",
        Slot = "Production",
        CreatedAt = new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero),
        Version = 12,
        VirtualIps = SeedVips,
        VirtualMachines = [Vm()],
        LoadBalancedSets =
        [
            new LoadBalancedSetView
            {
                Name = "myLBSet",
                VirtualIpName = "Vip2",
                Protocol = TransportProtocol.Tcp,
                PublicPort = 81,
                Probe = new LoadBalancerProbe { Port = 8181 },
                Members = [new LoadBalancedSetMember("myVM1", "myEndpoint", 8181)],
            },
        ],
    };
}
