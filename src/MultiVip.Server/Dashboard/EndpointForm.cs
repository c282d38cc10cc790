using System.Globalization;
using MultiVip.Contracts;
using MultiVip.Model.Errors;
using MultiVip.Model.Services;

namespace MultiVip.Server.Dashboard;

/// <summary>
/// The endpoint form of the dashboard (add, edit one endpoint, edit a load-balanced set): one set
/// of fields, read into the same Contracts requests the REST API takes (<see cref="EndpointRequest"/>,
/// <see cref="SetLoadBalancedSetRequest"/>). Nothing is validated here: the form only turns text
/// into the request's fields, and the control plane answers with the API's own messages.
/// </summary>
internal static class EndpointForm
{
    /// <summary>The ACL textarea's format, named in its placeholder and in errors.</summary>
    public const string AclFormat = "ORDER permit|deny SUBNET [DESCRIPTION], one rule per line";

    /// <summary>
    /// The fields of one endpoint. With <paramref name="current"/> they show its values (an edit
    /// form, which replaces the whole endpoint as Set-AzureEndpoint does); without, Azure's
    /// defaults as placeholders. <paramref name="ids"/> prefixes element ids (the add form's).
    /// </summary>
    public static void Fields(Html h, Deployment d, InputEndpoint? current, string? ids)
    {
        h.Raw("<label>Protocol <select name=\"protocol\"").Raw(Id(ids, "protocol")).Raw(">");
        Options(h, ["tcp", "udp"], current?.Protocol.ToWire());
        h.Raw("</select></label>");
        h.Raw("<label>Public port <input name=\"publicPort\"").Raw(Id(ids, "public")).Raw(" inputmode=\"numeric\"").Attr("value", current?.PublicPort.ToString(CultureInfo.InvariantCulture)).Raw("></label>");
        h.Raw("<label>Local port <input name=\"localPort\"").Raw(Id(ids, "local")).Raw(" inputmode=\"numeric\" required").Attr("value", current?.LocalPort.ToString(CultureInfo.InvariantCulture)).Raw("></label>");
        h.Raw("<label>VIP <select name=\"vip\"").Raw(Id(ids, "vip")).Raw(">");
        Options(h, d.VirtualIps.Select(v => v.Name), current?.VirtualIpName);
        h.Raw("</select></label>");
        h.Raw("<label>LB set <input name=\"lbSet\"").Raw(Id(ids, "lbset")).Raw(" placeholder=\"none\"").Attr("value", current?.LoadBalancedSetName).Raw("></label>");
        ProbeFields(h, current?.Probe, ids, keepChoice: false, current is null ? null : current.Probe is null ? "" : current.Probe.Protocol.ToWire());
        h.Raw("<label>Distribution <select name=\"distribution\"").Raw(Id(ids, "distribution")).Raw(">");
        Options(h, ["none", "sourceIP", "sourceIPProtocol"], current?.Distribution.ToWire());
        h.Raw("</select></label>");
        h.Raw("<label>Idle timeout (min) <input name=\"idleTimeout\"").Raw(Id(ids, "idle")).Raw(" inputmode=\"numeric\" placeholder=\"4\"")
            .Attr("value", current?.IdleTimeoutInMinutes.ToString(CultureInfo.InvariantCulture)).Raw("></label>");
        h.Raw("<label>PROXY protocol <select name=\"proxyProtocol\"").Raw(Id(ids, "proxy")).Raw(">");
        Options(h, ["none", "v1", "v2"], current?.ProxyProtocol.ToWire());
        h.Raw("</select></label>");
        h.Raw("<label class=\"check\"><input type=\"checkbox\" name=\"directServerReturn\" value=\"true\"").Raw(Id(ids, "dsr")).Raw(current?.DirectServerReturn == true ? " checked" : "").Raw("> Direct server return</label>");
        AclField(h, current?.Acl, ids);
    }

