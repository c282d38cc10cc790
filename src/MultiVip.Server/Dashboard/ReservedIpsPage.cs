using MultiVip.Contracts;
using MultiVip.Control;
using MultiVip.Control.State;
using MultiVip.Model.Operations;
using MultiVip.Model.ReservedIps;
using MultiVip.Model.Services;

namespace MultiVip.Server.Dashboard;

/// <summary>
/// /ui/reserved-ips: New-AzureReservedIP, Remove-AzureReservedIP and
/// Set-/Remove-AzureReservedIPAssociation from the browser, through the same control-plane
/// commands and Contracts requests as the API's /api/reserved-ips routes.
/// </summary>
internal static class ReservedIpsPage
{
    public const string Path = "/ui/reserved-ips";

    public static void MapReservedIps(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup(Path).ExcludeFromDescription().DisableAntiforgery();
        group.MapGet("/", async (Guid? op, string? flash, ControlPlane control, DashboardSecurity security, DashboardFlash flashes, CancellationToken ct) =>
        {
            var banner = flashes.Take(flash) ?? await OperationBannerAsync(control, op, ct);
            return Results.Content(Render(control.Current, banner, security.CsrfValue), "text/html; charset=utf-8");
        });

        // Typed as a handler returning IResult (a bare HttpContext lambda would bind as a RequestDelegate).
        group.MapPost("/create", (Func<HttpContext, Task<IResult>>)(http => DashboardRoutes.ActAsync(http, (control, form, call, ct) =>
        {
            var (service, vip) = Target(EndpointForm.Text(form, "from"));
            return control.CreateReservedIpAsync(
                new CreateReservedIpRequest
                {
                    Name = EndpointForm.Text(form, "name"),
                    Label = EndpointForm.Text(form, "label"),
                    Location = EndpointForm.Text(form, "location"),
                    ServiceName = service,
                    VirtualIpName = vip,
                    AddressFamily = service is null ? EndpointForm.Text(form, "family") : null,
                },
                call,
                ct);
        }, Path)));

        group.MapPost("/{name}/remove", (string name, HttpContext http) =>
            DashboardRoutes.ActAsync(http, (control, _, call, ct) => control.DeleteReservedIpAsync(name, call, ct), Path));

        group.MapPost("/{name}/associate", (string name, HttpContext http) => DashboardRoutes.ActAsync(http, (control, form, call, ct) =>
        {
            var (service, vip) = Target(EndpointForm.Text(form, "to"));
            return control.AssociateReservedIpAsync(name, new AssociateReservedIpRequest { ServiceName = service, VirtualIpName = vip }, call, ct);
        }, Path));

        group.MapPost("/{name}/disassociate", (string name, HttpContext http) =>
            DashboardRoutes.ActAsync(http, (control, _, call, ct) => control.DisassociateReservedIpAsync(name, null, null, call, ct), Path));
    }

    /// <summary>The banner for <c>?op=</c>: the operation as the cmdlets print it.</summary>
    public static async Task<Banner?> OperationBannerAsync(ControlPlane control, Guid? op, CancellationToken ct) =>
        op is { } id && await control.GetOperationAsync(id, ct) is { } done
            ? new Banner(
                $"{done.OperationDescription}  {done.OperationId}  {done.OperationStatus}{(done.ErrorMessage is null ? "" : ": " + done.ErrorMessage)}",
                done.OperationStatus == OperationStatus.Failed)
            : null;

    public static string Render(WorldState world, Banner? banner, string csrf) =>
        Pages.Layout("Reserved IPs", csrf, h =>
        {
            h.Raw("<p class=\"crumbs\"><a href=\"/\">Cloud services</a> / Reserved IPs</p>");
            Pages.BannerLine(h, banner);
            var vips = world.Services.Values
                .OrderBy(s => s.Name, StringComparer.OrdinalIgnoreCase)
                .SelectMany(s => (s.Deployment?.VirtualIps ?? []).Select(v => (Service: s.Name, Vip: v)))
                .ToList();
            h.Raw("<section class=\"card\"><h1>Reserved IPs</h1>");
            if (world.ReservedIps.IsEmpty)
            {
                h.Raw("<p class=\"muted\">No reserved IP yet.</p>");
            }
            else
            {
                h.Raw("<table id=\"reserved-ips\"><thead><tr><th>Name</th><th>Address</th><th>Label</th><th>Location</th><th>Created</th><th>In use by</th><th></th></tr></thead><tbody>");
                foreach (var r in world.ReservedIps.Values.OrderBy(r => r.Name, StringComparer.OrdinalIgnoreCase))
                {
                    Row(h, r, vips, csrf);
                }

                h.Raw("</tbody></table>");
            }

            h.Raw("</section>");
            CreateForm(h, vips, csrf);
        });

