using System.Globalization;
using System.Text;
using MultiVip.Contracts;
using MultiVip.Model.Operations;
using MultiVip.Model.ReservedIps;
using MultiVip.Model.Services;

namespace MultiVip.Cli.Output;

/// <summary>
/// Human text for every resource. Property names follow the cmdlets' output (ReservedIPName,
/// IsDnsProgrammed, LBSetName...) so users of the Azure docs recognise them.
/// </summary>
internal static class ResourceText
{
    private static readonly Column[] OperationColumns =
        [new("OperationDescription"), new("OperationId"), new("OperationStatus")];

    /// <summary>What every mutating cmdlet printed (the seed's Add-AzureVirtualIP sample).</summary>
    public static string Operations(IEnumerable<Operation> operations) =>
        PowerShellFormat.Table(OperationColumns, operations.Select(o => Row(o.OperationDescription, Id(o.OperationId), o.OperationStatus.ToString())));

    public static string OperationHistory(IEnumerable<Operation> operations) =>
        PowerShellFormat.Table(
            [new("OperationDescription"), new("OperationId"), new("OperationStatus"), new("Target"), new("CreatedAt"), new("ErrorCode")],
            operations.Select(o => Row(o.OperationDescription, Id(o.OperationId), o.OperationStatus.ToString(), o.Target, Time(o.CreatedAt), o.ErrorCode)));

    public static string OperationDetail(Operation o) => PowerShellFormat.List(
    [
        [
            ("OperationDescription", o.OperationDescription),
            ("OperationId", Id(o.OperationId)),
            ("OperationStatus", o.OperationStatus.ToString()),
            ("ErrorCode", o.ErrorCode),
            ("ErrorMessage", o.ErrorMessage),
            ("Target", o.Target),
            ("Caller", o.Caller),
            ("CreatedAt", Time(o.CreatedAt)),
            ("CompletedAt", o.CompletedAt is { } c ? Time(c) : null),
            ("Generation", Num(o.Generation)),
        ],
    ]);

    /// <summary>$deployment.VirtualIPs as the seed prints it: IsDnsProgrammed is True or empty.</summary>
    public static string VirtualIps(IEnumerable<VirtualIp> vips) => PowerShellFormat.List(vips.Select(v => (IReadOnlyList<(string, string?)>)
    [
        ("Address", v.Address),
        ("IsDnsProgrammed", v.IsDnsProgrammed ? "True" : null),
        ("Name", v.Name),
        ("ReservedIPName", v.ReservedIpName),
        ("ExtensionData", null),
    ]));

    public static string Services(IEnumerable<ServiceView> services) => PowerShellFormat.Table(
        [new("ServiceName"), new("Label"), new("Location"), new("DeploymentName"), new("VMs", AlignRight: true)],
        services.Select(s => Row(s.Name, s.Label, s.Location, s.DeploymentName, Num(s.VmCount))));

    public static string ServiceDetail(ServiceView s) => PowerShellFormat.List(
    [
        [
            ("ServiceName", s.Name),
            ("Label", s.Label),
            ("Description", s.Description),
            ("Location", s.Location),
            ("DeploymentName", s.DeploymentName),
            ("VMs", Num(s.VmCount)),
            ("CreatedAt", Time(s.CreatedAt)),
            ("Version", Num(s.Version)),
        ],
    ]);

    public static string Vms(IEnumerable<VirtualMachine> vms) => PowerShellFormat.Table(
        [new("Name"), new("IpAddress"), new("Endpoints", AlignRight: true), new("Version", AlignRight: true)],
        vms.Select(v => Row(v.Name, v.Address, Num(v.Endpoints.Count), Num(v.Version))));

    public static string VmDetail(VirtualMachine vm)
    {
        var text = new StringBuilder(PowerShellFormat.List(
        [
            [("Name", vm.Name), ("IpAddress", vm.Address), ("Version", Num(vm.Version)), ("Endpoints", Num(vm.Endpoints.Count))],
        ]));
        if (vm.Endpoints.Count > 0)
        {
            text.Append(Environment.NewLine).Append(Endpoints(vm.Endpoints));
        }

        return text.ToString();
    }

    public static string Endpoints(IEnumerable<InputEndpoint> endpoints) => EndpointTable(endpoints.Select(e => (Vm: (string?)null, Endpoint: e)), withVm: false);

    public static string LoadBalancedSets(IEnumerable<LoadBalancedSetView> sets) => PowerShellFormat.Table(
        [new("LBSetName"), new("VirtualIPName"), new("Protocol"), new("Port", AlignRight: true), new("Probe"), new("Distribution"), new("Members")],
        sets.Select(s => Row(
            s.Name,
            s.VirtualIpName,
            s.Protocol.ToWire(),
            Num(s.PublicPort),
            Probe(s.Probe),
            s.Distribution.ToWire(),
            string.Join(", ", s.Members.Select(m => $"{m.VmName}/{m.EndpointName}:{Num(m.LocalPort)}")))));

