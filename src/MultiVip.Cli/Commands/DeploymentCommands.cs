using System.CommandLine;
using MultiVip.Cli.Infrastructure;
using MultiVip.Cli.Output;

namespace MultiVip.Cli.Commands;

/// <summary>Get-AzureDeployment.</summary>
internal static class DeploymentCommands
{
    public static Command Create(CliContext cli)
    {
        var deployment = new Command("deployment", "Show the Production deployment of a cloud service.");
        var service = VmCommands.ServiceOption();
        var show = new Command("show", "Show the deployment: virtual IPs, VMs, endpoints, load-balanced sets and health (Get-AzureDeployment).") { service };
        cli.SetAction(show, async run =>
            run.Write((await run.Client.GetDeploymentAsync(run.Required(service), run.CancellationToken).ConfigureAwait(false)).Value, ResourceText.Deployment));
        deployment.Subcommands.Add(show);
        return deployment;
    }
}
