using System.Management.Automation;
using MultiVip.Contracts;
using MultiVip.Model.Errors;
using MultiVip.Model.Services;
using MultiVip.PowerShell.Infrastructure;
using MultiVip.PowerShell.Objects;

namespace MultiVip.PowerShell.Cmdlets;

/// <summary>Base of the cmdlets that edit a VM object in memory (nothing reaches the server until Update-AzureVM).</summary>
public abstract class VmConfigurationCmdlet : MultiVipCmdlet
{
    [Parameter(Mandatory = true, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true, HelpMessage = "The VM object from Get-AzureVM.")]
    [Alias("InputObject")]
    public IPersistentVM? VM { get; set; }

    protected PersistentVM Instance => VM!.GetInstance();

    /// <summary>Azure checked ports before sending anything, with this message.</summary>
    protected void CheckPort(int? port)
    {
        if (port is < 1 or > 65535)
        {
            throw InvalidArgument(Messages.PortRange, port);
        }
    }

    protected void CheckLocalPortFree(PersistentVM vm, string name, string protocol, int localPort)
    {
        var clash = vm.Endpoints.Find(e => !Names.Equal(e.Name, name)
            && string.Equals(e.Protocol ?? "tcp", protocol, StringComparison.OrdinalIgnoreCase)
            && e.LocalPort == localPort);
        if (clash is not null)
        {
            throw InvalidArgument(Messages.LocalPortInUse(localPort, name), localPort);
        }
    }

    protected void CheckProbePath(string protocol, string? path)
    {
        if (string.Equals(protocol, "tcp", StringComparison.OrdinalIgnoreCase) && !string.IsNullOrEmpty(path))
        {
            throw InvalidArgument(Messages.ProbePathNotValidWithTcp, path);
        }

        if (string.Equals(protocol, "http", StringComparison.OrdinalIgnoreCase) && string.IsNullOrEmpty(path))
        {
            throw InvalidArgument(Messages.ProbePathRequiredForHttp, protocol);
        }
    }
}

[Cmdlet(VerbsCommon.Add, "AzureEndpoint", DefaultParameterSetName = NoLB), OutputType(typeof(IPersistentVM))]
public sealed class AddAzureEndpointCmdlet : VmConfigurationCmdlet
{
    private const string NoLB = "NoLB";
    private const string LBNoProbe = "LBNoProbe";
    private const string LBCustomProbe = "LBCustomProbe";
    private const string LBDefaultProbe = "LBDefaultProbe";

    [Parameter(Position = 0, Mandatory = true, HelpMessage = "Endpoint name.")]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = string.Empty;

    [Parameter(Position = 1, Mandatory = true, HelpMessage = "Endpoint protocol: tcp or udp.")]
    [ValidateSet("tcp", "udp", IgnoreCase = true)]
    public string Protocol { get; set; } = "tcp";

    [Parameter(Position = 2, Mandatory = true, HelpMessage = "Private port on the VM.")]
    public int LocalPort { get; set; }

    [Parameter(HelpMessage = "Public port on the VIP (defaults to the local port).")]
    public int? PublicPort { get; set; }

    [Parameter]
    public bool? DirectServerReturn { get; set; }

    [Parameter]
    public NetworkAclObject? ACL { get; set; }

    [Parameter(ParameterSetName = LBNoProbe, Mandatory = true)]
    [Parameter(ParameterSetName = LBCustomProbe, Mandatory = true)]
    [Parameter(ParameterSetName = LBDefaultProbe, Mandatory = true)]
    [Alias("LoadBalancedEndpointSetName")]
    [ValidateNotNullOrEmpty]
    public string? LBSetName { get; set; }

    [Parameter(ParameterSetName = LBNoProbe)]
    public SwitchParameter NoProbe { get; set; }

    [Parameter(ParameterSetName = LBDefaultProbe, Mandatory = true)]
    public SwitchParameter DefaultProbe { get; set; }

    [Parameter(ParameterSetName = LBCustomProbe, Mandatory = true)]
    public int ProbePort { get; set; }

    [Parameter(ParameterSetName = LBCustomProbe, Mandatory = true)]
    [ValidateSet("tcp", "http", IgnoreCase = true)]
    public string? ProbeProtocol { get; set; }

    [Parameter(ParameterSetName = LBCustomProbe)]
    public string? ProbePath { get; set; }

    [Parameter(ParameterSetName = LBCustomProbe)]
    public int? ProbeIntervalInSeconds { get; set; }

    [Parameter(ParameterSetName = LBCustomProbe)]
    public int? ProbeTimeoutInSeconds { get; set; }

    /// <summary>Accepted for scripts; MultiVip has no internal load balancers.</summary>
    [Parameter]
    public string? InternalLoadBalancerName { get; set; }