    public static string ReservedIps(IEnumerable<ReservedIp> ips) => PowerShellFormat.Table(
        [new("ReservedIPName"), new("Address"), new("Label"), new("Location"), new("State"), new("InUse"), new("ServiceName"), new("DeploymentName"), new("VirtualIPName")],
        ips.Select(r => Row(r.Name, r.Address, r.Label, r.Location, r.State, PowerShellFormat.Bool(r.InUse), r.ServiceName, r.DeploymentName, r.VirtualIpName)));

    /// <summary>Get-AzureReservedIP -ReservedIPName: the cmdlet's properties as a list.</summary>
    public static string ReservedIpDetail(ReservedIp r) => PowerShellFormat.List(
    [
        [
            ("ReservedIPName", r.Name),
            ("Address", r.Address),
            ("Id", Id(r.Id)),
            ("Label", r.Label),
            ("Location", r.Location),
            ("State", r.State),
            ("InUse", PowerShellFormat.Bool(r.InUse)),
            ("ServiceName", r.ServiceName),
            ("DeploymentName", r.DeploymentName),
            ("VirtualIPName", r.VirtualIpName),
        ],
    ]);

    /// <summary>Get-AzureDeployment: header, VirtualIPs (as the seed shows them), VMs, endpoints, LB sets and health.</summary>
    public static string Deployment(DeploymentView d)
    {
        var text = new StringBuilder(PowerShellFormat.List(
        [
            [
                ("ServiceName", d.ServiceName),
                ("DeploymentName", d.Name),
                ("DeploymentSlot", d.Slot),
                ("ReservedIPName", d.ReservedIpName),
                ("CreatedAt", Time(d.CreatedAt)),
                ("Version", Num(d.Version)),
            ],
        ]));
        Section(text, "VirtualIPs", d.VirtualIps.Count, () => VirtualIps(d.VirtualIps));
        Section(text, "VMs", d.VirtualMachines.Count, () => Vms(d.VirtualMachines));
        var endpoints = d.VirtualMachines.SelectMany(vm => vm.Endpoints.Select(e => (Vm: (string?)vm.Name, Endpoint: e))).ToList();
        Section(text, "Endpoints", endpoints.Count, () => EndpointTable(endpoints, withVm: true));
        Section(text, "LoadBalancedSets", d.LoadBalancedSets.Count, () => LoadBalancedSets(d.LoadBalancedSets));
        Section(text, "Health", d.Health.Count, () => PowerShellFormat.Table(
            [new("VM"), new("Endpoint"), new("Listener"), new("State"), new("LastProbeAt"), new("Active", AlignRight: true), new("Total", AlignRight: true), new("LastError")],
            d.Health.Select(h => Row(
                h.VmName,
                h.EndpointName,
                h.Listener,
                h.State.ToString(),
                h.LastProbeAt is { } t ? Time(t) : null,
                Num(h.ActiveConnections),
                Num(h.TotalConnections),
                h.LastError))));
        return text.ToString();
    }

    /// <summary>"tcp:8181 15s/31s" or "http:80/health 15s/31s"; empty without a probe.</summary>
    public static string Probe(LoadBalancerProbe? p) =>
        p is null ? string.Empty : $"{p.Protocol.ToWire()}:{Num(p.Port)}{p.Path} {Num(p.IntervalInSeconds)}s/{Num(p.TimeoutInSeconds)}s";

    public static string Acl(IReadOnlyList<AclRule> rules) =>
        string.Join(", ", rules.OrderBy(r => r.Order).Select(r => $"{Num(r.Order)}:{r.Action.ToWire()}:{r.RemoteSubnet}"));

    private static string EndpointTable(IEnumerable<(string? Vm, InputEndpoint Endpoint)> rows, bool withVm)
    {
        List<Column> columns =
        [
            new("Name"), new("Protocol"), new("LocalPort", AlignRight: true), new("Port", AlignRight: true), new("VirtualIPName"),
            new("LBSetName"), new("Probe"), new("Acl"), new("IdleTimeout", AlignRight: true), new("Distribution"), new("DSR"), new("ProxyProtocol"),
        ];
        if (withVm)
        {
            columns.Insert(0, new("VM"));
        }

        return PowerShellFormat.Table(columns, rows.Select(r =>
        {
            var e = r.Endpoint;
            string?[] cells =
            [
                e.Name, e.Protocol.ToWire(), Num(e.LocalPort), Num(e.PublicPort), e.VirtualIpName, e.LoadBalancedSetName, Probe(e.Probe),
                Acl(e.Acl), Num(e.IdleTimeoutInMinutes), e.Distribution.ToWire(), PowerShellFormat.Bool(e.DirectServerReturn),
                e.ProxyProtocol.ToString().ToLowerInvariant(),
            ];
            return withVm ? [r.Vm, .. cells] : cells;
        }));
    }

    private static void Section(StringBuilder text, string title, int count, Func<string> body)
    {
        text.Append(Environment.NewLine).Append(title).Append(Environment.NewLine).Append(Environment.NewLine);
        text.Append(count == 0 ? "(none)" + Environment.NewLine : body());
    }

    private static string?[] Row(params string?[] cells) => cells;

    private static string Id(Guid id) => id.ToString("D");

    private static string Num(long n) => n.ToString(CultureInfo.InvariantCulture);

    private static string Time(DateTimeOffset t) => t.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
