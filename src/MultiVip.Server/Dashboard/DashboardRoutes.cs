using System.Globalization;
using MultiVip.Contracts;
using MultiVip.Control;
using MultiVip.Control.Commands;
using MultiVip.DataPlane.Contract;
using MultiVip.Model.Errors;
using MultiVip.Model.Operations;
using MultiVip.Model.Services;
using MultiVip.Server.Usage;

namespace MultiVip.Server.Dashboard;

/// <summary>
/// The web dashboard at /: plain server-rendered HTML forms that call the same control-plane
/// commands as the REST API, so a change made here is validated, logged and answered exactly like
/// one made with the CLI. Every action answers 303 See Other (post/redirect/get, so a reload never
/// repeats it): to the page with <c>?op=</c> when it was accepted, with <c>?flash=</c> carrying the
/// API's error code and message (<see cref="DashboardFlash"/>) when it was refused.
/// </summary>
internal static partial class DashboardRoutes
{
    private const int OperationsShown = 30;

    public static void MapDashboard(this IEndpointRouteBuilder app)
    {
        app.MapGet(DashboardSessionMiddleware.SignInPath, (DashboardSecurity security, HttpContext http) =>
            security.IsSignedIn(http) ? Results.Redirect("/") : HtmlResult(Pages.SignIn(null)))
            .ExcludeFromDescription();

        app.MapPost(DashboardSessionMiddleware.SignInPath, async (HttpContext http, DashboardSecurity security, ILogger<DashboardSecurity> logger) =>
        {
            var form = http.Request.HasFormContentType ? await http.Request.ReadFormAsync(http.RequestAborted) : null;
            var remote = http.Connection.RemoteIpAddress;
            if (!security.IsToken(form?["token"]))
            {
                // The limiter logs the failure (throttled); past its limit the form says when to retry.
                var verdict = security.Limiter.RecordFailure(remote, "wrong token at dashboard sign-in");
                if (verdict.Throttled)
                {
                    http.Response.Headers.RetryAfter = verdict.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
                    return HtmlResult(Pages.SignIn(security.Limiter.Explain(remote, verdict, "failed sign-ins")), StatusCodes.Status429TooManyRequests);
                }

                return HtmlResult(Pages.SignIn("That is not the server's token. Copy it from <data-dir>/token (default ./.multivip/token)."), StatusCodes.Status401Unauthorized);
            }

            security.SignIn(http);
            Log.SignedIn(logger, remote);
            return Results.Redirect("/", permanent: false, preserveMethod: false);
        }).ExcludeFromDescription().DisableAntiforgery();

        app.MapPost(DashboardSessionMiddleware.SignOutPath, (HttpContext http, DashboardSecurity security) =>
        {
            security.SignOut(http);
            return Results.Redirect(DashboardSessionMiddleware.SignInPath);
        }).ExcludeFromDescription().DisableAntiforgery();

        app.MapGet("/", async (string? flash, HttpContext http, ControlPlane control, DashboardSecurity security, CancellationToken ct) =>
            HtmlResult(await OverviewAsync(http, control, security, http.RequestServices.GetRequiredService<DashboardFlash>().Take(flash), ct)))
            .ExcludeFromDescription();

        app.MapGet("/ui/static/{file}", (string file) => StaticAsset(file)).ExcludeFromDescription();
        app.MapReservedIps();

        var services = app.MapGroup("/ui/services/{service}").ExcludeFromDescription().DisableAntiforgery();
        services.MapGet("/", async (string service, Guid? op, string? flash, HttpContext http, ControlPlane control, ITrafficSource traffic, IBackendHealthSource health, DashboardSecurity security, UsageRecorder usage, IAddressAnnouncer announcer, DashboardFlash flashes, CancellationToken ct) =>
        {
            var banner = flashes.Take(flash) ?? await ReservedIpsPage.OperationBannerAsync(control, op, ct);

            return await ServicePageAsync(service, banner, StatusCodes.Status200OK, control, traffic, health, security, usage, ct, announcer);
        });

        services.MapGet("/live", (string service, ControlPlane control, ITrafficSource traffic, IBackendHealthSource health) =>
            HtmlResult(Pages.Live(service, traffic.GetTraffic(), health.GetHealth(service), control.Faults)));

        // The charts' data; under /ui, so it takes the dashboard's session like the pages.
        services.MapGet("/traffic", (string service, ControlPlane control, TrafficHistory history) =>
            control.Current.Services.TryGetValue(service, out var found) ? Results.Json(history.ForService(found.Name)) : Results.NotFound());

        services.MapPost("/vips/add", (string service, HttpContext http) =>
            ActAsync(http, service, async (control, form, call, ct) =>
                await control.AddVirtualIpAsync(service, new AddVirtualIpRequest { Name = Text(form, "name"), AddressFamily = Text(form, "family") }, call, ct)));

        services.MapPost("/vips/{vip}/remove", (string service, string vip, HttpContext http) =>
            ActAsync(http, service, (control, _, call, ct) => control.RemoveVirtualIpAsync(service, vip, call, ct)));

        services.MapPost("/endpoints/add", (string service, HttpContext http) =>
            ActAsync(http, service, (control, form, call, ct) =>
                control.AddEndpointAsync(service, Text(form, "vm") ?? "", EndpointForm.ReadEndpoint(form), call, ct)));

        services.MapPost("/vms/{vm}/endpoints/{endpoint}/set", (string service, string vm, string endpoint, HttpContext http) =>
            ActAsync(http, service, (control, form, call, ct) =>
                control.SetEndpointAsync(service, vm, endpoint, EndpointForm.ReadEndpoint(form, endpoint), call, ct)));

        services.MapPost("/vms/{vm}/state", (string service, string vm, HttpContext http) =>
            ActAsync(http, service, (control, form, call, ct) =>
                control.SetVmStateAsync(service, vm, new SetVmStateRequest { State = Text(form, "state") }, call, ct)));

        services.MapPost("/vms/{vm}/endpoints/{endpoint}/remove", (string service, string vm, string endpoint, HttpContext http) =>
            ActAsync(http, service, (control, _, call, ct) => control.RemoveEndpointAsync(service, vm, endpoint, call, ct)));

        services.MapPost("/lbsets/{set}/move", (string service, string set, HttpContext http) =>
            ActAsync(http, service, (control, form, call, ct) =>
                control.SetLoadBalancedSetAsync(service, set, new SetLoadBalancedSetRequest { VirtualIpName = Text(form, "vip") }, call, ct)));

        services.MapPost("/lbsets/{set}/set", (string service, string set, HttpContext http) =>
            ActAsync(http, service, (control, form, call, ct) =>
                control.SetLoadBalancedSetAsync(service, set, EndpointForm.ReadSet(form), call, ct)));
    }