    [Parameter]
    public int? IdleTimeoutInMinutes { get; set; }

    [Parameter]
    [ValidateSet("sourceIP", "sourceIPProtocol", "none", IgnoreCase = true)]
    public string? LoadBalancerDistribution { get; set; }

    [Parameter]
    public string? VirtualIPName { get; set; }

    protected override void ProcessRecord()
    {
        var vm = Instance;
        if (vm.FindEndpoint(Name) is not null)
        {
            throw InvalidArgument(Messages.EndpointNameExists(Name), Name);
        }

        CheckPort(LocalPort);
        CheckPort(PublicPort);
        var protocol = Protocol.ToLowerInvariant();
        CheckLocalPortFree(vm, Name, protocol, LocalPort);

        ProbeRequest? probe = null;
        if (ParameterSetName == LBCustomProbe)
        {
            CheckPort(ProbePort);
            CheckProbePath(ProbeProtocol!, ProbePath);
            probe = new ProbeRequest
            {
                Protocol = ProbeProtocol!.ToLowerInvariant(),
                Port = ProbePort,
                Path = ProbePath,
                IntervalInSeconds = ProbeIntervalInSeconds,
                TimeoutInSeconds = ProbeTimeoutInSeconds,
            };
        }

        vm.Endpoints.Add(new EndpointRequest
        {
            Name = Name,
            Protocol = protocol,
            LocalPort = LocalPort,
            PublicPort = PublicPort,
            VirtualIpName = VirtualIPName,
            LoadBalancedSetName = LBSetName,
            DefaultProbe = ParameterSetName == LBDefaultProbe ? true : null,
            Probe = probe,
            Acl = ACL?.ToRequests(),
            IdleTimeoutInMinutes = IdleTimeoutInMinutes,
            Distribution = LoadBalancerDistribution,
            DirectServerReturn = DirectServerReturn,
        });

        // The object received, not a copy: Update-AzureVM binds ServiceName and Name from it.
        WriteObject(VM);
    }
}