    /// <summary>The load-balanced set's form: what is left as "keep" (or blank) stays on every member.</summary>
    public static void SetFields(Html h, Deployment d, LoadBalancedSetView set, IReadOnlyList<InputEndpoint> members)
    {
        var first = members[0];
        bool Same<T>(Func<InputEndpoint, T> field) => members.All(m => EqualityComparer<T>.Default.Equals(field(m), field(first)));
        h.Raw("<label>VIP <select name=\"vip\">");
        Options(h, d.VirtualIps.Select(v => v.Name), set.VirtualIpName);
        h.Raw("</select></label>");
        ProbeFields(h, set.Probe, null, keepChoice: true, "keep");
        h.Raw("<label>Distribution <select name=\"distribution\">");
        Options(h, ["none", "sourceIP", "sourceIPProtocol"], set.Distribution.ToWire());
        h.Raw("</select></label>");
        h.Raw("<label>Idle timeout (min) <input name=\"idleTimeout\" inputmode=\"numeric\"")
            .Attr("value", Same(m => m.IdleTimeoutInMinutes) ? first.IdleTimeoutInMinutes.ToString(CultureInfo.InvariantCulture) : null)
            .Attr("placeholder", Same(m => m.IdleTimeoutInMinutes) ? "4" : "differs: blank keeps each").Raw("></label>");
        h.Raw("<label>PROXY protocol <select name=\"proxyProtocol\">");
        if (!Same(m => m.ProxyProtocol))
        {
            h.Raw("<option value=\"\" selected>keep each member's</option>");
        }

        Options(h, ["none", "v1", "v2"], Same(m => m.ProxyProtocol) ? first.ProxyProtocol.ToWire() : null);
        h.Raw("</select></label>");
        var acl = Same(m => AclText(m.Acl)) ? first.Acl : null;
        AclField(h, acl, null, acl is null ? "members differ: blank keeps each; 'none' removes every rule" : null);
    }

    /// <summary>Add-AzureEndpoint / Set-AzureEndpoint from the form.</summary>
    public static EndpointRequest ReadEndpoint(IFormCollection form, string? name = null) => new()
    {
        Name = name ?? Text(form, "name"),
        Protocol = Text(form, "protocol") ?? "tcp",
        LocalPort = Number(form, "localPort", "local port"),
        PublicPort = Number(form, "publicPort", "public port"),
        VirtualIpName = Text(form, "vip"),
        LoadBalancedSetName = Text(form, "lbSet"),
        DefaultProbe = Text(form, "probe") == "default" ? true : null,
        Probe = ReadProbe(form),
        Distribution = Text(form, "distribution"),
        IdleTimeoutInMinutes = Number(form, "idleTimeout", "idle timeout"),
        ProxyProtocol = Text(form, "proxyProtocol"),
        DirectServerReturn = form["directServerReturn"].ToString() == "true",
        Acl = ReadAcl(form) ?? [],
    };

    /// <summary>Set-AzureLoadBalancedEndpoint from the form: blank and "keep" leave the members' values.</summary>
    public static SetLoadBalancedSetRequest ReadSet(IFormCollection form) => new()
    {
        VirtualIpName = Text(form, "vip"),
        Probe = ReadProbe(form),
        Distribution = Text(form, "distribution"),
        IdleTimeoutInMinutes = Number(form, "idleTimeout", "idle timeout"),
        ProxyProtocol = Text(form, "proxyProtocol"),
        Acl = ReadAcl(form),
    };

    public static string AclText(IReadOnlyList<AclRule> rules) =>
        string.Join('\n', rules.OrderBy(r => r.Order).Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Order} {r.Action.ToWire()} {r.RemoteSubnet}{(string.IsNullOrEmpty(r.Description) ? "" : " " + r.Description)}")));

