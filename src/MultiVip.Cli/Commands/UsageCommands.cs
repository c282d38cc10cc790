using System.CommandLine;
using MultiVip.Cli.Infrastructure;
using MultiVip.Cli.Output;
using MultiVip.Contracts;

namespace MultiVip.Cli.Commands;

/// <summary>`multivip usage`: what Azure would bill for the seed's feature (docs/usage.md).</summary>
internal static class UsageCommands
{
    public static Command Create(CliContext cli)
    {
        var service = Options.Optional("--service", "Cloud service to report on (-ServiceName). Without it: every service and every reserved IP.");
        var from = Time("--from", "Start of the range, ISO 8601 (2025-01-15 or 2025-01-15T10:00:00Z; UTC without an offset). Default: the start of this month (UTC).");
        var to = Time("--to", "End of the range (not included), ISO 8601. Default: now.");
        var usage = new Command(
            "usage",
            "Show usage as Azure billed it: VIP-hours of extra VIPs (while they hold an address), reserved-IP hours, and bytes per VIP, over [--from, --to).")
        {
            service, from, to,
        };
        cli.SetAction(usage, async run =>
        {
            var start = Parse(run.Value(from), "--from");
            var end = Parse(run.Value(to), "--to");
            if (start >= end)
            {
                throw CliException.Usage($"The range is empty: --from ({run.Value(from)}) must be before --to ({run.Value(to)}).");
            }

            var report = await run.Client.GetUsageAsync(run.Value(service), start, end, run.CancellationToken).ConfigureAwait(false);
            run.Write(report, ResourceText.Usage);
        });
        return usage;
    }

    /// <summary>An ISO 8601 time option, checked by the domain's parser so a typo is a usage error before anything is sent.</summary>
    private static Option<string?> Time(string name, string description) =>
        Options.Choice(name, description, v => UsageRange.ParseTime(v, name));

    private static DateTimeOffset? Parse(string? text, string name) => text is null ? null : UsageRange.ParseTime(text, name);
}