/// <summary>Changes an endpoint of the VM object; only the parameters given change.</summary>
[Cmdlet(VerbsCommon.Set, "AzureEndpoint"), OutputType(typeof(IPersistentVM))]
public sealed class SetAzureEndpointCmdlet : VmConfigurationCmdlet
{
    [Parameter(Position = 0, Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = string.Empty;

    [Parameter(Position = 1)]
    [ValidateSet("tcp", "udp", IgnoreCase = true)]
    public string? Protocol { get; set; }

    [Parameter(Position = 2)]
    public int? LocalPort { get; set; }

    [Parameter]
    public int? PublicPort { get; set; }

    [Parameter]
    public bool? DirectServerReturn { get; set; }

    [Parameter]
    public NetworkAclObject? ACL { get; set; }

    [Parameter]
    public string? InternalLoadBalancerName { get; set; }

    [Parameter]
    public int? IdleTimeoutInMinutes { get; set; }

    [Parameter]
    [ValidateSet("sourceIP", "sourceIPProtocol", "none", IgnoreCase = true)]
    public string? LoadBalancerDistribution { get; set; }

    [Parameter]
    public string? VirtualIPName { get; set; }

    protected override void ProcessRecord()
    {
        var vm = Instance;
        var existing = vm.FindEndpoint(Name) ?? throw InvalidArgument(Messages.EndpointNotFound(Name), Name);
        CheckPort(LocalPort);
        CheckPort(PublicPort);
        var updated = existing with
        {
            Protocol = Protocol?.ToLowerInvariant() ?? existing.Protocol,
            LocalPort = LocalPort ?? existing.LocalPort,
            PublicPort = PublicPort ?? existing.PublicPort,
            DirectServerReturn = DirectServerReturn ?? existing.DirectServerReturn,
            Acl = ACL is null ? existing.Acl : ACL.ToRequests(),
            IdleTimeoutInMinutes = IdleTimeoutInMinutes ?? existing.IdleTimeoutInMinutes,
            Distribution = LoadBalancerDistribution ?? existing.Distribution,
            VirtualIpName = VirtualIPName ?? existing.VirtualIpName,
        };
        CheckLocalPortFree(vm, Name, updated.Protocol ?? "tcp", updated.LocalPort ?? 0);
        vm.Endpoints[vm.Endpoints.IndexOf(existing)] = updated;
        WriteObject(VM);
    }
}

[Cmdlet(VerbsCommon.Remove, "AzureEndpoint"), OutputType(typeof(IPersistentVM))]
public sealed class RemoveAzureEndpointCmdlet : VmConfigurationCmdlet
{
    [Parameter(Position = 0, Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = string.Empty;

    protected override void ProcessRecord()
    {
        var vm = Instance;
        var existing = vm.FindEndpoint(Name) ?? throw InvalidArgument(Messages.EndpointNotFound(Name), Name);
        vm.Endpoints.Remove(existing);
        WriteObject(VM);
    }
}

[Cmdlet(VerbsCommon.Get, "AzureEndpoint"), OutputType(typeof(InputEndpointContext))]
public sealed class GetAzureEndpointCmdlet : VmConfigurationCmdlet
{
    [Parameter(Position = 0)]
    public string? Name { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var endpoint in Instance.InputEndpoints)
        {
            if (Name is null || Names.Equal(endpoint.Name, Name))
            {
                WriteObject(endpoint);
            }
        }
    }
}

/// <summary>
/// Changes every endpoint of a load-balanced set at once, on the server. The default parameter set
/// leaves the probe alone; -ProbeProtocolTCP / -ProbeProtocolHTTP replace it.
/// </summary>
[Cmdlet(VerbsCommon.Set, "AzureLoadBalancedEndpoint", DefaultParameterSetName = DefaultProbe), OutputType(typeof(ManagementOperationContext))]
public sealed class SetAzureLoadBalancedEndpointCmdlet : MultiVipCmdlet
{
    private const string DefaultProbe = "DefaultProbe";
    private const string TcpProbe = "TCPProbe";
    private const string HttpProbe = "HTTPProbe";

    [Parameter(Position = 0, Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string ServiceName { get; set; } = string.Empty;

    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [Alias("LoadBalancedEndpointSetName")]
    [ValidateNotNullOrEmpty]
    public string LBSetName { get; set; } = string.Empty;

    [Parameter]
    [ValidateSet("tcp", "udp", IgnoreCase = true)]
    public string? Protocol { get; set; }

    [Parameter]
    public int? LocalPort { get; set; }

    [Parameter]
    public int? PublicPort { get; set; }

    [Parameter]
    public bool? DirectServerReturn { get; set; }

    [Parameter]
    public NetworkAclObject? ACL { get; set; }

    [Parameter(ParameterSetName = TcpProbe, Mandatory = true)]
    public SwitchParameter ProbeProtocolTCP { get; set; }

    [Parameter(ParameterSetName = HttpProbe, Mandatory = true)]
    public SwitchParameter ProbeProtocolHTTP { get; set; }

    [Parameter(ParameterSetName = HttpProbe, Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string? ProbePath { get; set; }

    [Parameter(ParameterSetName = TcpProbe)]
    [Parameter(ParameterSetName = HttpProbe)]
    public int? ProbePort { get; set; }

    [Parameter(ParameterSetName = TcpProbe)]
    [Parameter(ParameterSetName = HttpProbe)]
    public int? ProbeIntervalInSeconds { get; set; }

    [Parameter(ParameterSetName = TcpProbe)]
    [Parameter(ParameterSetName = HttpProbe)]
    public int? ProbeTimeoutInSeconds { get; set; }

    [Parameter]
    public string? InternalLoadBalancerName { get; set; }

    [Parameter]
    public int? IdleTimeoutInMinutes { get; set; }

    [Parameter]
    [ValidateSet("sourceIP", "sourceIPProtocol", "none", IgnoreCase = true)]
    public string? LoadBalancerDistribution { get; set; }

    [Parameter]
    public string? VirtualIPName { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var port in new[] { LocalPort, PublicPort, ProbePort })
        {
            if (port is < 1 or > 65535)
            {
                throw InvalidArgument(Messages.PortRange, port);
            }
        }

        var probe = ParameterSetName switch
        {
            TcpProbe => new ProbeRequest { Protocol = "tcp", Port = ProbePort, IntervalInSeconds = ProbeIntervalInSeconds, TimeoutInSeconds = ProbeTimeoutInSeconds },
            HttpProbe => new ProbeRequest { Protocol = "http", Port = ProbePort, Path = ProbePath, IntervalInSeconds = ProbeIntervalInSeconds, TimeoutInSeconds = ProbeTimeoutInSeconds },
            _ => null,
        };
        var request = new SetLoadBalancedSetRequest
        {
            VirtualIpName = VirtualIPName,
            Protocol = Protocol?.ToLowerInvariant(),
            LocalPort = LocalPort,
            PublicPort = PublicPort,
            Probe = probe,
            Acl = ACL?.ToRequests(),
            IdleTimeoutInMinutes = IdleTimeoutInMinutes,
            Distribution = LoadBalancerDistribution,
            DirectServerReturn = DirectServerReturn,
        };
        WriteOperation((c, ct) => c.SetLoadBalancedSetAsync(ServiceName, LBSetName, request, cancellationToken: ct), LBSetName);
    }
}
