using System.CommandLine;
using MultiVip.Cli.Infrastructure;
using MultiVip.Cli.Output;

namespace MultiVip.Cli.Commands;

/// <summary>`multivip node list`: the nodes sharing the server's state (docs/operations.md#nodes).</summary>
internal static class NodeCommands
{
    public static Command Create(CliContext cli)
    {
        var node = new Command("node", "Show the nodes that share this state: API address, heartbeat, applied generation, state, faults.");
        var list = new Command("list", "List the nodes with their state (Ready, Lagging, Down) as the answering node sees it; * marks that node.");
        cli.SetAction(list, async run =>
            run.Write(await run.Client.ListNodesAsync(run.CancellationToken).ConfigureAwait(false), ResourceText.Nodes));
        node.Subcommands.Add(list);
        return node;
    }
}
