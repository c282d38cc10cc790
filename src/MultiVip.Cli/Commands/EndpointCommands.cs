using System.CommandLine;
using MultiVip.Cli.Infrastructure;
using MultiVip.Cli.Output;
using MultiVip.Client;
using MultiVip.Contracts;
using MultiVip.Model.Errors;

namespace MultiVip.Cli.Commands;

/// <summary>Add-AzureEndpoint / Set-AzureEndpoint / Remove-AzureEndpoint / Get-AzureEndpoint, each committed at once (no Update-AzureVM step).</summary>
internal static class EndpointCommands
{
    public static Command Create(CliContext cli)
    {
        var endpoint = new Command("endpoint", "Add, change, remove and list the input endpoints of a VM.");
        endpoint.Subcommands.Add(Add(cli));
        endpoint.Subcommands.Add(Set(cli));
        endpoint.Subcommands.Add(Remove(cli));
        endpoint.Subcommands.Add(List(cli));
        return endpoint;
    }

    private static Command Add(CliContext cli)
    {
        var service = VmCommands.ServiceOption();
        var vm = VmOption();
        var name = Options.Required("--name", "Endpoint name, unique per VM.");
        var options = new EndpointOptions(protocolRequired: true);
        var lbSet = LbSetOption();
        var defaultProbe = DefaultProbeOption();
        var command = new Command("add", "Add an endpoint to a VM (Add-AzureEndpoint | Update-AzureVM).") { service, vm, name, lbSet, defaultProbe };
        options.AddTo(command);
        cli.SetAction(command, run =>
        {
            var request = options.NewEndpoint(run, run.Required(name), run.Value(lbSet), run.Value(defaultProbe));
            return run.RunOperationAsync("Adding endpoint", (c, wait, ct) =>
                c.AddEndpointAsync(run.Required(service), run.Required(vm), request, null, wait, ct));
        });
        return command;
    }

    private static Command Set(CliContext cli)
    {
        var service = VmCommands.ServiceOption();
        var vm = VmOption();
        var name = Options.Required("--name", "Name of the endpoint to change.");
        var options = new EndpointOptions();
        var lbSet = new Option<string?>("--lb-set")
        {
            Description = "Move the endpoint to this load-balanced set; an empty value takes it out of its set (and drops the probe).",
        };
        var defaultProbe = DefaultProbeOption();
        var command = new Command("set", "Change the given settings of an endpoint, keeping the rest (Set-AzureEndpoint | Update-AzureVM).") { service, vm, name, lbSet, defaultProbe };
        options.AddTo(command);
        cli.SetAction(command, async run =>
        {
            var serviceName = run.Required(service);
            var vmName = run.Required(vm);
            var endpointName = run.Required(name);

            // Read the VM rather than the endpoint: its ETag guards the write, so a concurrent change
            // of this VM makes the PUT fail with PreconditionFailed instead of being overwritten.
            var current = await run.Client.GetVmAsync(serviceName, vmName, run.CancellationToken).ConfigureAwait(false);
            var existing = current.Value.FindEndpoint(endpointName)
                ?? throw new MultiVipApiException(nameof(ErrorCode.ResourceNotFound), 404, Messages.EndpointNotFound(endpointName));

            var request = options.Modify(run, existing.ToRequest());
            if (run.Given(lbSet))
            {
                var set = run.Value(lbSet);
                request = string.IsNullOrWhiteSpace(set)
                    ? request with { LoadBalancedSetName = null, Probe = null, DefaultProbe = null }
                    : request with { LoadBalancedSetName = set };
            }

            if (run.Value(defaultProbe))
            {
                request = request with { DefaultProbe = true, Probe = null };
            }

            await run.RunOperationAsync("Changing endpoint", (c, wait, ct) =>
                c.SetEndpointAsync(serviceName, vmName, existing.Name, request, current.ETag, wait, ct)).ConfigureAwait(false);
        });
        return command;
    }

    private static Command Remove(CliContext cli)
    {
        var service = VmCommands.ServiceOption();
        var vm = VmOption();
        var name = Options.Required("--name", "Endpoint name.");
        var command = new Command("remove", "Remove an endpoint from a VM (Remove-AzureEndpoint | Update-AzureVM).") { service, vm, name };
        cli.SetAction(command, run => run.RunOperationAsync("Removing endpoint", (c, wait, ct) =>
            c.RemoveEndpointAsync(run.Required(service), run.Required(vm), run.Required(name), null, wait, ct)));
        return command;
    }

    private static Command List(CliContext cli)
    {
        var service = VmCommands.ServiceOption();
        var vm = VmOption();
        var command = new Command("list", "List the endpoints of a VM (Get-AzureEndpoint).") { service, vm };
        cli.SetAction(command, async run =>
            run.Write(await run.Client.ListEndpointsAsync(run.Required(service), run.Required(vm), run.CancellationToken).ConfigureAwait(false), ResourceText.Endpoints));
        return command;
    }

    private static Option<string> VmOption() => Options.Required("--vm", "VM name.");

    private static Option<string?> LbSetOption() =>
        Options.Optional("--lb-set", "Load-balanced set to join (-LoadBalancedEndpointSetName); members share VIP, protocol, public port and probe.");

    private static Option<bool> DefaultProbeOption() =>
        Options.Flag("--default-probe", "A tcp probe on the local port with the default interval and timeout (-DefaultProbe).");
}
