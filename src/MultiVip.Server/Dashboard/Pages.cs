using System.Globalization;
using MultiVip.Control;
using MultiVip.Control.State;
using MultiVip.DataPlane.Contract;
using MultiVip.Model.Operations;
using MultiVip.Model.Services;
using MultiVip.Server.Api;

namespace MultiVip.Server.Dashboard;

/// <summary>Server-rendered pages of the dashboard. Data comes from the same current state and views as the API.</summary>
internal static class Pages
{
    public static string SignIn(string? error) =>
        Layout("Sign in", csrf: null, h =>
        {
            h.Raw("<section class=\"card signin\"><h1>Sign in to MultiVip</h1>");
            h.Raw("<p class=\"muted\">Paste the API token. It is in <code>&lt;data-dir&gt;/token</code> on the server (default <code>./.multivip/token</code>).</p>");
            if (error is not null)
            {
                h.Raw("<p class=\"banner error\" role=\"alert\" id=\"signin-error\">").Text(error).Raw("</p>");
            }

            h.Raw("<form method=\"post\" action=\"/signin\" class=\"stack\">");
            h.Raw("<label>Token <input type=\"password\" name=\"token\" id=\"token\" autocomplete=\"current-password\" required autofocus></label>");
            h.Raw("<button type=\"submit\" id=\"signin\">Sign in</button></form></section>");
        });

    public static string Overview(WorldState world, ControlPlane control, IReadOnlyList<Operation> operations, string csrf, Func<string, ServiceStatus>? status = null, Banner? banner = null, string? nodes = null) =>
        Layout("Cloud services", csrf, h =>
        {
            BannerLine(h, banner);
            var pool = control.Options.Pool;
            var inUse = world.Addresses.Keys.Count(pool.Contains);
            h.Raw("<section class=\"card\"><h1>Cloud services</h1>");
            h.Raw("<p class=\"muted\">VIP pool ").Text(pool.ToString()).Raw(": <strong id=\"pool-usage\">").Text(inUse).Raw(" of ").Text(pool.Size.ToString(System.Globalization.CultureInfo.InvariantCulture)).Raw("</strong> addresses in use.</p>");
            if (world.Services.IsEmpty)
            {
                h.Raw("<p>No cloud service yet. Create one with <code>./multivip service create --name myService</code>.</p>");
            }
            else
            {
                h.Raw("<table><thead><tr><th>Service</th><th>Location</th><th>Deployment</th><th>VMs</th><th>Virtual IPs</th><th>Endpoints</th>");
                OverviewHealth.HeaderCells(h);
                h.Raw("</tr></thead><tbody>");
                foreach (var s in world.Services.Values.OrderBy(s => s.Name, StringComparer.OrdinalIgnoreCase))
                {
                    var d = s.Deployment;
                    h.Raw("<tr").Attr("data-service", s.Name).Raw("><td><a href=\"/ui/services/").Raw(Html.E(Html.Seg(s.Name))).Raw("\">").Text(s.Name).Raw("</a></td><td>").Text(s.Location)
                        .Raw("</td><td>").Text(d is null ? "—" : $"{d.Name} ({d.Slot})")
                        .Raw("</td><td>").Text(d?.VirtualMachines.Count ?? 0)
                        .Raw("</td><td>").Text(d is null ? "" : string.Join(", ", d.VirtualIps.Select(v => v.Address is null ? v.Name : $"{v.Name} {v.Address}")))
                        .Raw("</td><td>").Text(d?.AllEndpoints().Count() ?? 0).Raw("</td>");
                    OverviewHealth.Cells(h, status?.Invoke(s.Name));
                    h.Raw("</tr>");
                }

                h.Raw("</tbody></table>");
            }

            h.Raw("</section>");
            h.Raw(nodes ?? "");
            OperationsLog(h, operations, "Recent operations");
        });

