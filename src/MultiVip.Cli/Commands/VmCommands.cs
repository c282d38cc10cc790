using System.CommandLine;
using MultiVip.Cli.Infrastructure;
using MultiVip.Cli.Output;
using MultiVip.Contracts;

namespace MultiVip.Cli.Commands;

/// <summary>New-AzureVM (register an existing machine), Get-AzureVM, Set-AzureVMState (drain, disable, enable), Remove-AzureVM.</summary>
internal static class VmCommands
{
    public static Command Create(CliContext cli)
    {
        var vm = new Command("vm", "Register, list, show, drain, disable, enable and remove VMs (the machines traffic is forwarded to).");

        var addService = ServiceOption();
        var addName = Options.Required("--name", "VM name.");
        var address = Options.Required("--address", "The VM's internal IP address, e.g. 10.0.0.4.");
        var defaultVip = Options.Optional("--default-vip", "Name of the default VIP when this first VM creates the deployment (default Vip1).");
        var add = new Command("add", "Register a VM; the first one creates the Production deployment (New-AzureVM).") { addService, addName, address, defaultVip };
        cli.SetAction(add, run => run.RunOperationAsync("Adding VM", (c, wait, ct) => c.AddVmAsync(
            run.Required(addService),
            new AddVmRequest { Name = run.Required(addName), Address = run.Required(address), DefaultVirtualIpName = run.Value(defaultVip) },
            null,
            wait,
            ct)));

        var listService = ServiceOption();
        var list = new Command("list", "List the VMs of a cloud service (Get-AzureVM -ServiceName).") { listService };
        cli.SetAction(list, async run =>
            run.Write(await run.Client.ListVmsAsync(run.Required(listService), run.CancellationToken).ConfigureAwait(false), ResourceText.Vms));

        var showService = ServiceOption();
        var showName = Options.Required("--name", "VM name.");
        var show = new Command("show", "Show a VM and its endpoints (Get-AzureVM -Name).") { showService, showName };
        cli.SetAction(show, async run =>
            run.Write((await run.Client.GetVmAsync(run.Required(showService), run.Required(showName), run.CancellationToken).ConfigureAwait(false)).Value, ResourceText.VmDetail));

        var removeService = ServiceOption();
        var removeName = Options.Required("--name", "VM name.");
        var remove = new Command("remove", "Remove a VM with its endpoints; the last one removes the deployment (Remove-AzureVM).") { removeService, removeName };
        cli.SetAction(remove, run => run.RunOperationAsync("Removing VM", (c, wait, ct) =>
            c.RemoveVmAsync(run.Required(removeService), run.Required(removeName), null, wait, ct)));

        vm.Subcommands.Add(add);
        vm.Subcommands.Add(list);
        vm.Subcommands.Add(show);
        foreach (var (verb, state, help) in new[]
        {
            ("drain", "draining", "Take a VM out of rotation for maintenance: its backends take no new connections, established ones go on; it becomes disabled once they reach 0 (Set-AzureVMState -State Draining)."),
            ("disable", "disabled", "Take a VM out of rotation now: no new connections; what is still open drains for --drain-timeout (Set-AzureVMState -State Disabled)."),
            ("enable", "enabled", "Put a drained or disabled VM back into rotation (Set-AzureVMState -State Enabled)."),
        })
        {
            var stateService = ServiceOption();
            var stateName = Options.Required("--name", "VM name.");
            var command = new Command(verb, help) { stateService, stateName };
            cli.SetAction(command, run => run.RunOperationAsync($"Setting VM state to {state}", (c, wait, ct) =>
                c.SetVmStateAsync(run.Required(stateService), run.Required(stateName), new SetVmStateRequest { State = state }, null, wait, ct)));
            vm.Subcommands.Add(command);
        }

        vm.Subcommands.Add(remove);
        return vm;
    }

    internal static Option<string> ServiceOption() => Options.Required("--service", "Cloud service name.");
}
