using System.CommandLine;
using MultiVip.Cli.Infrastructure;
using MultiVip.Cli.Output;
using MultiVip.Contracts;

namespace MultiVip.Cli.Commands;

/// <summary>New-/Get-/Remove-AzureReservedIP, Set-/Remove-AzureReservedIPAssociation.</summary>
internal static class ReservedIpCommands
{
    public static Command Create(CliContext cli)
    {
        var reserved = new Command("reserved-ip", "Reserve addresses and back virtual IPs with them.");

        var name = NameOption();
        var location = Options.Required("--location", "Location (-Location), e.g. local.");
        var label = Options.Optional("--label", "Label.");
        var service = Options.Optional("--service", "Reserve the address this cloud service's VIP already has.");
        var vip = Options.Optional("--vip", "With --service: the VIP whose address to reserve (default: the default VIP).");
        var family = Options.Optional("--address-family", "Without --service: ipv4 (default) or ipv6 address from the pool.");
        var create = new Command("create", "Reserve an address (New-AzureReservedIP).") { name, location, label, service, vip, family };
        cli.SetAction(create, run => run.RunOperationAsync("Reserving IP", (c, wait, ct) => c.CreateReservedIpAsync(
            new CreateReservedIpRequest
            {
                Name = run.Required(name),
                Location = run.Required(location),
                Label = run.Value(label),
                ServiceName = run.Value(service),
                VirtualIpName = run.Value(vip),
                AddressFamily = run.Value(family),
            },
            wait,
            ct)));

        var list = new Command("list", "List reserved IPs (Get-AzureReservedIP).");
        cli.SetAction(list, async run =>
            run.Write(await run.Client.ListReservedIpsAsync(run.CancellationToken).ConfigureAwait(false), ResourceText.ReservedIps));

        var showName = NameOption();
        var show = new Command("show", "Show a reserved IP (Get-AzureReservedIP -ReservedIPName).") { showName };
        cli.SetAction(show, async run =>
            run.Write(await run.Client.GetReservedIpAsync(run.Required(showName), run.CancellationToken).ConfigureAwait(false), ResourceText.ReservedIpDetail));

        var removeName = NameOption();
        var remove = new Command("remove", "Release an unused reserved IP (Remove-AzureReservedIP).") { removeName };
        cli.SetAction(remove, run => run.RunOperationAsync("Releasing reserved IP", (c, wait, ct) =>
            c.RemoveReservedIpAsync(run.Required(removeName), wait, ct)));

        var associateName = NameOption();
        var associateService = Options.Required("--service", "Cloud service whose VIP the reserved IP backs.");
        var associateVip = Options.Optional("--vip", "The VIP to back (default: the default VIP).");
        var associate = new Command("associate", "Back a VIP with the reserved IP (Set-AzureReservedIPAssociation).") { associateName, associateService, associateVip };
        cli.SetAction(associate, run => run.RunOperationAsync("Associating reserved IP", (c, wait, ct) => c.AssociateReservedIpAsync(
            run.Required(associateName),
            new AssociateReservedIpRequest { ServiceName = run.Required(associateService), VirtualIpName = run.Value(associateVip) },
            wait,
            ct)));

        var disassociateName = NameOption();
        var disassociate = new Command("disassociate", "Detach the reserved IP from its VIP; the reservation stays (Remove-AzureReservedIPAssociation).") { disassociateName };
        cli.SetAction(disassociate, run => run.RunOperationAsync("Disassociating reserved IP", (c, wait, ct) =>
            c.DisassociateReservedIpAsync(run.Required(disassociateName), wait, ct)));

        foreach (var command in (Command[])[create, list, show, remove, associate, disassociate])
        {
            reserved.Subcommands.Add(command);
        }

        return reserved;
    }

    private static Option<string> NameOption() => Options.Required("--name", "Reserved IP name (-ReservedIPName).");
}