    private static void Row(Html h, ReservedIp r, List<(string Service, VirtualIp Vip)> vips, string csrf)
    {
        var path = $"{Path}/{Html.Seg(r.Name)}";
        h.Raw("<tr").Attr("data-reserved-ip", r.Name).Raw("><td>").Text(r.Name).Raw("</td><td class=\"reserved-address mono\">").Text(r.Address)
            .Raw("</td><td>").Text(r.Label).Raw("</td><td>").Text(r.Location).Raw("</td><td class=\"small\">").Raw(Html.Time(r.CreatedAt))
            .Raw("</td><td class=\"reserved-use\">").Text(r.InUse ? $"{r.ServiceName} / {r.VirtualIpName}" : "").Raw("</td><td class=\"actions\">");
        if (r.InUse)
        {
            Pages.Form(h, path + "/disassociate", csrf, $"Remove-AzureReservedIPAssociation: detach {r.Name} from {r.ServiceName} / {r.VirtualIpName}? The VIP gets a new address from the pool (or none without endpoints).", "inline");
            h.Raw("<button type=\"submit\" class=\"small\">Disassociate</button></form>");
        }
        else
        {
            var free = vips.Where(x => x.Vip.ReservedIpName is null).ToList();
            if (free.Count > 0)
            {
                Pages.Form(h, path + "/associate", csrf, $"Set-AzureReservedIPAssociation: give the chosen VIP the address {r.Address}? Its current address is released.", "inline");
                h.Raw("<select name=\"to\"").Attr("aria-label", $"VIP for {r.Name}").Raw(">");
                foreach (var (service, vip) in free)
                {
                    h.Raw("<option").Attr("value", TargetValue(service, vip.Name)).Raw(">").Text($"{service} / {vip.Name}").Raw("</option>");
                }

                h.Raw("</select><button type=\"submit\" class=\"small\">Associate</button></form> ");
            }
        }

        Pages.Form(h, path + "/remove", csrf, $"Remove-AzureReservedIP: release the reserved IP {r.Name} ({r.Address})? Do you want to continue?", "inline");
        h.Raw("<button type=\"submit\" class=\"danger small\">Remove</button></form></td></tr>");
    }

    private static void CreateForm(Html h, List<(string Service, VirtualIp Vip)> vips, string csrf)
    {
        h.Raw("<section class=\"card\"><h2>New reserved IP</h2>");
        Pages.Form(h, Path + "/create", csrf, null, "grid");
        h.Raw("<label>Name <input name=\"name\" id=\"rip-name\" required></label>");
        h.Raw("<label>Label <input name=\"label\" id=\"rip-label\"></label>");
        h.Raw("<label>Location <input name=\"location\" id=\"rip-location\" placeholder=\"local\"></label>");
        h.Raw("<label>Family <select name=\"family\" id=\"rip-family\"><option value=\"IPv4\">IPv4</option><option value=\"IPv6\">IPv6</option></select></label>");
        h.Raw("<label>Address <select name=\"from\" id=\"rip-from\"><option value=\"\">a new one from the pool</option>");
        foreach (var (service, vip) in vips.Where(x => x.Vip.Address is not null && x.Vip.ReservedIpName is null))
        {
            h.Raw("<option").Attr("value", TargetValue(service, vip.Name)).Raw(">").Text($"keep {service} / {vip.Name}'s {vip.Address}").Raw("</option>");
        }

        h.Raw("</select></label><div class=\"submit\"><button type=\"submit\" id=\"create-reserved-ip\">Reserve</button></div></form></section>");
    }

    /// <summary>Service and VIP in one option value, each escaped so neither can contain the separator.</summary>
    private static string TargetValue(string service, string vip) => $"{Uri.EscapeDataString(service)}/{Uri.EscapeDataString(vip)}";

    private static (string? Service, string? Vip) Target(string? value)
    {
        if (value is null)
        {
            return (null, null);
        }

        var slash = value.IndexOf('/', StringComparison.Ordinal);
        return slash < 0
            ? (Uri.UnescapeDataString(value), null)
            : (Uri.UnescapeDataString(value[..slash]), Uri.UnescapeDataString(value[(slash + 1)..]));
    }
}
