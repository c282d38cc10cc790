using MultiVip.Contracts;
using MultiVip.Model.Services;

namespace MultiVip.PowerShell.Objects;

/// <summary>What the endpoint cmdlets accept on -VM: Get-AzureVM's context or the bare VM, as in Azure.</summary>
public interface IPersistentVM
{
    PersistentVM GetInstance();
}

/// <summary>
/// A VM's configuration as read by Get-AzureVM. Add/Set/Remove-AzureEndpoint edit <see cref="Endpoints"/>
/// in memory only; Update-AzureVM sends the whole list with <see cref="ETag"/> as If-Match, so a change
/// made on the server in between is refused instead of silently overwritten.
/// </summary>
public sealed class PersistentVM : IPersistentVM
{
    internal PersistentVM(VirtualMachine vm, string? etag, IReadOnlyDictionary<string, string?> vipAddresses)
    {
        Load(vm, etag, vipAddresses);
    }

    public string RoleName { get; private set; } = string.Empty;

    public string IpAddress { get; private set; } = string.Empty;

    /// <summary>Enabled, Draining or Disabled (Set-AzureVMState).</summary>
    public string State { get; private set; } = nameof(VmState.Enabled);

    /// <summary>The version read from the server; Update-AzureVM's If-Match.</summary>
    public string? ETag { get; private set; }

    /// <summary>
    /// Kept as request bodies: what the user left out stays null and takes the server's default
    /// (public port = local port, default VIP), exactly as when Azure received the cmdlet's XML.
    /// </summary>
    internal List<EndpointRequest> Endpoints { get; } = [];

    /// <summary>VIP name → address at read time, to show endpoints' Vip like Azure did.</summary>
    internal IReadOnlyDictionary<string, string?> VipAddresses { get; private set; } = new Dictionary<string, string?>();

    /// <summary>The endpoints as Get-AzureEndpoint shows them, including uncommitted edits.</summary>
    public IReadOnlyList<InputEndpointContext> InputEndpoints => Endpoints.Select(e => new InputEndpointContext(e, VipAddresses)).ToList();

    public PersistentVM GetInstance() => this;

    internal EndpointRequest? FindEndpoint(string name) =>
        Endpoints.Find(e => Names.Equal(e.Name, name));

    internal void Load(VirtualMachine vm, string? etag, IReadOnlyDictionary<string, string?> vipAddresses)
    {
        RoleName = vm.Name;
        IpAddress = vm.Address;
        State = vm.State.ToString();
        ETag = etag;
        VipAddresses = vipAddresses;
        Endpoints.Clear();
        Endpoints.AddRange(vm.Endpoints.Select(e => e.ToRequest()));
    }
}

/// <summary>Get-AzureVM's output: where the VM lives, plus the <see cref="VM"/> the endpoint cmdlets edit.</summary>
public sealed class PersistentVMRoleContext : IPersistentVM
{
    internal PersistentVMRoleContext(string serviceName, string deploymentName, PersistentVM vm)
    {
        ServiceName = serviceName;
        DeploymentName = deploymentName;
        VM = vm;
    }

    public string ServiceName { get; }

    public string DeploymentName { get; }

    public string Name => VM.RoleName;

    public string InstanceName => VM.RoleName;

    public string IpAddress => VM.IpAddress;

    /// <summary>Azure's status of a running role; a registered machine has no other state here.</summary>
    public string InstanceStatus => "ReadyRole";

    public string PowerState => "Started";

    /// <summary>In rotation or not: Enabled, Draining (no new connections, then Disabled) or Disabled (Set-AzureVMState).</summary>
    public string State => VM.State;

    public PersistentVM VM { get; }

    public string? ETag => VM.ETag;

    public PersistentVM GetInstance() => VM;
}

/// <summary>An input endpoint as Get-AzureEndpoint prints it, with Azure's property names.</summary>
public sealed class InputEndpointContext
{
    internal InputEndpointContext(EndpointRequest e, IReadOnlyDictionary<string, string?> vipAddresses)
    {
        Name = e.Name ?? string.Empty;
        Protocol = e.Protocol;
        LocalPort = e.LocalPort ?? 0;
        Port = e.PublicPort ?? e.LocalPort;
        VirtualIPName = e.VirtualIpName;
        Vip = e.VirtualIpName is { } vip && vipAddresses.TryGetValue(vip, out var address) ? address : null;
        LBSetName = e.LoadBalancedSetName;
        if (e.Probe is { } probe)
        {
            ProbeProtocol = probe.Protocol;
            ProbePort = probe.Port ?? e.LocalPort;
            ProbePath = probe.Path;
            ProbeIntervalInSeconds = probe.IntervalInSeconds;
            ProbeTimeoutInSeconds = probe.TimeoutInSeconds;
        }
        else if (e.DefaultProbe == true)
        {
            // Not committed yet: show the default probe as the server will create it.
            ProbeProtocol = "tcp";
            ProbePort = e.LocalPort;
            ProbeIntervalInSeconds = LoadBalancerProbe.DefaultIntervalInSeconds;
            ProbeTimeoutInSeconds = LoadBalancerProbe.DefaultTimeoutInSeconds;
        }

        EnableDirectServerReturn = e.DirectServerReturn ?? false;
        Acl = NetworkAclObject.From(e.Acl);
        IdleTimeoutInMinutes = e.IdleTimeoutInMinutes;
        LoadBalancerDistribution = e.Distribution;
        ProxyProtocol = e.ProxyProtocol;
    }

    public string Name { get; }

    public string? Protocol { get; }

    public int LocalPort { get; }

    /// <summary>The public port (Azure's name).</summary>
    public int? Port { get; }

    /// <summary>The VIP's address; empty until the VIP has one.</summary>
    public string? Vip { get; }

    public string? VirtualIPName { get; }

    public string? LBSetName { get; }

    public string? ProbeProtocol { get; }

    public int? ProbePort { get; }

    public string? ProbePath { get; }

    public int? ProbeIntervalInSeconds { get; }

    public int? ProbeTimeoutInSeconds { get; }

    public bool EnableDirectServerReturn { get; }

    public NetworkAclObject Acl { get; }

    public int? IdleTimeoutInMinutes { get; }

    public string? LoadBalancerDistribution { get; }

    /// <summary>Ours, not Azure's: the PROXY protocol header the VM receives (none, v1, v2).</summary>
    public string? ProxyProtocol { get; }
}
