using System.CommandLine;
using MultiVip.Cli.Infrastructure;
using MultiVip.Cli.Output;
using MultiVip.Contracts;
using MultiVip.Model.Errors;

namespace MultiVip.Cli.Commands;

/// <summary>Add-AzureVirtualIP, Remove-AzureVirtualIP, $deployment.VirtualIPs.</summary>
internal static class VipCommands
{
    public static Command Create(CliContext cli)
    {
        var vip = new Command("vip", "Add, remove and list the virtual IPs of a deployment.");

        var addService = VmCommands.ServiceOption();
        var addName = Options.Required("--name", "Virtual IP name, e.g. Vip2.");
        var addFamily = Options.Optional("--address-family", "ipv4 (default, as in Azure) or ipv6: the pool ranges the VIP's address comes from (-AddressFamily).");
        var add = new Command("add", "Add a virtual IP; it gets an address when an endpoint uses it (Add-AzureVirtualIP).") { addService, addName, addFamily };
        cli.SetAction(add, run => run.RunOperationAsync("Adding virtual IP", (c, wait, ct) =>
            c.AddVirtualIpAsync(run.Required(addService), new AddVirtualIpRequest { Name = run.Required(addName), AddressFamily = run.Value(addFamily) }, null, wait, ct)));

        var removeService = VmCommands.ServiceOption();
        var removeName = Options.Required("--name", "Virtual IP name.");
        var force = Options.Flag("--force", "Do not ask for confirmation (required when stdin is not a terminal).");
        var remove = new Command("remove", "Remove a virtual IP that no endpoint uses (Remove-AzureVirtualIP).") { removeService, removeName, force };
        cli.SetAction(remove, async run =>
        {
            var serviceName = run.Required(removeService);
            var vipName = run.Required(removeName);
            if (!run.Value(force) && !Confirm(run, vipName, serviceName))
            {
                throw CliException.NotDone($"Cancelled: the virtual IP '{vipName}' was not removed.");
            }

            await run.RunOperationAsync("Removing virtual IP", (c, wait, ct) => c.RemoveVirtualIpAsync(serviceName, vipName, null, wait, ct)).ConfigureAwait(false);
        });

        var listService = VmCommands.ServiceOption();
        var list = new Command("list", "List the virtual IPs ($deployment.VirtualIPs).") { listService };
        cli.SetAction(list, async run =>
            run.Write(await run.Client.ListVirtualIpsAsync(run.Required(listService), run.CancellationToken).ConfigureAwait(false), ResourceText.VirtualIps));

        vip.Subcommands.Add(add);
        vip.Subcommands.Add(remove);
        vip.Subcommands.Add(list);
        return vip;
    }

    /// <summary>ShouldContinue, as the cmdlet asked. The prompt goes to stderr so --output json stays clean.</summary>
    private static bool Confirm(Invocation run, string vip, string service)
    {
        if (!run.Console.IsInputTerminal)
        {
            throw CliException.Usage(
                $"Removing the virtual IP '{vip}' from '{service}' needs confirmation, but stdin is not a terminal. Pass --force to remove it without asking.");
        }

        run.Console.Error.Write($"{Messages.RemoveVirtualIpConfirmation} [y/N] ");
        var answer = run.Console.In.ReadLine()?.Trim();
        return string.Equals(answer, "y", StringComparison.OrdinalIgnoreCase) || string.Equals(answer, "yes", StringComparison.OrdinalIgnoreCase);
    }
}