    public static string Service(CloudService service, IReadOnlyList<Operation> operations, Banner? banner, Func<string, string> live, string csrf, string? usage = null, IAddressAnnouncer? announcer = null) =>
        Layout(service.Name, csrf, h =>
        {
            var d = service.Deployment;
            var action = "/ui/services/" + Html.Seg(service.Name);
            h.Raw("<p class=\"crumbs\"><a href=\"/\">Cloud services</a> / ").Text(service.Name).Raw("</p>");
            h.Raw("<section class=\"card\"><h1>").Text(service.Name).Raw("</h1><p class=\"muted\">").Text(service.Location);
            if (d is not null)
            {
                h.Raw(" · deployment <strong>").Text(d.Name).Raw("</strong> (").Text(d.Slot).Raw(") · VMs: ")
                    .Text(d.VirtualMachines.Count == 0 ? "none" : string.Join(", ", d.VirtualMachines.Select(v => $"{v.Name} {v.Address}")));
            }

            h.Raw("</p></section>");
            BannerLine(h, banner);

            if (d is null)
            {
                h.Raw("<section class=\"card\"><p>This service has no deployment yet: add a VM with <code>./multivip vm add</code>.</p></section>");
                OperationsLog(h, operations, "Operations");
                return;
            }

            VirtualMachines(h, d, action, csrf);
            VirtualIps(h, d, action, csrf, announcer);
            Endpoints(h, d, action, csrf);
            LoadBalancedSets(h, d, action, csrf);
            h.Raw("<section class=\"card\"><h2>Live traffic and health <span class=\"muted small\" id=\"live-status\"></span></h2><div id=\"live\" data-live-url=\"").Raw(Html.E(action + "/live")).Raw("\">");
            h.Raw(live(service.Name));
            h.Raw("</div></section>");
            h.Raw(TrafficCharts.Render(action));
            h.Raw(usage ?? "");
            OperationsLog(h, operations, "Operations on " + service.Name);
        });

    /// <summary>The result of the last form post (after its redirect): the operation, or the error in the API's words.</summary>
    public static void BannerLine(Html h, Banner? banner)
    {
        if (banner is not null)
        {
            h.Raw("<p class=\"banner ").Raw(banner.IsError ? "error" : "ok").Raw("\" role=\"status\" id=\"banner\">").Text(banner.Text).Raw("</p>");
        }
    }

    /// <summary>"held since …" (ok), "not held" with the last error (bad), or nothing for a VIP without an address.</summary>
    private static void OnTheNetwork(Html h, VirtualIp vip, IAddressAnnouncer? announcer)
    {
        if (announcer is null || vip.Address is null)
        {
            return;
        }

        var view = NetworkViews.For(vip, announcer);
        if (view.Held)
        {
            h.Raw("<span class=\"badge ok\">held</span> <span class=\"muted small\">since ")
                .Raw(Html.Time(view.HeldSince))
                .Raw(" (").Text(view.Announcer).Raw(")</span>");
        }
        else
        {
            h.Raw("<span class=\"badge bad\">not held</span>");
        }

        if (view.State is not null)
        {
            // Several nodes: this node's role (VRRP MASTER/BACKUP/FAULT, BGP announced/withdrawn).
            h.Raw("<div class=\"muted small vip-owner\">node ").Text(view.Node).Raw(": ").Text(view.State)
                .Raw(" since ").Text(view.StateSince?.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture))
                .Raw(", ").Text(view.OwnershipChanges.ToString(System.Globalization.CultureInfo.InvariantCulture)).Raw(" changes</div>");
        }

