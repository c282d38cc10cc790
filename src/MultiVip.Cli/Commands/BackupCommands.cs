using System.CommandLine;
using System.Globalization;
using MultiVip.Cli.Infrastructure;
using MultiVip.Client;
using MultiVip.Control.State;

namespace MultiVip.Cli.Commands;

/// <summary>
/// <c>multivip backup --to FILE</c> (a consistent snapshot through the running server's API) and
/// <c>multivip restore --from FILE --data-dir DIR</c> (into a new or empty data dir, checked first).
/// </summary>
internal static class BackupCommands
{
    public static Command CreateBackup(CliContext cli)
    {
        var to = new Option<string>("--to") { Description = "File to write the backup to (an SQLite database file).", Required = true };
        var force = new Option<bool>("--force") { Description = "Replace --to if it exists." };
        var backup = new Command(
            "backup",
            "Back up the running server's state (services, VMs, VIPs, endpoints, reserved IPs, operations) to a file, consistently, while it serves. The API token is not in it.")
        {
            to, force,
        };
        cli.SetAction(backup, async run =>
        {
            var file = Path.GetFullPath(run.Required(to));
            if (File.Exists(file) && !run.Value(force))
            {
                throw CliException.Usage($"{file} exists. Give a new file name, or --force to replace it.");
            }

            var directory = Path.GetDirectoryName(file)!;
            if (!Directory.Exists(directory))
            {
                throw CliException.Usage($"The directory {directory} does not exist. Create it, or give --to a file in an existing directory.");
            }

            // Downloaded beside the target and checked before it takes the name, so FILE is only ever a whole, intact backup.
            var partial = Path.Combine(directory, $".{Path.GetFileName(file)}.{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}.partial");
            try
            {
                await using (var stream = new FileStream(partial, new FileStreamOptions
                {
                    Mode = FileMode.Create,
                    Access = FileAccess.Write,
                    UnixCreateMode = OperatingSystem.IsWindows() ? null : UnixFileMode.UserRead | UnixFileMode.UserWrite,
                }))
                {
                    await run.Client.DownloadBackupAsync(stream, run.CancellationToken).ConfigureAwait(false);
                }

                BackupSummary summary;
                try
                {
                    summary = await SqliteBackup.VerifyAsync(partial, run.CancellationToken).ConfigureAwait(false);
                }
                catch (BackupRejectedException e)
                {
                    throw CliException.NotDone($"The server sent a backup that does not check out, so nothing was written to {file}: {e.Message}");
                }

                File.Move(partial, file, overwrite: true);
                var bytes = new FileInfo(file).Length;
                run.Write(
                    new BackupResult(file, bytes, summary.Services, summary.ReservedIps, summary.Operations, summary.SchemaVersion),
                    r => $"Backed up {Plural(r.Services, "cloud service")}, {Plural(r.ReservedIps, "reserved IP")} and {Plural(r.Operations, "operation")} to {r.File} ({r.Bytes} bytes).\n"
                        + $"Restore with: multivip restore --from {r.File} --data-dir NEW_DIR\n");
            }
            finally
            {
                File.Delete(partial);
            }
        });
        return backup;
    }

    public static Command CreateRestore(CliContext cli)
    {
        var from = new Option<string>("--from") { Description = "Backup file written by `multivip backup --to`.", Required = true };
        var restore = new Command(
            "restore",
            "Restore a backup into a new or empty --data-dir (default ./.multivip), after checking it; then start `multivip serve --data-dir DIR` on it. Refuses a data dir that holds anything.")
        {
            from,
        };
        cli.SetAction(restore, async run =>
        {
            var given = run.Parse.GetValue(cli.Global.DataDir) ?? ClientConnection.DefaultDataDir;
            if (MultiVip.Control.State.PostgresLocation.IsPostgres(given) || MultiVip.Control.State.PostgresLocation.IsPostgres(run.Required(from)))
            {
                throw CliException.Usage(
                    "restore works on SQLite data dirs only. A PostgreSQL store is backed up and restored with PostgreSQL's own tools: pg_dump --format=custom, then pg_restore into an empty database. " +
                    "To load a SQLite backup into PostgreSQL, restore it into a new data dir, then `multivip store copy --from DIR --to postgresql://...`.");
            }

            var source = Path.GetFullPath(run.Required(from));
            var dataDir = Path.GetFullPath(given);
            if (Directory.Exists(dataDir) && Directory.EnumerateFileSystemEntries(dataDir).Take(4).ToList() is { Count: > 0 } present)
            {
                throw CliException.Usage(
                    $"The data dir {dataDir} is not empty (it holds {string.Join(", ", present.Select(Path.GetFileName))}): restore writes only into a new or empty directory, so it never overwrites a server's state. Give another --data-dir, or move {dataDir} away first.");
            }

            if (File.Exists(dataDir))
            {
                throw CliException.Usage($"{dataDir} is a file, not a directory. Give --data-dir a new or empty directory.");
            }

            BackupSummary summary;
            try
            {
                summary = await SqliteBackup.RestoreAsync(source, dataDir, run.CancellationToken).ConfigureAwait(false);
            }
            catch (BackupRejectedException e)
            {
                throw CliException.Usage($"Nothing was restored: {e.Message}");
            }

            run.Write(
                new RestoreResult(source, dataDir, summary.Services, summary.ReservedIps, summary.Operations, summary.SchemaVersion),
                r => $"Restored {Plural(r.Services, "cloud service")}, {Plural(r.ReservedIps, "reserved IP")} and {Plural(r.Operations, "operation")} from {r.From} into {r.DataDir}.\n"
                    + $"Start a server on it: multivip serve --data-dir {r.DataDir}   (it makes a new API token; copy the old token file into the data dir first to keep it)\n");
        });
        return restore;
    }

    private static string Plural(long count, string noun) => $"{count} {noun}{(count == 1 ? string.Empty : "s")}";

    internal sealed record BackupResult(string File, long Bytes, long Services, long ReservedIps, long Operations, int SchemaVersion);

    internal sealed record RestoreResult(string From, string DataDir, long Services, long ReservedIps, long Operations, int SchemaVersion);
}
