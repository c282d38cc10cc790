using System.CommandLine;
using MultiVip.Cli.Infrastructure;
using MultiVip.Cli.Output;
using MultiVip.Contracts;

namespace MultiVip.Cli.Commands;

/// <summary>Get-AzureOperation-like access to the server's operation log.</summary>
internal static class OperationCommands
{
    public static Command Create(CliContext cli)
    {
        var operation = new Command("operation", "Show operations (the changes the server made).");

        var id = new Option<Guid>("--id") { Description = "OperationId, as a change printed it.", Required = true };
        var show = new Command("show", "Show one operation with its error, target, caller and times.") { id };
        cli.SetAction(show, async run =>
            run.Write(await run.Client.GetOperationAsync(run.Value(id), run.CancellationToken).ConfigureAwait(false), ResourceText.OperationDetail));

        var limit = new Option<int?>("--limit") { Description = $"How many of the newest operations to list, 1 to {ApiRoutes.MaxOperationsLimit} (default 100)." };
        limit.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is < 1 or > ApiRoutes.MaxOperationsLimit)
            {
                r.AddError($"--limit must be from 1 to {ApiRoutes.MaxOperationsLimit}.");
            }
        });
        var list = new Command("list", "List operations, newest first.") { limit };
        cli.SetAction(list, async run =>
            run.Write(await run.Client.ListOperationsAsync(run.Value(limit), run.CancellationToken).ConfigureAwait(false), ResourceText.OperationHistory));

        operation.Subcommands.Add(show);
        operation.Subcommands.Add(list);
        return operation;
    }
}
