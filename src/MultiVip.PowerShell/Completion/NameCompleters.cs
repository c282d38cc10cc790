using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using MultiVip.Client;

namespace MultiVip.PowerShell.Completion;

// Argument completers of the names that already exist on the server. Each is attached to its
// parameters with [ArgumentCompleter(typeof(...))], so TabExpansion2 (Tab, Ctrl+Space) offers the
// names live. A name a cmdlet creates (New-AzureService -ServiceName, Add-AzureVirtualIP
// -VirtualIPName, ...) has no completer: there is nothing to offer.

/// <summary>-ServiceName: every cloud service.</summary>
internal sealed class ServiceNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters) =>
        ServerNames.Complete(
            ServerNames.Read(async (c, ct) => (await c.ListServicesAsync(ct)).Select(s => new CompletionName(s.Name, s.Label ?? s.Name))),
            wordToComplete);
}

/// <summary>-Name of Get/Update/Remove-AzureVM: the VMs of -ServiceName, or of every service when none is given.</summary>
internal sealed class VmNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var service = ServerNames.ServiceName(commandAst, fakeBoundParameters);
        return ServerNames.Complete(
            ServerNames.Read(async (c, ct) => (await Deployments.ReadAsync(c, service, ct))
                .SelectMany(d => d.VirtualMachines.Select(vm => new CompletionName(vm.Name, $"{vm.Name} ({vm.Address}) in {d.ServiceName}")))),
            wordToComplete);
    }
}

/// <summary>-VirtualIPName: the VIPs of the service (from -ServiceName or the pipeline's Get-AzureVM), else of every service.</summary>
internal sealed class VirtualIPNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var service = ServerNames.ServiceName(commandAst, fakeBoundParameters);
        return ServerNames.Complete(
            ServerNames.Read(async (c, ct) => (await Deployments.ReadAsync(c, service, ct))
                .SelectMany(d => d.VirtualIps.Select(v => new CompletionName(v.Name, $"{v.Name} ({(string.IsNullOrEmpty(v.Address) ? "no address yet" : v.Address)}) in {d.ServiceName}")))),
            wordToComplete);
    }
}

/// <summary>-LBSetName: the load-balanced sets of the service (from -ServiceName or the pipeline's Get-AzureVM), else of every service.</summary>
internal sealed class LBSetNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var service = ServerNames.ServiceName(commandAst, fakeBoundParameters);
        return ServerNames.Complete(
            ServerNames.Read(async (c, ct) => (await Deployments.ReadAsync(c, service, ct))
                .SelectMany(d => d.LoadBalancedSets.Select(s => new CompletionName(s.Name, $"{s.Name}: {s.Protocol.ToString().ToLowerInvariant()} {s.VirtualIpName}:{s.PublicPort}, {s.Members.Count} member(s) in {d.ServiceName}")))),
            wordToComplete);
    }
}

/// <summary>-Name of Set/Remove/Get-AzureEndpoint and -EndpointName: the endpoints of the VM the pipeline starts from (Get-AzureVM -ServiceName s -Name v | ...).</summary>
internal sealed class EndpointNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        if (ServerNames.UpstreamVm(commandAst, fakeBoundParameters) is not var (service, vm))
        {
            return [];
        }

        return ServerNames.Complete(
            ServerNames.Read(async (c, ct) => (await c.ListEndpointsAsync(service, vm, ct))
                .Select(e => new CompletionName(e.Name, $"{e.Name}: {e.Protocol.ToString().ToLowerInvariant()} {e.LocalPort} on {e.VirtualIpName}:{e.PublicPort}"))),
            wordToComplete);
    }
}

/// <summary>-ReservedIPName of the cmdlets that use an existing reservation.</summary>
internal sealed class ReservedIPNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters) =>
        ServerNames.Complete(
            ServerNames.Read(async (c, ct) => (await c.ListReservedIpsAsync(ct))
                .Select(r => new CompletionName(r.Name, $"{r.Name} ({r.Address}){(r.ServiceName is null ? string.Empty : $" on {r.ServiceName}/{r.VirtualIpName}")}"))),
            wordToComplete);
}

/// <summary>The deployments a completion looks in: the named service's, or every deployed service's.</summary>
internal static class Deployments
{
    public static async Task<IReadOnlyList<Contracts.DeploymentView>> ReadAsync(MultiVipClient client, string? service, CancellationToken ct)
    {
        var services = service is not null
            ? [service]
            : (await client.ListServicesAsync(ct)).Where(s => s.DeploymentName is not null).Select(s => s.Name).ToList();
        var deployments = new List<Contracts.DeploymentView>(services.Count);
        foreach (var name in services)
        {
            try
            {
                deployments.Add((await client.GetDeploymentAsync(name, ct)).Value);
            }
            catch (MultiVipApiException)
            {
                // A service named by hand that does not exist (or has no VMs yet): nothing to offer from it.
            }
        }

        return deployments;
    }
}
