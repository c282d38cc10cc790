using System.CommandLine;
using MultiVip.Cli.Infrastructure;
using MultiVip.Cli.Output;

namespace MultiVip.Cli.Commands;

/// <summary>Set-AzureLoadBalancedEndpoint and a list of the sets.</summary>
internal static class LoadBalancedSetCommands
{
    public static Command Create(CliContext cli)
    {
        var lbset = new Command("lbset", "Change or list load-balanced sets.");

        var service = VmCommands.ServiceOption();
        var name = Options.Required("--name", "Load-balanced set name (-LBSetName).");
        var options = new EndpointOptions();
        var set = new Command("set", "Change every member of a load-balanced set at once; only the given options change, and without probe options the probe is kept (Set-AzureLoadBalancedEndpoint).") { service, name };
        options.AddTo(set);
        cli.SetAction(set, run =>
        {
            var request = options.LoadBalancedSetChange(run);
            return run.RunOperationAsync("Changing load-balanced set", (c, wait, ct) =>
                c.SetLoadBalancedSetAsync(run.Required(service), run.Required(name), request, null, wait, ct));
        });

        var listService = VmCommands.ServiceOption();
        var list = new Command("list", "List the load-balanced sets of a cloud service with their members.") { listService };
        cli.SetAction(list, async run =>
            run.Write(await run.Client.ListLoadBalancedSetsAsync(run.Required(listService), run.CancellationToken).ConfigureAwait(false), ResourceText.LoadBalancedSets));

        lbset.Subcommands.Add(set);
        lbset.Subcommands.Add(list);
        return lbset;
    }
}
