using System.Management.Automation;
using MultiVip.Contracts;
using MultiVip.Model.Errors;
using MultiVip.Model.Services;
using MultiVip.Model.Validation;
using MultiVip.PowerShell.Completion;
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
}

/// <summary>
/// The endpoint settings Add-AzureEndpoint, Set-AzureEndpoint and Set-AzureLoadBalancedEndpoint all
/// take, declared once with their one mapping to the request (<see cref="WithSettings"/>): a new
/// endpoint field is one parameter here. Protocol, LocalPort and the probe differ per cmdlet
/// (positions, parameter sets), so each cmdlet declares those and passes them in.
/// </summary>
public abstract class EndpointSettingsCmdlet : MultiVipCmdlet
{
    [Parameter(HelpMessage = "Public port on the VIP (defaults to the local port).")]
    public int? PublicPort { get; set; }

    [Parameter]
    public bool? DirectServerReturn { get; set; }

    [Parameter]
    public NetworkAclObject? ACL { get; set; }

    /// <summary>Accepted for scripts; MultiVip has no internal load balancers.</summary>
    [Parameter]
    public string? InternalLoadBalancerName { get; set; }

    [Parameter]
    public int? IdleTimeoutInMinutes { get; set; }

    [Parameter]
    [ValidateSet("sourceIP", "sourceIPProtocol", "none", IgnoreCase = true)]
    public string? LoadBalancerDistribution { get; set; }

    [Parameter]
    [ArgumentCompleter(typeof(VirtualIPNameCompleter))]
    public string? VirtualIPName { get; set; }

    /// <summary>Ours, not Azure's: the PROXY protocol header the VM receives (none, v1 or v2).</summary>
    [Parameter(HelpMessage = "PROXY protocol header sent to the VM so it sees the client's address: none, v1 or v2.")]
    [ValidateSet("none", "v1", "v2", IgnoreCase = true)]
    public string? ProxyProtocol { get; set; }

    /// <summary><paramref name="basis"/> with the settings given: what was not given stays as it is.</summary>
    protected T WithSettings<T>(T basis, string? protocol, int? localPort, ProbeRequest? probe)
        where T : EndpointSettings => (T)(basis with
        {
            Protocol = protocol?.ToLowerInvariant() ?? basis.Protocol,
            LocalPort = localPort ?? basis.LocalPort,
            PublicPort = PublicPort ?? basis.PublicPort,
            VirtualIpName = VirtualIPName ?? basis.VirtualIpName,
            Probe = probe ?? basis.Probe,
            Acl = ACL is null ? basis.Acl : ACL.ToRequests(),
            IdleTimeoutInMinutes = IdleTimeoutInMinutes ?? basis.IdleTimeoutInMinutes,
            Distribution = LoadBalancerDistribution ?? basis.Distribution,
            DirectServerReturn = DirectServerReturn ?? basis.DirectServerReturn,
            ProxyProtocol = ProxyProtocol?.ToLowerInvariant() ?? basis.ProxyProtocol,
        });
}

/// <summary>
/// Add-AzureEndpoint and Set-AzureEndpoint: endpoint settings applied to the VM object in memory.
/// They check what Azure's cmdlets checked before anything was sent, with the Model's rules (so the
/// messages are the server's); everything else is the server's to check at Update-AzureVM.
/// </summary>
public abstract class VmEndpointCmdlet : EndpointSettingsCmdlet
{
    [Parameter(Mandatory = true, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true, HelpMessage = "The VM object from Get-AzureVM.")]
    [Alias("InputObject")]
    public IPersistentVM? VM { get; set; }

    protected PersistentVM Instance => VM!.GetInstance();

    /// <summary>Runs the local checks; whatever they find is one terminating error, as Azure's ArgumentException was.</summary>
    protected void CheckLocally(Action<Violations> check, object? target)
    {
        try
        {
            Violations.Throw(check);
        }
        catch (MultiVipException e)
        {
            throw InvalidArgument(e.Message, target);
        }
    }

    /// <summary>Names and local ports stay unique on the VM: <paramref name="endpoint"/> against the other endpoints of the object.</summary>
    protected static void UniqueOnVm(PersistentVM vm, EndpointRequest endpoint, EndpointRequest? replaced, Violations violations) =>
        EndpointRules.UniqueOnVm([.. vm.Endpoints.Where(e => !ReferenceEquals(e, replaced)).Select(Key), Key(endpoint)], violations);

    /// <summary>Floating IP keeps the port: checked on the object, before Update-AzureVM sends anything (a public port left out is the local one).</summary>
    protected static void DirectServerReturnPorts(EndpointRequest endpoint, Violations violations)
    {
        if (endpoint.LocalPort is { } local)
        {
            EndpointRules.DirectServerReturnPorts(endpoint.Name ?? string.Empty, endpoint.DirectServerReturn == true, local, endpoint.PublicPort ?? local, violations);
        }
    }

    /// <summary>What the uniqueness rule looks at (name, protocol, local port) of an endpoint in the object.</summary>
    private static InputEndpoint Key(EndpointRequest e) => new()
    {
        Name = e.Name ?? string.Empty,
        Protocol = EnumParsing.ParseProtocol(e.Protocol ?? "tcp"),
        LocalPort = e.LocalPort ?? 0,
    };
}

