using System.CommandLine;
using MultiVip.Cli.Infrastructure;
using MultiVip.Cli.Output;
using MultiVip.Contracts;

namespace MultiVip.Cli.Commands;

/// <summary>New-AzureService, Get-AzureService, Remove-AzureService.</summary>
internal static class ServiceCommands
{
    public static Command Create(CliContext cli)
    {
        var service = new Command("service", "Create, list, show and delete cloud services.");

        var name = Options.Required("--name", "Cloud service name (a DNS label).");
        var label = Options.Optional("--label", "Label.");
        var description = Options.Optional("--description", "Description.");
        var location = Options.Optional("--location", "Location (default: local).");
        var create = new Command("create", "Create a cloud service (New-AzureService).") { name, label, description, location };
        cli.SetAction(create, run => run.RunOperationAsync("Creating cloud service", (c, wait, ct) => c.CreateServiceAsync(
            new CreateServiceRequest
            {
                Name = run.Required(name),
                Label = run.Value(label),
                Description = run.Value(description),
                Location = run.Value(location),
            },
            wait,
            ct)));

        var list = new Command("list", "List cloud services (Get-AzureService).");
        cli.SetAction(list, async run =>
            run.Write(await run.Client.ListServicesAsync(run.CancellationToken).ConfigureAwait(false), ResourceText.Services));

        var showName = Options.Required("--name", "Cloud service name.");
        var show = new Command("show", "Show a cloud service (Get-AzureService -ServiceName).") { showName };
        cli.SetAction(show, async run =>
            run.Write((await run.Client.GetServiceAsync(run.Required(showName), run.CancellationToken).ConfigureAwait(false)).Value, ResourceText.ServiceDetail));

        var deleteName = Options.Required("--name", "Cloud service name.");
        var deleteAll = Options.Flag("--delete-all", "Also remove the deployment, its VMs and endpoints (Remove-AzureService -DeleteAll).");
        var delete = new Command("delete", "Delete a cloud service (Remove-AzureService).") { deleteName, deleteAll };
        cli.SetAction(delete, run => run.RunOperationAsync("Deleting cloud service", (c, wait, ct) =>
            c.DeleteServiceAsync(run.Required(deleteName), run.Value(deleteAll), null, wait, ct)));

        service.Subcommands.Add(create);
        service.Subcommands.Add(list);
        service.Subcommands.Add(show);
        service.Subcommands.Add(delete);
        return service;
    }
}
