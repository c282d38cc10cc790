using System.CommandLine;
using MultiVip.Cli.Infrastructure;
using MultiVip.Contracts;
using MultiVip.Model.Services;

namespace MultiVip.Cli.Commands;

/// <summary>
/// The options of Add-AzureEndpoint / Set-AzureEndpoint / Set-AzureLoadBalancedEndpoint and how
/// they turn into requests. Each command gets its own instances (a symbol has one parent).
/// </summary>
internal sealed class EndpointOptions
{
    public Option<string?> Protocol { get; }

    public Option<int?> LocalPort { get; } = Options.Int("--local-port", "Port the VM listens on (1-65535).");

    public Option<int?> PublicPort { get; } = Options.Int("--public-port", "Port on the virtual IP (default: the local port).");

    public Option<string?> Vip { get; } = Options.Optional("--vip", "Virtual IP the endpoint listens on (default: the deployment's default VIP).");

    public Option<string?> ProbeProtocol { get; } = Options.ProbeProtocol();

    public Option<int?> ProbePort { get; } = Options.Int("--probe-port", "Port the probe connects to (default: the local port).");

    public Option<string?> ProbePath { get; } = Options.Optional("--probe-path", "Path of an http probe, e.g. /health.");

    public Option<int?> ProbeInterval { get; } = Options.Int("--probe-interval", "Seconds between probes (default 15, minimum 5).");

    public Option<int?> ProbeTimeout { get; } = Options.Int("--probe-timeout", "Seconds without success before a VM leaves rotation (default 31, minimum 11).");

    public Option<IReadOnlyList<AclRule>> Acl { get; } = Options.Acl();

    public Option<int?> IdleTimeout { get; } = Options.Int("--idle-timeout", "Idle timeout in minutes (4-30, default 4).");

    public Option<string?> Distribution { get; } = Options.Distribution();

    public Option<bool> Dsr { get; } = Options.Flag("--dsr", "Direct server return (stored and shown like Azure; `--dsr false` turns it off).");

    public Option<string?> ProxyProtocol { get; } = Options.ProxyProtocol();

    public EndpointOptions(bool protocolRequired = false)
    {
        Protocol = Options.Protocol(protocolRequired);
        if (protocolRequired)
        {
            LocalPort.Required = true;
        }
    }

    private IEnumerable<Option> ProbeOptions => [ProbeProtocol, ProbePort, ProbePath, ProbeInterval, ProbeTimeout];

    public void AddTo(Command command)
    {
        foreach (var option in (Option[])[Protocol, LocalPort, PublicPort, Vip, .. ProbeOptions, Acl, IdleTimeout, Distribution, Dsr, ProxyProtocol])
        {
            command.Options.Add(option);
        }
    }

    public bool AnyProbeOption(Invocation run) => ProbeOptions.Any(run.Given);

    /// <summary>Add-AzureEndpoint: only what was given; the server fills in Azure's defaults.</summary>
    public EndpointRequest NewEndpoint(Invocation run, string name, string? loadBalancedSet, bool defaultProbe) => new()
    {
        Name = name,
        Protocol = run.Value(Protocol),
        LocalPort = run.Value(LocalPort),
        PublicPort = run.Value(PublicPort),
        VirtualIpName = run.Value(Vip),
        LoadBalancedSetName = loadBalancedSet,
        DefaultProbe = defaultProbe ? true : null,
        Probe = AnyProbeOption(run) ? ApplyProbe(run, new ProbeRequest()) : null,
        Acl = run.Given(Acl) ? ToRequests(run.Value(Acl)) : null,
        IdleTimeoutInMinutes = run.Value(IdleTimeout),
        Distribution = run.Value(Distribution),
        DirectServerReturn = run.Given(Dsr) ? run.Value(Dsr) : null,
        ProxyProtocol = run.Value(ProxyProtocol),
    };

    /// <summary>
    /// Set-AzureEndpoint as read-modify-write: the endpoint as it is, with only the given options changed.
    /// A probe that followed the local port (the default probe) follows it to the new port.
    /// </summary>
    public EndpointRequest Modify(Invocation run, EndpointRequest current)
    {
        var probe = current.Probe;
        var newLocalPort = run.Value(LocalPort);
        if (probe is not null && newLocalPort is { } port && probe.Port == current.LocalPort && !run.Given(ProbePort))
        {
            probe = probe with { Port = port };
        }

        if (AnyProbeOption(run))
        {
            probe = ApplyProbe(run, probe ?? new ProbeRequest());
        }

        return current with
        {
            Protocol = run.Value(Protocol) ?? current.Protocol,
            LocalPort = newLocalPort ?? current.LocalPort,
            PublicPort = run.Value(PublicPort) ?? current.PublicPort,
            VirtualIpName = run.Value(Vip) ?? current.VirtualIpName,
            Probe = probe,
            Acl = run.Given(Acl) ? ToRequests(run.Value(Acl)) : current.Acl,
            IdleTimeoutInMinutes = run.Value(IdleTimeout) ?? current.IdleTimeoutInMinutes,
            Distribution = run.Value(Distribution) ?? current.Distribution,
            DirectServerReturn = run.Given(Dsr) ? run.Value(Dsr) : current.DirectServerReturn,
            ProxyProtocol = run.Value(ProxyProtocol) ?? current.ProxyProtocol,
        };
    }

    /// <summary>Set-AzureLoadBalancedEndpoint: given fields only; no probe option keeps the probe.</summary>
    public SetLoadBalancedSetRequest LoadBalancedSetChange(Invocation run) => new()
    {
        VirtualIpName = run.Value(Vip),
        Protocol = run.Value(Protocol),
        LocalPort = run.Value(LocalPort),
        PublicPort = run.Value(PublicPort),
        Probe = AnyProbeOption(run) ? ApplyProbe(run, new ProbeRequest()) : null,
        Acl = run.Given(Acl) ? ToRequests(run.Value(Acl)) : null,
        IdleTimeoutInMinutes = run.Value(IdleTimeout),
        Distribution = run.Value(Distribution),
        DirectServerReturn = run.Given(Dsr) ? run.Value(Dsr) : null,
        ProxyProtocol = run.Value(ProxyProtocol),
    };

    /// <summary>Switching a probe to tcp drops the old http path unless one is given (tcp with a path is an error).</summary>
    private ProbeRequest ApplyProbe(Invocation run, ProbeRequest probe)
    {
        var protocol = run.Value(ProbeProtocol);
        var path = run.Given(ProbePath)
            ? run.Value(ProbePath)
            : protocol is not null && EnumParsing.ParseProbeProtocol(protocol) == Model.Services.ProbeProtocol.Tcp ? null : probe.Path;
        return probe with
        {
            Protocol = protocol ?? probe.Protocol,
            Port = run.Value(ProbePort) ?? probe.Port,
            Path = path,
            IntervalInSeconds = run.Value(ProbeInterval) ?? probe.IntervalInSeconds,
            TimeoutInSeconds = run.Value(ProbeTimeout) ?? probe.TimeoutInSeconds,
        };
    }

    private static List<AclRuleRequest> ToRequests(IReadOnlyList<AclRule>? rules) =>
        (rules ?? []).Select(r => new AclRuleRequest
        {
            Order = r.Order,
            Action = r.Action.ToWire(),
            RemoteSubnet = r.RemoteSubnet,
            Description = r.Description,
        }).ToList();
}
