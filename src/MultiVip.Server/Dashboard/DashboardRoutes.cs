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
/// one made with the CLI. Successful actions redirect (post/redirect/get); failed ones re-render the
/// page with the API's error code and message.
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

        app.MapGet("/", async (ControlPlane control, DashboardSecurity security, CancellationToken ct) =>
            HtmlResult(Pages.Overview(control.Current, control, await control.ListOperationsAsync(OperationsShown, ct), security.CsrfValue)))
            .ExcludeFromDescription();

        app.MapGet("/ui/static/{file}", (string file) => StaticAsset(file)).ExcludeFromDescription();

        var services = app.MapGroup("/ui/services/{service}").ExcludeFromDescription().DisableAntiforgery();
        services.MapGet("/", async (string service, Guid? op, HttpContext http, ControlPlane control, ITrafficSource traffic, IBackendHealthSource health, DashboardSecurity security, UsageRecorder usage, IAddressAnnouncer announcer, CancellationToken ct) =>
        {
            Banner? banner = null;
            if (op is { } id && await control.GetOperationAsync(id, ct) is { } done)
            {
                banner = new Banner(
                    $"{done.OperationDescription}  {done.OperationId}  {done.OperationStatus}{(done.ErrorMessage is null ? "" : ": " + done.ErrorMessage)}",
                    done.OperationStatus == OperationStatus.Failed);
            }

            return await ServicePageAsync(service, banner, StatusCodes.Status200OK, control, traffic, health, security, usage, ct, announcer);
        });

        services.MapGet("/live", (string service, ControlPlane control, ITrafficSource traffic, IBackendHealthSource health) =>
            HtmlResult(Pages.Live(service, traffic.GetTraffic(), health.GetHealth(service), control.Faults)));

        services.MapPost("/vips/add", (string service, HttpContext http) =>
            ActAsync(http, service, async (control, form, call, ct) =>
                await control.AddVirtualIpAsync(service, new AddVirtualIpRequest { Name = Text(form, "name"), AddressFamily = Text(form, "family") }, call, ct)));

        services.MapPost("/vips/{vip}/remove", (string service, string vip, HttpContext http) =>
            ActAsync(http, service, (control, _, call, ct) => control.RemoveVirtualIpAsync(service, vip, call, ct)));

        services.MapPost("/endpoints/add", (string service, HttpContext http) =>
            ActAsync(http, service, (control, form, call, ct) =>
                control.AddEndpointAsync(service, Text(form, "vm") ?? "", EndpointFromForm(form), call, ct)));

        services.MapPost("/vms/{vm}/state", (string service, string vm, HttpContext http) =>
            ActAsync(http, service, (control, form, call, ct) =>
                control.SetVmStateAsync(service, vm, new SetVmStateRequest { State = Text(form, "state") }, call, ct)));

        services.MapPost("/vms/{vm}/endpoints/{endpoint}/remove", (string service, string vm, string endpoint, HttpContext http) =>
            ActAsync(http, service, (control, _, call, ct) => control.RemoveEndpointAsync(service, vm, endpoint, call, ct)));

        services.MapPost("/lbsets/{set}/move", (string service, string set, HttpContext http) =>
            ActAsync(http, service, (control, form, call, ct) =>
                control.SetLoadBalancedSetAsync(service, set, new SetLoadBalancedSetRequest { VirtualIpName = Text(form, "vip") }, call, ct)));
    }

    private static async Task<IResult> ActAsync(HttpContext http, string service, Func<ControlPlane, IFormCollection, CallContext, CancellationToken, Task<Operation>> command)
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
            return Results.Redirect($"/ui/services/{Html.Seg(service)}?op={latest.OperationId}");
        }
        catch (MultiVipException e)
        {
            // The same code and message the API would have answered with.
            return await ServicePageAsync(
                service,
                new Banner($"{e.Code}: {e.Message}", IsError: true),
                e.Code.HttpStatus(),
                control,
                http.RequestServices.GetRequiredService<ITrafficSource>(),
                http.RequestServices.GetRequiredService<IBackendHealthSource>(),
                http.RequestServices.GetRequiredService<DashboardSecurity>(),
                http.RequestServices.GetRequiredService<UsageRecorder>(),
                ct,
                http.RequestServices.GetService<IAddressAnnouncer>());
        }
    }

    private static async Task<IResult> ServicePageAsync(string name, Banner? banner, int status, ControlPlane control, ITrafficSource traffic, IBackendHealthSource health, DashboardSecurity security, UsageRecorder usage, CancellationToken ct, IAddressAnnouncer? announcer = null)
    {
        var service = control.Current.Services.GetValueOrDefault(name);
        if (service is null)
        {
            return HtmlResult(Pages.Overview(control.Current, control, await control.ListOperationsAsync(OperationsShown, ct), security.CsrfValue), StatusCodes.Status404NotFound);
        }

        var operations = (await control.ListOperationsAsync(500, ct))
            .Where(o => Names.Equal(o.Target ?? "", service.Name))
            .Take(OperationsShown)
            .ToList();
        var usageCard = UsageSection.Render(await usage.ReportAsync(service.Name, null, null, ct));
        return HtmlResult(Pages.Service(service, operations, banner, s => Pages.Live(s, traffic.GetTraffic(), health.GetHealth(s), control.Faults), security.CsrfValue, usageCard, announcer), status);
    }

    private static EndpointRequest EndpointFromForm(IFormCollection form)
    {
        var probe = Text(form, "probe");
        return new EndpointRequest
        {
            Name = Text(form, "name"),
            Protocol = Text(form, "protocol") ?? "tcp",
            LocalPort = Number(form, "localPort", "local port"),
            PublicPort = Number(form, "publicPort", "public port"),
            VirtualIpName = Text(form, "vip"),
            LoadBalancedSetName = Text(form, "lbSet"),
            DefaultProbe = probe == "default" ? true : null,
            Probe = probe is "tcp" or "http"
                ? new ProbeRequest
                {
                    Protocol = probe,
                    Port = Number(form, "probePort", "probe port"),
                    Path = Text(form, "probePath"),
                    IntervalInSeconds = Number(form, "probeInterval", "probe interval"),
                    TimeoutInSeconds = Number(form, "probeTimeout", "probe timeout"),
                }
                : null,
        };
    }

    private static string? Text(IFormCollection form, string field)
    {
        var value = form[field].ToString().Trim();
        return value.Length == 0 ? null : value;
    }

    /// <summary>Empty means "not given" (the domain applies its default or its "required" message).</summary>
    private static int? Number(IFormCollection form, string field, string label)
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

    private static IResult HtmlResult(string html, int status = StatusCodes.Status200OK) =>
        Results.Content(html, "text/html; charset=utf-8", statusCode: status);

    private static IResult StaticAsset(string file)
    {
        var type = Path.GetExtension(file) switch
        {
            ".css" => "text/css; charset=utf-8",
            ".js" => "text/javascript; charset=utf-8",
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