[Cmdlet(VerbsCommon.Add, "AzureEndpoint", DefaultParameterSetName = NoLB), OutputType(typeof(IPersistentVM))]
public sealed class AddAzureEndpointCmdlet : VmEndpointCmdlet
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

    [Parameter(ParameterSetName = LBNoProbe, Mandatory = true)]
    [Parameter(ParameterSetName = LBCustomProbe, Mandatory = true)]
    [Parameter(ParameterSetName = LBDefaultProbe, Mandatory = true)]
    [Alias("LoadBalancedEndpointSetName")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(LBSetNameCompleter))]
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

    protected override void ProcessRecord()
    {
        var vm = Instance;
        var probe = ParameterSetName != LBCustomProbe ? null : new ProbeRequest
        {
            Protocol = ProbeProtocol!.ToLowerInvariant(),
            Port = ProbePort,
            Path = string.IsNullOrEmpty(ProbePath) ? null : ProbePath,
            IntervalInSeconds = ProbeIntervalInSeconds,
            TimeoutInSeconds = ProbeTimeoutInSeconds,
        };
        var endpoint = WithSettings(
            new EndpointRequest { Name = Name, LoadBalancedSetName = LBSetName, DefaultProbe = ParameterSetName == LBDefaultProbe ? true : null },
            Protocol,
            LocalPort,
            probe);

        // What Azure's Add-AzureEndpoint checked before sending anything.
        CheckLocally(v =>
        {
            UniqueOnVm(vm, endpoint, replaced: null, v);
            EndpointRules.Port(LocalPort, v);
            if (PublicPort is { } publicPort)
            {
                EndpointRules.Port(publicPort, v);
            }

            DirectServerReturnPorts(endpoint, v);

            if (probe is not null)
            {
                EndpointRules.Port(ProbePort, v);
                EndpointRules.ProbePath(EnumParsing.ParseProbeProtocol(probe.Protocol!), probe.Path, v);
            }
        }, Name);

        vm.Endpoints.Add(endpoint);

        // The object received, not a copy: Update-AzureVM binds ServiceName and Name from it.
        WriteObject(VM);
    }
}

/// <summary>Changes an endpoint of the VM object; only the parameters given change.</summary>
[Cmdlet(VerbsCommon.Set, "AzureEndpoint"), OutputType(typeof(IPersistentVM))]
public sealed class SetAzureEndpointCmdlet : VmEndpointCmdlet
{
    [Parameter(Position = 0, Mandatory = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(EndpointNameCompleter))]
    public string Name { get; set; } = string.Empty;

    [Parameter(Position = 1)]
    [ValidateSet("tcp", "udp", IgnoreCase = true)]
    public string? Protocol { get; set; }

    [Parameter(Position = 2)]
    public int? LocalPort { get; set; }

    protected override void ProcessRecord()
    {
        var vm = Instance;
        var existing = vm.FindEndpoint(Name) ?? throw InvalidArgument(Messages.EndpointNotFound(Name), Name);
        var updated = WithSettings(existing, Protocol, LocalPort, probe: null);

        // What Azure's Set-AzureEndpoint checked (ports), and the VM object's local ports.
        CheckLocally(v =>
        {
            foreach (var port in new[] { LocalPort, PublicPort })
            {
                if (port is { } given)
                {
                    EndpointRules.Port(given, v);
                }
            }

            UniqueOnVm(vm, updated with { Name = Name }, existing, v);
            DirectServerReturnPorts(updated with { Name = Name }, v);
        }, Name);

        vm.Endpoints[vm.Endpoints.IndexOf(existing)] = updated;
        WriteObject(VM);
    }
}

[Cmdlet(VerbsCommon.Remove, "AzureEndpoint"), OutputType(typeof(IPersistentVM))]
public sealed class RemoveAzureEndpointCmdlet : VmConfigurationCmdlet
{
    [Parameter(Position = 0, Mandatory = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(EndpointNameCompleter))]
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
    [ArgumentCompleter(typeof(EndpointNameCompleter))]
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
public sealed class SetAzureLoadBalancedEndpointCmdlet : EndpointSettingsCmdlet
{
    private const string DefaultProbe = "DefaultProbe";
    private const string TcpProbe = "TCPProbe";
    private const string HttpProbe = "HTTPProbe";

    [Parameter(Position = 0, Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ServiceNameCompleter))]
    public string ServiceName { get; set; } = string.Empty;

    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [Alias("LoadBalancedEndpointSetName")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(LBSetNameCompleter))]
    public string LBSetName { get; set; } = string.Empty;

    [Parameter]
    [ValidateSet("tcp", "udp", IgnoreCase = true)]
    public string? Protocol { get; set; }

    [Parameter]
    public int? LocalPort { get; set; }

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

    /// <summary>Sent as given: Azure's cmdlet checked nothing locally here, and the server checks it all.</summary>
    protected override void ProcessRecord()
    {
        var probe = ParameterSetName switch
        {
            TcpProbe => new ProbeRequest { Protocol = "tcp", Port = ProbePort, IntervalInSeconds = ProbeIntervalInSeconds, TimeoutInSeconds = ProbeTimeoutInSeconds },
            HttpProbe => new ProbeRequest { Protocol = "http", Port = ProbePort, Path = ProbePath, IntervalInSeconds = ProbeIntervalInSeconds, TimeoutInSeconds = ProbeTimeoutInSeconds },
            _ => null,
        };
        var request = WithSettings(new SetLoadBalancedSetRequest(), Protocol, LocalPort, probe);
        WriteOperation((c, ct) => c.SetLoadBalancedSetAsync(ServiceName, LBSetName, request, cancellationToken: ct), LBSetName);
    }
}
