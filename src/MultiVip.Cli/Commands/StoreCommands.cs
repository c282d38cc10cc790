using System.CommandLine;
using Microsoft.Extensions.Logging.Abstractions;
using MultiVip.Cli.Infrastructure;
using MultiVip.Control.State;
using MultiVip.Model.Errors;

namespace MultiVip.Cli.Commands;

/// <summary>
/// <c>multivip store copy --from &lt;data dir or URL&gt; --to &lt;URL or data dir&gt;</c>: moves a whole
/// state between SQLite (one node) and PostgreSQL (several nodes), either way, into an empty target.
/// Runs locally against the stores, not through a server.
/// </summary>
internal static class StoreCommands
{
    public static Command Create(CliContext cli)
    {
        var from = new Option<string>("--from") { Description = "The state to copy: a data dir (SQLite) or a postgresql://user:password@host:port/database URL (or Npgsql connection string).", Required = true };
        var to = new Option<string>("--to") { Description = "Where to copy it: an empty PostgreSQL database (URL or connection string) or a new, empty data dir.", Required = true };
        var copy = new Command(
            "copy",
            "Copy a whole state (services, reserved IPs, operations, usage) from a SQLite data dir into an empty PostgreSQL database, or back; refuses a target that holds state. Stop the servers on --from first.")
        {
            from, to,
        };
        cli.SetAction(copy, async run =>
        {
            var source = run.Required(from);
            var target = run.Required(to);
            var sourceName = StoreCopy.Describe(source);
            var targetName = StoreCopy.Describe(target);
            if (!PostgresLocation.IsPostgres(target) && Directory.Exists(target) && File.Exists(Path.Combine(target, SqliteStateStore.FileName)) && new FileInfo(Path.Combine(target, SqliteStateStore.FileName)).Length > 0)
            {
                // Opening it would migrate a data dir that may belong to a server; the emptiness
                // check below would refuse it anyway if it holds state.
                throw CliException.Usage($"Nothing was copied: the data dir {targetName} already has a state database ({SqliteStateStore.FileName}). store copy writes only into a new or empty data dir; give --to another one.");
            }

            StoreCopySummary summary;
            try
            {
                await using var sourceStore = await StoreCopy.OpenAsync(source, mustHoldState: true, TimeProvider.System, NullLoggerFactory.Instance, run.CancellationToken).ConfigureAwait(false);
                await using var targetStore = await StoreCopy.OpenAsync(target, mustHoldState: false, TimeProvider.System, NullLoggerFactory.Instance, run.CancellationToken).ConfigureAwait(false);
                summary = await StoreCopy.CopyAsync(sourceStore, sourceName, targetStore, targetName, run.CancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is StoreCopyException or StateStorageException)
            {
                throw CliException.Usage(e.Message);
            }
            catch (MultiVipException e)
            {
                throw CliException.Usage($"Nothing was copied: {e.Message}");
            }

            run.Write(
                summary,
                s => $"Copied {s.Services} cloud service(s), {s.ReservedIps} reserved IP(s) and {s.Operations} operation(s) (generation {s.Generation}) from {s.From} to {s.To}.\n"
                    + (PostgresLocation.IsPostgres(target)
                        ? "Start each node on it: multivip serve --store URL (each with its own --data-dir for its token)\n"
                        : $"Start a server on it: multivip serve --data-dir {s.To}\n"));
        });
        return new Command("store", "Move the state between SQLite (one node) and PostgreSQL (several nodes).") { copy };
    }
}
