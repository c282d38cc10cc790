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

    public Option<bool> Dsr { get; } = Options.Flag("--dsr", "Direct server return (floating IP: the VM gets packets to VIP:public port and answers the client itself; done by serve --data-plane nftables, needs local port = public port; `--dsr false` turns it off).");

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
    public EndpointRequest NewEndpoint(Invocation run, string name, string? loadBalancedSet, bool defaultProbe) =>
        Apply(run, new EndpointRequest { Name = name, LoadBalancedSetName = loadBalancedSet, DefaultProbe = defaultProbe ? true : null });

    /// <summary>
    /// Set-AzureEndpoint as read-modify-write: the endpoint as it is, with only the given options changed.
    /// A probe that followed the local port (the default probe) follows it to the new port.
    /// </summary>
    public EndpointRequest Modify(Invocation run, EndpointRequest current)
    {
        if (current.Probe is { } probe && run.Value(LocalPort) is { } port && probe.Port == current.LocalPort && !run.Given(ProbePort))
        {
            current = current with { Probe = probe with { Port = port } };
        }

        return Apply(run, current);
    }

    /// <summary>Set-AzureLoadBalancedEndpoint: given fields only; no probe option keeps the probe.</summary>
    public SetLoadBalancedSetRequest LoadBalancedSetChange(Invocation run) => Apply(run, new SetLoadBalancedSetRequest());

    /// <summary>
    /// The one mapping of these options to the request: <paramref name="basis"/> with the options
    /// given, the rest as it is. A new endpoint field is one option above and one line here.
    /// </summary>
    private T Apply<T>(Invocation run, T basis)
        where T : EndpointSettings => (T)(basis with
        {
            Protocol = run.Value(Protocol) ?? basis.Protocol,
            LocalPort = run.Value(LocalPort) ?? basis.LocalPort,
            PublicPort = run.Value(PublicPort) ?? basis.PublicPort,
            VirtualIpName = run.Value(Vip) ?? basis.VirtualIpName,
            Probe = AnyProbeOption(run) ? ApplyProbe(run, basis.Probe ?? new ProbeRequest()) : basis.Probe,
            Acl = run.Given(Acl) ? (run.Value(Acl) ?? []).Select(EndpointMapping.ToRequest).ToList() : basis.Acl,
            IdleTimeoutInMinutes = run.Value(IdleTimeout) ?? basis.IdleTimeoutInMinutes,
            Distribution = run.Value(Distribution) ?? basis.Distribution,
            DirectServerReturn = run.Given(Dsr) ? run.Value(Dsr) : basis.DirectServerReturn,
            ProxyProtocol = run.Value(ProxyProtocol) ?? basis.ProxyProtocol,
        });

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
}
