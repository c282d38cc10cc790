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
        [new("Name"), new("IpAddress"), new("State"), new("Endpoints", AlignRight: true), new("Version", AlignRight: true)],
        vms.Select(v => Row(v.Name, v.Address, v.State.ToString(), Num(v.Endpoints.Count), Num(v.Version))));

    public static string VmDetail(VirtualMachine vm)
    {
        var text = new StringBuilder(PowerShellFormat.List(
        [
            [("Name", vm.Name), ("IpAddress", vm.Address), ("State", vm.State.ToString()), ("Version", Num(vm.Version)), ("Endpoints", Num(vm.Endpoints.Count))],
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
            [new("VM"), new("Endpoint"), new("Listener"), new("Plane"), new("State"), new("LastProbeAt"), new("Active", AlignRight: true), new("Total", AlignRight: true), new("LastError")],
            d.Health.Select(h => Row(
                h.VmName,
                h.EndpointName,
                h.Listener,
                h.Plane,
                h.Draining ? $"{h.State} (draining)" : h.State.ToString(),
                h.LastProbeAt is { } t ? Time(t) : null,
                Num(h.ActiveConnections),
                Num(h.TotalConnections),
                h.LastError))));
        Section(text, "Network", d.Network.Count, () => PowerShellFormat.Table(
            [new("VirtualIPName"), new("Address"), new("Family"), new("Announcer"), new("OnNetwork"), new("Since"), new("LastError")],
            d.Network.Select(n => Row(
                n.VirtualIpName,
                n.Address,
                n.AddressFamily,
                n.Announcer,
                n.Address is null ? null : PowerShellFormat.Bool(n.Held),
                n.HeldSince is { } since ? Time(since) : null,
                n.LastError is null ? null : $"{(n.LastErrorAt is { } at ? Time(at) + " " : "")}{n.LastError}"))));

        // Several nodes (--announce vrrp|bgp): this node's role per VIP, since when, how often it changed.
        var owned = d.Network.Where(n => n.State is not null).ToList();
        if (owned.Count > 0)
        {
            Section(text, "Ownership", owned.Count, () => PowerShellFormat.Table(
            [new("VirtualIPName"), new("Address"), new("Node"), new("Announcer"), new("State"), new("Since"), new("Changes")],
            owned.Select(n => Row(
                n.VirtualIpName,
                n.Address,
                n.Node,
                n.Announcer,
                n.State,
                n.StateSince is { } since ? Time(since) : null,
                Num(n.OwnershipChanges)))));
        }

        return text.ToString();
    }

    /// <summary>
    /// `multivip usage`: the totals as a list, then a table of VIPs (the default VIP has no hours:
    /// it is not billed) and of reserved IPs. Hours to 4 decimals; -o json has them exact.
    /// </summary>
    public static string Usage(UsageReport u)
    {
        var text = new StringBuilder(PowerShellFormat.List(
        [
            [
                ("ServiceName", u.ServiceName ?? "(all services)"),
                ("From", Time(u.From)),
                ("To", Time(u.To)),
                ("VipHours", Hours(u.VipHours)),
                ("ReservedIPHours", Hours(u.ReservedIpHours)),
                ("BytesIn", Num(u.BytesIn)),
                ("BytesOut", Num(u.BytesOut)),
            ],
        ]));
        List<Column> vipColumns =
            [new("VirtualIPName"), new("IsDnsProgrammed"), new("Hours", AlignRight: true), new("BytesIn", AlignRight: true), new("BytesOut", AlignRight: true), new("Intervals")];
        if (u.ServiceName is null)
        {
            vipColumns.Insert(0, new("ServiceName"));
        }

        Section(text, "VirtualIPs", u.VirtualIps.Count, () => PowerShellFormat.Table(vipColumns, u.VirtualIps.Select(v =>
        {
            string?[] cells =
            [
                v.Name, v.IsDnsProgrammed ? "True" : null, v.IsDnsProgrammed ? null : Hours(v.Hours), Num(v.BytesIn), Num(v.BytesOut), Intervals(v.Intervals),
            ];
            return u.ServiceName is null ? [v.ServiceName, .. cells] : cells;
        })));
        Section(text, "ReservedIPs", u.ReservedIps.Count, () => PowerShellFormat.Table(
            [new("ReservedIPName"), new("Address"), new("Hours", AlignRight: true), new("Intervals")],
            u.ReservedIps.Select(r => Row(r.Name, r.Address, Hours(r.Hours), Intervals(r.Intervals)))));
        return text.ToString();
    }

    /// <summary>`node list`: one row per node; faults as "listener: message" (the whole text is in -o json).</summary>
    public static string Nodes(IEnumerable<NodeView> nodes) => PowerShellFormat.Table(
        [new("Name"), new("State"), new("ApiAddress"), new("LastHeartbeat"), new("Age", AlignRight: true), new("Applied", AlignRight: true), new("Version"), new("AnnounceFrom"), new("Holds"), new("Faults")],
        nodes.Select(n => Row(
            n.IsLocal ? n.Name + " *" : n.Name,
            n.State,
            n.ApiAddress,
            Time(n.LastHeartbeat),
            n.HeartbeatAgeSeconds.ToString("0.0", CultureInfo.InvariantCulture) + "s",
            Num(n.AppliedGeneration),
            n.Version,
            n.AnnounceAddress ?? "",
            string.Join(", ", n.Holds.Select(h => $"{h.Address} ({h.Role})")),
            string.Join("; ", n.Faults.Select(f => $"{f.Listener} ({f.ServiceName}): {f.Message}")))));

    /// <summary>"4.5", "0.0167": up to 4 decimals, at least 2.</summary>
    public static string Hours(double hours) => hours.ToString("0.00##", CultureInfo.InvariantCulture);

    /// <summary>"2030-01-15 10:00-12:30, 2030-01-15 13:00-15:00*" (UTC, minutes; * still held).</summary>
    private static string Intervals(IReadOnlyList<UsageInterval> intervals) =>
        string.Join(", ", intervals.Select(i =>
        {
            var start = i.Start.ToUniversalTime();
            var end = i.End.ToUniversalTime();
            var endText = end.Date == start.Date ? end.ToString("HH:mm", CultureInfo.InvariantCulture) : end.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
            return $"{start.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)}-{endText}{(i.Open ? "*" : "")}";
        }));

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