    /// <summary>The overview: services with their health and current traffic, recent operations.</summary>
    private static async Task<string> OverviewAsync(HttpContext http, ControlPlane control, DashboardSecurity security, Banner? banner, CancellationToken ct)
    {
        var traffic = http.RequestServices.GetRequiredService<ITrafficSource>().GetTraffic();
        var rates = http.RequestServices.GetRequiredService<TrafficHistory>().CurrentByService();
        var faults = control.Faults;
        return Pages.Overview(
            control.Current,
            control,
            await control.ListOperationsAsync(OperationsShown, ct),
            security.CsrfValue,
            name => ServiceStatus.Of(name, traffic, faults, rates.GetValueOrDefault(name)),
            banner,
            NodesSection.Render(await http.RequestServices.GetRequiredService<MultiVip.Control.Nodes.NodeHeartbeat>().ListAsync(ct), control.Current.Generation));
    }

    private static Task<IResult> ActAsync(HttpContext http, string service, Func<ControlPlane, IFormCollection, CallContext, CancellationToken, Task<Operation>> command) =>
        ActAsync(http, command, $"/ui/services/{Html.Seg(service)}");

    /// <summary>Runs a form's command and redirects to <paramref name="page"/> (303) with the operation or the error.</summary>
    internal static async Task<IResult> ActAsync(HttpContext http, Func<ControlPlane, IFormCollection, CallContext, CancellationToken, Task<Operation>> command, string page)
    {
        var control = http.RequestServices.GetRequiredService<ControlPlane>();
        var ct = http.RequestAborted;
        var form = await http.Request.ReadFormAsync(ct);
        var agent = http.Request.Headers.UserAgent.ToString();
        var call = new CallContext($"{http.Connection.RemoteIpAddress} dashboard{(agent.Length == 0 ? "" : " " + agent[..Math.Min(agent.Length, 80)])}", null);
        try
        {
            var operation = await command(control, form, call, ct);
            var latest = await control.WaitAsync(operation, control.Options.AcknowledgeWait, ct);
            return new SeeOther($"{page}?op={latest.OperationId}");
        }
        catch (MultiVipException e)
        {
            // The same code and message the API would have answered with, shown once after the redirect.
            var id = http.RequestServices.GetRequiredService<DashboardFlash>().Put(new Banner($"{e.Code}: {e.Message}", IsError: true));
            return new SeeOther($"{page}?flash={id}");
        }
    }

    private static async Task<IResult> ServicePageAsync(string name, Banner? banner, int status, ControlPlane control, ITrafficSource traffic, IBackendHealthSource health, DashboardSecurity security, UsageRecorder usage, CancellationToken ct, IAddressAnnouncer? announcer = null)
    {
        var service = control.Current.Services.GetValueOrDefault(name);
        if (service is null)
        {
            // A service that is gone (removed meanwhile): the overview, with why the page is not there.
            var notFound = banner ?? new Banner($"ResourceNotFound: {Messages.ServiceNotFound(name)}", IsError: true);
            return HtmlResult(Pages.Overview(control.Current, control, await control.ListOperationsAsync(OperationsShown, ct), security.CsrfValue, banner: notFound), StatusCodes.Status404NotFound);
        }

        var operations = (await control.ListOperationsAsync(500, ct))
            .Where(o => Names.Equal(o.Target ?? "", service.Name))
            .Take(OperationsShown)
            .ToList();
        var usageCard = UsageSection.Render(await usage.ReportAsync(service.Name, null, null, ct));
        return HtmlResult(Pages.Service(service, operations, banner, s => Pages.Live(s, traffic.GetTraffic(), health.GetHealth(s), control.Faults), security.CsrfValue, usageCard, announcer), status);
    }

    private static string? Text(IFormCollection form, string field) => EndpointForm.Text(form, field);

    private static IResult HtmlResult(string html, int status = StatusCodes.Status200OK) =>
        Results.Content(html, "text/html; charset=utf-8", statusCode: status);

    private static IResult StaticAsset(string file)
    {
        var type = Path.GetExtension(file) switch
        {
            ".css" => "text/css; charset=utf-8",
            ".js" => "text/javascript; charset=utf-8",
            ".txt" => "text/plain; charset=utf-8",
            _ => null,
        };
        var stream = type is null ? null : typeof(DashboardRoutes).Assembly.GetManifestResourceStream("MultiVip.Server.Dashboard.Assets." + file);
        return stream is null ? Results.NotFound() : Results.Stream(stream, type);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3010, EventName = "DashboardSignedIn", Level = LogLevel.Information, Message = "Dashboard sign-in from {Remote}")]
        public static partial void SignedIn(ILogger logger, System.Net.IPAddress? remote);
    }
}