    private static void ProbeFields(Html h, LoadBalancerProbe? probe, string? ids, bool keepChoice, string? selected)
    {
        h.Raw("<label>Probe <select name=\"probe\"").Raw(Id(ids, "probe")).Raw(">");
        if (keepChoice)
        {
            Option(h, "keep", "keep as it is", selected);
        }
        else
        {
            Option(h, "", "none", selected);
            Option(h, "default", "default (tcp on local port)", selected);
        }

        Option(h, "tcp", "tcp", selected);
        Option(h, "http", "http", selected);
        h.Raw("</select></label>");
        h.Raw("<label>Probe port <input name=\"probePort\"").Raw(Id(ids, "probe-port")).Raw(" inputmode=\"numeric\"").Attr("value", probe is null || probe.Port == 0 ? null : probe.Port.ToString(CultureInfo.InvariantCulture)).Raw("></label>");
        h.Raw("<label>Probe path <input name=\"probePath\"").Raw(Id(ids, "probe-path")).Raw(" placeholder=\"/health\"").Attr("value", probe?.Path).Raw("></label>");
        h.Raw("<label>Interval (s) <input name=\"probeInterval\"").Raw(Id(ids, "probe-interval")).Raw(" inputmode=\"numeric\" placeholder=\"15\"").Attr("value", probe?.IntervalInSeconds.ToString(CultureInfo.InvariantCulture)).Raw("></label>");
        h.Raw("<label>Timeout (s) <input name=\"probeTimeout\"").Raw(Id(ids, "probe-timeout")).Raw(" inputmode=\"numeric\" placeholder=\"31\"").Attr("value", probe?.TimeoutInSeconds.ToString(CultureInfo.InvariantCulture)).Raw("></label>");
    }

    private static void AclField(Html h, IReadOnlyList<AclRule>? rules, string? ids, string? placeholder = null)
    {
        h.Raw("<label class=\"wide\">ACL <textarea name=\"acl\" rows=\"3\"").Raw(Id(ids, "acl")).Attr("placeholder", placeholder ?? "100 permit 192.0.2.0/24 office\n" + AclFormat).Raw(">")
            .Text(rules is null ? "" : AclText(rules)).Raw("</textarea></label>");
    }

    private static ProbeRequest? ReadProbe(IFormCollection form)
    {
        var probe = Text(form, "probe");
        return probe is null or "default" or "keep"
            ? null
            : new ProbeRequest
            {
                Protocol = probe,
                Port = Number(form, "probePort", "probe port"),
                Path = Text(form, "probePath"),
                IntervalInSeconds = Number(form, "probeInterval", "probe interval"),
                TimeoutInSeconds = Number(form, "probeTimeout", "probe timeout"),
            };
    }

    /// <summary>Null when the box is blank; "none" is an empty list (every rule removed).</summary>
    private static List<AclRuleRequest>? ReadAcl(IFormCollection form)
    {
        var text = Text(form, "acl");
        if (text is null)
        {
            return null;
        }

        if (string.Equals(text, "none", StringComparison.OrdinalIgnoreCase))
        {
            return [];
        }

        var rules = new List<AclRuleRequest>();
        var lineNumber = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNumber++;
            var line = raw.Trim();
            if (line.Length == 0)
            {
                continue;
            }

            var parts = line.Split((char[]?)null, 4, StringSplitOptions.RemoveEmptyEntries);
            if (!int.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var order))
            {
                throw MultiVipException.BadRequest($"ACL line {lineNumber}: the order must be a whole number, not '{parts[0]}'. Write {AclFormat}.");
            }

            // Missing action or subnet stay null: the API's "is required" message names them.
            rules.Add(new AclRuleRequest
            {
                Order = order,
                Action = parts.Length > 1 ? parts[1] : null,
                RemoteSubnet = parts.Length > 2 ? parts[2] : null,
                Description = parts.Length > 3 ? parts[3] : null,
            });
        }

        return rules;
    }

    public static string? Text(IFormCollection form, string field)
    {
        var value = form[field].ToString().Trim();
        return value.Length == 0 ? null : value;
    }

    /// <summary>Empty means "not given" (the domain applies its default or its "required" message).</summary>
    public static int? Number(IFormCollection form, string field, string label)
    {
        var text = Text(form, field);
        if (text is null)
        {
            return null;
        }

        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw MultiVipException.BadRequest($"The {label} must be a whole number, not '{text}'.");
    }

    private static string Id(string? prefix, string name) => prefix is null ? "" : $" id=\"{prefix}-{name}\"";

    private static void Options(Html h, IEnumerable<string> values, string? selected)
    {
        foreach (var value in values)
        {
            Option(h, value, value, selected);
        }
    }

    private static void Option(Html h, string value, string label, string? selected) =>
        h.Raw("<option").Attr("value", value).Raw(selected is not null && string.Equals(value, selected, StringComparison.OrdinalIgnoreCase) ? " selected" : "").Raw(">").Text(label).Raw("</option>");
}
