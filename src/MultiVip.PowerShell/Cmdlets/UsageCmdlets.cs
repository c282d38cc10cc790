using System.Management.Automation;
using MultiVip.PowerShell.Completion;
using MultiVip.PowerShell.Infrastructure;
using MultiVip.PowerShell.Objects;

namespace MultiVip.PowerShell.Cmdlets;

/// <summary>
/// Usage as Azure billed the seed's feature: VIP-hours of extra VIPs, reserved-IP hours, bytes per
/// VIP, over [-StartTime, -EndTime) (default: this month so far). Without -ServiceName: every
/// service and every reserved IP. A time without a zone (Kind Unspecified) is taken as UTC, like
/// the CLI's; a local time is converted.
/// </summary>
[Cmdlet(VerbsCommon.Get, "AzureServiceUsage"), OutputType(typeof(ServiceUsageContext))]
public sealed class GetAzureServiceUsageCmdlet : MultiVipCmdlet
{
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(ServiceNameCompleter))]
    public string? ServiceName { get; set; }

    [Parameter(Position = 1)]
    public DateTime? StartTime { get; set; }

    [Parameter(Position = 2)]
    public DateTime? EndTime { get; set; }

    protected override void ProcessRecord()
    {
        var from = StartTime is { } start ? Utc(start) : (DateTimeOffset?)null;
        var to = EndTime is { } end ? Utc(end) : (DateTimeOffset?)null;
        WriteObject(new ServiceUsageContext(Call((c, ct) => c.GetUsageAsync(ServiceName, from, to, ct), ServiceName)));
    }

    private static DateTimeOffset Utc(DateTime time) => time.Kind switch
    {
        DateTimeKind.Local => new DateTimeOffset(time).ToUniversalTime(),
        _ => new DateTimeOffset(DateTime.SpecifyKind(time, DateTimeKind.Utc)),
    };
}