        if (view.LastError is not null)
        {
            h.Raw("<div class=\"muted small vip-error\">").Text(view.LastError).Raw("</div>");
        }
    }

    /// <summary>Each VM with its maintenance state and the buttons that change it (Set-AzureVMState).</summary>
    private static void VirtualMachines(Html h, Deployment d, string action, string csrf)
    {
        h.Raw("<section class=\"card\"><h2>Virtual machines</h2><table id=\"vms\"><thead><tr><th>Name</th><th>Address</th><th>State</th><th>Endpoints</th><th></th></tr></thead><tbody>");
        foreach (var vm in d.VirtualMachines)
        {
            var badge = vm.State switch { VmState.Draining => "info", VmState.Disabled => "bad", _ => "ok" };
            h.Raw("<tr").Attr("data-vm", vm.Name).Raw("><td>").Text(vm.Name).Raw("</td><td>").Text(vm.Address)
                .Raw("</td><td class=\"vm-state\"><span class=\"badge ").Raw(badge).Raw("\">").Text(vm.State.ToString()).Raw("</span>")
                .Raw(vm.State == VmState.Draining ? " <span class=\"muted small\">no new connections; disabled when its connections reach 0</span>" : "")
                .Raw("</td><td>").Text(vm.Endpoints.Count).Raw("</td><td class=\"actions\">");
            foreach (var (state, label, when) in new[]
            {
                (VmState.Draining, "Drain", vm.State == VmState.Enabled),
                (VmState.Disabled, "Disable", vm.State != VmState.Disabled),
                (VmState.Enabled, "Enable", vm.State != VmState.Enabled),
            })
            {
                if (!when)
                {
                    continue;
                }

                Form(h, $"{action}/vms/{Html.Seg(vm.Name)}/state", csrf, null, "inline");
                h.Raw("<input type=\"hidden\" name=\"state\"").Attr("value", state.ToWire()).Raw("><button type=\"submit\" class=\"small")
                    .Raw(state == VmState.Enabled ? "" : " danger").Raw("\"").Attr("data-action", state.ToWire()).Raw(">").Text(label).Raw("</button></form>");
            }

            h.Raw("</td></tr>");
        }

        h.Raw("</tbody></table></section>");
    }

    private static void VirtualIps(Html h, Deployment d, string action, string csrf, IAddressAnnouncer? announcer)
    {
        var endpoints = d.AllEndpoints().ToList();
        h.Raw("<section class=\"card\"><h2>Virtual IPs</h2><table id=\"vips\"><thead><tr><th>Name</th><th>Address</th><th>Family</th><th>On the network</th><th>DNS programmed</th><th>Reserved IP</th><th>Endpoints</th><th></th></tr></thead><tbody>");
        foreach (var vip in d.VirtualIps)
        {
            var users = endpoints.Where(x => Names.Equal(x.Endpoint.VirtualIpName, vip.Name)).Select(x => $"{x.Vm.Name}/{x.Endpoint.Name}").ToList();
            h.Raw("<tr").Attr("data-vip", vip.Name).Raw("><td>").Text(vip.Name).Raw("</td><td class=\"vip-address\">")
                .Raw(vip.Address is null ? "<span class=\"muted\">none until an endpoint uses it</span>" : Html.E(vip.Address))
                .Raw("</td><td class=\"vip-family\">").Text(NetworkViews.Family(vip))
                .Raw("</td><td class=\"vip-network\">");
            OnTheNetwork(h, vip, announcer);
            h.Raw("</td><td>").Raw(vip.IsDnsProgrammed ? "<span class=\"badge info\">True</span>" : "")
                .Raw("</td><td>").Text(vip.ReservedIpName).Raw("</td><td>").Text(users.Count == 0 ? "" : string.Join(", ", users)).Raw("</td><td class=\"actions\">");
            if (!vip.IsDnsProgrammed)
            {
                Form(h, $"{action}/vips/{Html.Seg(vip.Name)}/remove", csrf, $"Remove-AzureVirtualIP: this will remove the virtual IP {vip.Name} from the service. Do you want to continue?");
                h.Raw("<button type=\"submit\" class=\"danger small\">Remove</button></form>");
            }

            h.Raw("</td></tr>");
        }

        h.Raw("</tbody></table>");
        Form(h, action + "/vips/add", csrf, null, "inline");
        h.Raw("<label>New VIP <input name=\"name\" id=\"new-vip\" placeholder=\"Vip2\" required></label>");
        h.Raw("<label>Family <select name=\"family\" id=\"new-vip-family\"><option value=\"IPv4\">IPv4</option><option value=\"IPv6\">IPv6</option></select></label>");
        h.Raw("<button type=\"submit\" id=\"add-vip\">Add VIP</button></form></section>");
    }

    private static void Endpoints(Html h, Deployment d, string action, string csrf)
    {
        h.Raw("<section class=\"card\"><h2>Input endpoints</h2><table id=\"endpoints\"><thead><tr><th>VM</th><th>Endpoint</th><th>Protocol</th><th>Public port</th><th>Local port</th><th>VIP</th><th>LB set</th><th>Probe</th><th>Settings</th><th></th></tr></thead><tbody>");
        foreach (var (vm, e) in d.AllEndpoints().OrderBy(x => x.Vm.Name, StringComparer.OrdinalIgnoreCase).ThenBy(x => x.Endpoint.Name, StringComparer.OrdinalIgnoreCase))
        {
            var path = $"{action}/vms/{Html.Seg(vm.Name)}/endpoints/{Html.Seg(e.Name)}";
            h.Raw("<tr").Attr("data-endpoint", $"{vm.Name}/{e.Name}").Raw("><td>").Text(vm.Name).Raw("</td><td>").Text(e.Name).Raw("</td><td>").Text(e.Protocol.ToWire())
                .Raw("</td><td>").Text(e.PublicPort).Raw("</td><td>").Text(e.LocalPort).Raw("</td><td>").Text(e.VirtualIpName)
                .Raw("</td><td>").Text(e.LoadBalancedSetName).Raw("</td><td>").Text(ProbeText(e.Probe)).Raw("</td><td class=\"small endpoint-settings\">").Text(SettingsText(e)).Raw("</td><td class=\"actions\">");
            Form(h, path + "/remove", csrf, $"Remove-AzureEndpoint: remove {e.Name} from {vm.Name}?");
            h.Raw("<button type=\"submit\" class=\"danger small\">Remove</button></form></td></tr>");
            h.Raw("<tr class=\"edit-row\"><td colspan=\"10\"><details").Attr("data-edit", $"{vm.Name}/{e.Name}").Raw("><summary>Edit ").Text($"{vm.Name}/{e.Name}").Raw("</summary>");
            Form(h, path + "/set", csrf, null, "grid");
            EndpointForm.Fields(h, d, e, null);
            h.Raw("<div class=\"submit\"><button type=\"submit\">Save (Set-AzureEndpoint)</button></div></form></details></td></tr>");
        }

        h.Raw("</tbody></table><details id=\"add-endpoint-panel\"><summary>Add an endpoint</summary>");
        Form(h, action + "/endpoints/add", csrf, null, "grid");
        h.Raw("<label>VM <select name=\"vm\" id=\"ep-vm\">");
        foreach (var vm in d.VirtualMachines)
        {
            h.Raw("<option").Attr("value", vm.Name).Raw(">").Text(vm.Name).Raw("</option>");
        }

        h.Raw("</select></label><label>Name <input name=\"name\" id=\"ep-name\" required></label>");
        EndpointForm.Fields(h, d, null, "ep");
        h.Raw("<div class=\"submit\"><button type=\"submit\" id=\"add-endpoint\">Add endpoint</button></div></form></details></section>");
    }

    private static void LoadBalancedSets(Html h, Deployment d, string action, string csrf)
    {
        var sets = Views.LoadBalancedSets(d);
        h.Raw("<section class=\"card\"><h2>Load-balanced sets</h2>");
        if (sets.Count == 0)
        {
            h.Raw("<p class=\"muted\">No load-balanced set. Give endpoints on several VMs the same LB set name to create one.</p></section>");
            return;
        }

        h.Raw("<table id=\"lbsets\"><thead><tr><th>Set</th><th>VIP</th><th>Protocol / port</th><th>Probe</th><th>Distribution</th><th>Members</th><th>Move to VIP</th></tr></thead><tbody>");
        foreach (var set in sets)
        {
            h.Raw("<tr").Attr("data-lbset", set.Name).Raw("><td>").Text(set.Name).Raw("</td><td class=\"lbset-vip\">").Text(set.VirtualIpName)
                .Raw("</td><td>").Text($"{set.Protocol.ToWire()}/{set.PublicPort}").Raw("</td><td>").Text(ProbeText(set.Probe))
                .Raw("</td><td>").Text(set.Distribution.ToString()).Raw("</td><td>").Text(string.Join(", ", set.Members.Select(m => $"{m.VmName}/{m.EndpointName}:{m.LocalPort}")))
                .Raw("</td><td class=\"actions\">");
            Form(h, $"{action}/lbsets/{Html.Seg(set.Name)}/move", csrf, null, "inline");
            h.Raw("<select name=\"vip\"").Attr("aria-label", $"New VIP for {set.Name}").Raw(">");
            foreach (var vip in d.VirtualIps)
            {
                h.Raw("<option").Attr("value", vip.Name).Raw(Names.Equal(vip.Name, set.VirtualIpName) ? " selected" : "").Raw(">").Text(vip.Name).Raw("</option>");
            }

            h.Raw("</select><button type=\"submit\" class=\"small\">Move</button></form></td></tr>");
            var members = d.AllEndpoints().Where(x => Names.Equal(x.Endpoint.LoadBalancedSetName, set.Name)).Select(x => x.Endpoint).ToList();
            h.Raw("<tr class=\"edit-row\"><td colspan=\"7\"><details").Attr("data-edit-set", set.Name).Raw("><summary>Edit every member of ").Text(set.Name).Raw("</summary>");
            Form(h, $"{action}/lbsets/{Html.Seg(set.Name)}/set", csrf, null, "grid");
            EndpointForm.SetFields(h, d, set, members);
            h.Raw("<div class=\"submit\"><button type=\"submit\">Save (Set-AzureLoadBalancedEndpoint)</button></div></form></details></td></tr>");
        }

        h.Raw("</tbody></table></section>");
    }

    /// <summary>The endpoint's settings beyond ports and probe, as the cmdlets name them; defaults left out.</summary>
    private static string SettingsText(InputEndpoint e)
    {
        var parts = new List<string>();
        if (e.Acl.Count > 0)
        {
            parts.Add($"ACL: {e.Acl.Count} rule{(e.Acl.Count == 1 ? "" : "s")}");
        }

        if (e.Distribution != LoadBalancerDistribution.None)
        {
            parts.Add("distribution " + e.Distribution.ToWire());
        }

        parts.Add($"idle {e.IdleTimeoutInMinutes} min");
        if (e.ProxyProtocol != ProxyProtocolVersion.None)
        {
            parts.Add("PROXY " + e.ProxyProtocol.ToWire());
        }

        if (e.DirectServerReturn)
        {
            parts.Add("DSR");
        }

        return string.Join(", ", parts);
    }

    /// <summary>The auto-refreshed part: listeners of the service with member health and traffic.</summary>
    public static string Live(string serviceName, IReadOnlyList<ListenerTraffic> traffic, IReadOnlyList<BackendHealth> health, IReadOnlyList<ListenerFault> faults)
    {
        var h = new Html();
        var mine = traffic.Where(t => Names.Equal(t.ServiceName, serviceName))
            .OrderBy(t => t.VirtualIpName, StringComparer.OrdinalIgnoreCase).ThenBy(t => t.Key.Port).ToList();
        foreach (var fault in faults.Where(f => Names.Equal(f.ServiceName, serviceName)))
        {
            h.Raw("<p class=\"banner error\">Listener ").Text(fault.Key.ToString()).Raw(" is not running: ").Text(fault.Message).Raw("</p>");
        }

        if (mine.Count == 0)
        {
            h.Raw("<p class=\"muted\">No listener runs for this service: add an endpoint.</p>");
            return h.ToString();
        }

        h.Raw("<table class=\"live\"><thead><tr><th>Listener</th><th>Member</th><th>Health</th><th>Active</th><th>Total</th><th>Bytes in</th><th>Bytes out</th><th>Connect failures</th><th>Last probe</th></tr></thead><tbody>");
        foreach (var listener in mine)
        {
            var rejected = listener.DeniedByAcl + listener.RefusedOverLimit + listener.NoHealthyBackend + listener.ConnectExhausted;
            h.Raw("<tr class=\"listener\"><td colspan=\"9\"><strong>").Text(listener.VirtualIpName).Raw("</strong> ").Text(listener.Key.ToString())
                .Raw(listener.LoadBalancedSetName is null ? "" : " · LB set " + Html.E(listener.LoadBalancedSetName))
                .Raw(" · <span class=\"muted\">").Text(listener.ActiveConnections).Raw(" active, ").Text(listener.Forwarded).Raw(" forwarded, ").Text(rejected).Raw(" rejected</span></td></tr>");
            foreach (var b in listener.Backends)
            {
                var probe = health.FirstOrDefault(x => x.Listener == listener.Key && x.VmName == b.VmName && x.EndpointName == b.EndpointName);
                h.Raw("<tr").Attr("data-backend", $"{b.VmName}/{b.EndpointName}").Attr("data-listener", listener.Key.ToString()).Attr("data-state", b.State.ToString())
                    .Raw("><td></td><td>").Text($"{b.VmName}/{b.EndpointName}").Raw("</td><td>").Raw(HealthBadge(b.State))
                    .Raw("</td><td>").Text(b.ActiveConnections).Raw("</td><td>").Text(b.TotalConnections)
                    .Raw("</td><td>").Text(Html.Bytes(b.BytesIn)).Raw("</td><td>").Text(Html.Bytes(b.BytesOut))
                    .Raw("</td><td>").Text(b.ConnectFailures).Raw("</td><td class=\"small\">");
                if (probe?.LastProbeAt is { } at)
                {
                    h.Raw(Html.Time(at));
                    if (b.LastProbeLatency is { } latency)
                    {
                        h.Text(string.Create(CultureInfo.InvariantCulture, $" ({latency.TotalMilliseconds:0.#} ms)"));
                    }

                    if (probe.LastError is not null)
                    {
                        h.Raw("<br><span class=\"error-text\">").Text(probe.LastError).Raw("</span>");
                    }
                }

                h.Raw("</td></tr>");
            }
        }

        h.Raw("</tbody></table>");
        return h.ToString();
    }

    private static void OperationsLog(Html h, IReadOnlyList<Operation> operations, string title)
    {
        h.Raw("<section class=\"card\"><h2>").Text(title).Raw("</h2>");
        if (operations.Count == 0)
        {
            h.Raw("<p class=\"muted\">No operation yet.</p></section>");
            return;
        }

        h.Raw("<table id=\"operations\"><thead><tr><th>When</th><th>OperationDescription</th><th>Target</th><th>OperationId</th><th>OperationStatus</th><th>Error</th></tr></thead><tbody>");
        foreach (var op in operations)
        {
            h.Raw("<tr><td class=\"small\">").Raw(Html.Time(op.CreatedAt)).Raw("</td><td>").Text(op.OperationDescription).Raw("</td><td>").Text(op.Target)
                .Raw("</td><td class=\"mono small\">").Text(op.OperationId.ToString()).Raw("</td><td>").Raw(StatusBadge(op.OperationStatus))
                .Raw("</td><td class=\"small\">").Text(op.ErrorMessage).Raw("</td></tr>");
        }

        h.Raw("</tbody></table></section>");
    }

    private static string HealthBadge(HealthState state) => state switch
    {
        HealthState.Healthy => "<span class=\"badge ok\">Healthy</span>",
        HealthState.Unhealthy => "<span class=\"badge bad\">Unhealthy</span>",
        HealthState.NotProbed => "<span class=\"badge info\">Not probed</span>",
        _ => "<span class=\"badge\">Unknown</span>",
    };

    private static string StatusBadge(OperationStatus status) => status switch
    {
        OperationStatus.Succeeded => "<span class=\"badge ok\">Succeeded</span>",
        OperationStatus.Failed => "<span class=\"badge bad\">Failed</span>",
        _ => "<span class=\"badge\">InProgress</span>",
    };

    private static string ProbeText(LoadBalancerProbe? probe) =>
        probe is null ? "" : $"{probe.Protocol.ToString().ToLowerInvariant()}:{(probe.Port == 0 ? "local" : probe.Port.ToString(CultureInfo.InvariantCulture))}{probe.Path} every {probe.IntervalInSeconds}s, timeout {probe.TimeoutInSeconds}s";

    internal static void Form(Html h, string action, string csrf, string? confirm, string? cssClass = null)
    {
        h.Raw("<form method=\"post\"").Attr("action", action);
        if (cssClass is not null)
        {
            h.Attr("class", cssClass);
        }

        if (confirm is not null)
        {
            h.Attr("data-confirm", confirm);
        }

        h.Raw("><input type=\"hidden\"").Attr("name", DashboardSecurity.CsrfField).Attr("value", csrf).Raw(">");
    }

    internal static string Layout(string title, string? csrf, Action<Html> body)
    {
        var h = new Html();
        h.Raw("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
        h.Raw("<title>").Text(title).Raw(" · MultiVip</title><link rel=\"stylesheet\" href=\"/ui/static/uplot.css\"><link rel=\"stylesheet\" href=\"/ui/static/dashboard.css\">");
        h.Raw("<script src=\"/ui/static/uplot.js\" defer></script><script src=\"/ui/static/dashboard.js\" defer></script></head><body>");
        h.Raw("<header class=\"top\"><a class=\"brand\" href=\"/\">MultiVip</a>");
        if (csrf is not null)
        {
            h.Raw("<nav><a href=\"/\">Cloud services</a> <a href=\"/ui/reserved-ips\">Reserved IPs</a></nav>");
            Form(h, DashboardSessionMiddleware.SignOutPath, csrf, null, "signout");
            h.Raw("<button type=\"submit\" class=\"link\" id=\"signout\">Sign out</button></form>");
        }

        h.Raw("</header><main>");
        body(h);
        h.Raw("</main></body></html>");
        return h.ToString();
    }
}

/// <summary>The result line shown after an action: the operation as the cmdlets print it, or the error.</summary>
internal sealed record Banner(string Text, bool IsError);
