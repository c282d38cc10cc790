using System.Net;
using System.Text.Json;
using Microsoft.Playwright;
using MultiVip.Contracts;
using Xunit.Abstractions;

namespace MultiVip.Server.Tests.Dashboard;

/// <summary>
/// The overview's health and traffic, the service page's charts and their JSON, and the one time
/// format, in a real Chromium against a real server with real backends and real connections.
/// </summary>
public sealed class DashboardTrafficTests(ChromiumFixture chromium, ITestOutputHelper output) : IClassFixture<ChromiumFixture>
{
    private static ILocator Row(IPage page) => page.Locator("tr[data-service='myService']");

    /// <summary>Reloads the overview until the service's health badge says <paramref name="health"/> (bounded).</summary>
    private static async Task AwaitHealthAsync(IPage page, ServerFixture f, string health, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            await page.GotoAsync(f.Server.Api.ToString());
            var shown = await Row(page).Locator(".service-health .badge").GetAttributeAsync("data-health");
            if (shown == health)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"The overview still shows {shown}, expected {health}.");
            await Task.Delay(500);
        }
    }

    [Fact]
    public async Task The_overview_shows_a_set_degrade_and_go_unhealthy_without_drilling_in()
    {
        var (vm1, vm2) = DashboardSession.VmAddresses();
        var lb1 = EchoBackend.Start(vm1, 8484, "lb1");
        var lb2 = EchoBackend.Start(vm2, 8484, "lb2");
        await using var f = await DashboardSession.SeedAsync(vm1, vm2);
        var page = await DashboardSession.SignedInPageAsync(chromium, f);
        Assert.Equal("Idle", await Row(page).Locator(".service-health .badge").GetAttributeAsync("data-health"));

        await DashboardSession.AddLoadBalancedSetAsync(f, 8484);
        await AwaitHealthAsync(page, f, "Healthy", TimeSpan.FromSeconds(15));
        Assert.Equal("2 in, 0 out", (await Row(page).Locator(".service-rotation").InnerTextAsync()).Trim());

        await lb2.DisposeAsync();
        await AwaitHealthAsync(page, f, "Degraded", TimeSpan.FromSeconds(30));
        var rotation = await Row(page).Locator(".service-rotation").InnerTextAsync();
        Assert.Contains("1 in, 1 out", rotation);
        Assert.Contains("out: myVM2/myLBEndpoint", rotation);

        await lb1.DisposeAsync();
        await AwaitHealthAsync(page, f, "Unhealthy", TimeSpan.FromSeconds(30));
        Assert.Contains("0 in, 2 out", await Row(page).Locator(".service-rotation").InnerTextAsync());
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Charts_draw_connections_and_bytes_per_vip_and_backend_from_the_authenticated_json()
    {
        var (vm1, vm2) = DashboardSession.VmAddresses();
        await using var lb1 = EchoBackend.Start(vm1, 8585, "lb1");
        await using var lb2 = EchoBackend.Start(vm2, 8585, "lb2");
        await using var f = await DashboardSession.SeedAsync(vm1, vm2);
        await DashboardSession.AddLoadBalancedSetAsync(f, 8585);
        var vip2 = await DashboardSession.AddressOfAsync(f, "Vip2");

        // The JSON takes the dashboard's sign-in (or the bearer token), like the pages.
        using (var anonymous = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = f.Server.Api })
        {
            var refused = await anonymous.GetAsync("/ui/services/myService/traffic");
            Assert.Equal(HttpStatusCode.Redirect, refused.StatusCode);
            Assert.Equal("/signin", refused.Headers.Location?.OriginalString);
        }

        var page = await DashboardSession.SignedInPageAsync(chromium, f);
        var requested = new List<string>();
        page.Request += (_, request) =>
        {
            lock (requested)
            {
                requested.Add(request.Url);
            }
        };
        await page.GotoAsync(f.Server.Api + "ui/services/myService");

        // Keep connecting until the charts show traffic (the history samples every 5 s).
        var vipConnections = page.Locator("#chart-vip-connections");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(40);
        while (double.Parse(await vipConnections.GetAttributeAsync("data-max") ?? "0", System.Globalization.CultureInfo.InvariantCulture) <= 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "The VIP connections chart shows no traffic after 40 s of connections.");
            for (var i = 0; i < 4; i++)
            {
                await EchoBackend.HelloAsync(vip2, 81);
            }

            await Task.Delay(1000);
        }

        Assert.Contains("Vip2", (await vipConnections.GetAttributeAsync("data-series"))!.Split(','));
        Assert.Equal(["myVM1/myLBEndpoint", "myVM2/myLBEndpoint"], (await page.Locator("#chart-backend-connections").GetAttributeAsync("data-series"))!.Split(','));
        foreach (var chart in new[] { "#chart-vip-connections", "#chart-vip-bytes", "#chart-backend-connections", "#chart-backend-bytes" })
        {
            await Assertions.Expect(page.Locator(chart + " canvas")).ToHaveCountAsync(1);
        }

        await Assertions.Expect(page.Locator("#chart-vip-bytes")).Not.ToHaveAttributeAsync("data-max", "0");

        // The chart library is the vendored one, served by the server itself: nothing from elsewhere.
        lock (requested)
        {
            Assert.Contains(f.Server.Api + "ui/static/uplot.js", requested);
            Assert.All(requested, url => Assert.StartsWith(f.Server.Api.ToString(), url));
        }

        var library = await f.Http.GetStringAsync("/ui/static/uplot.js");
        Assert.Contains("uPlot", library);
        Assert.Contains("MIT", await f.Http.GetStringAsync("/ui/static/uplot.LICENSE.txt"));

        // The same JSON with the bearer token: rates per VIP and backend, aligned with the times.
        using var json = JsonDocument.Parse(await f.Http.GetStringAsync("/ui/services/myService/traffic"));
        var root = json.RootElement;
        Assert.Equal(5, root.GetProperty("intervalSeconds").GetInt32());
        Assert.Equal(900, root.GetProperty("windowSeconds").GetInt32());
        var times = root.GetProperty("times").GetArrayLength();
        Assert.InRange(times, 1, 180);
        var vip = root.GetProperty("virtualIps").EnumerateArray().Single(v => v.GetProperty("name").GetString() == "Vip2");
        Assert.Equal(times, vip.GetProperty("connectionsPerSecond").GetArrayLength());
        Assert.Contains(vip.GetProperty("connectionsPerSecond").EnumerateArray(), v => v.ValueKind == JsonValueKind.Number && v.GetDouble() > 0);
        Assert.Equal(2, root.GetProperty("backends").GetArrayLength());
        Assert.Equal(HttpStatusCode.NotFound, (await f.Http.GetAsync("/ui/services/noSuchService/traffic")).StatusCode);

        // The overview shows the service's traffic now.
        await page.GotoAsync(f.Server.Api.ToString());
        Assert.Matches(@"^[0-9.]+ conn/s · [0-9.]+ (B|KiB|MiB|GiB)/s$", (await Row(page).Locator(".service-traffic").InnerTextAsync()).Trim());

        var path = ChromiumFixture.ArtifactPath("dashboard-charts.png");
        await page.GotoAsync(f.Server.Api + "ui/services/myService");
        await Assertions.Expect(page.Locator("#chart-vip-connections")).Not.ToHaveAttributeAsync("data-max", "0");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        output.WriteLine($"Dashboard charts screenshot: {path}");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Every_time_on_a_page_has_the_one_format()
    {
        var (vm1, vm2) = DashboardSession.VmAddresses();
        await using var lb1 = EchoBackend.Start(vm1, 8686, "lb1");
        await using var lb2 = EchoBackend.Start(vm2, 8686, "lb2");
        await using var f = await DashboardSession.SeedAsync(vm1, vm2);
        await DashboardSession.AddLoadBalancedSetAsync(f, 8686);
        await f.SendAsync(HttpMethod.Post, ApiRoutes.ReservedIps, new CreateReservedIpRequest { Name = "myReservedIP" });
        var page = await DashboardSession.SignedInPageAsync(chromium, f);

        // Server-rendered times (operations, probes, usage, VIP held since) and the ones the
        // browser adds (live refresh, charts status, chart legend) all have the one format.
        await page.GotoAsync(f.Server.Api + "ui/services/myService");
        await Assertions.Expect(page.Locator("#live-status")).ToContainTextAsync("updated");
        await Assertions.Expect(page.Locator("tr[data-backend='myVM1/myLBEndpoint'] time")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("#charts-status")).ToContainTextAsync("updated");
        foreach (var path in new[] { "ui/services/myService", "", "ui/reserved-ips" })
        {
            if (path != "ui/services/myService")
            {
                await page.GotoAsync(f.Server.Api + path);
            }

            var stray = await page.EvaluateAsync<string[]>(
                """
                () => {
                  const stamp = /\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z/g;
                  const text = document.body.innerText.replace(stamp, "<time>");
                  // Anything else that reads as a clock time (not an address's :port).
                  return [...text.matchAll(/(?<![\d.:])\d{1,2}:\d{2}(?::\d{2})?(?![\d])|\d{1,2}\/\d{1,2}\/\d{2,4}|\b(AM|PM)\b/g)].map(m => m[0]);
                }
                """);
            Assert.True(stray.Length == 0, $"/{path}: times in another format: {string.Join(", ", stray)}");
            var stamps = await page.EvaluateAsync<string[]>("() => [...document.querySelectorAll('time')].map(t => t.textContent)");
            Assert.NotEmpty(stamps);
            Assert.All(stamps, s => Assert.Matches(@"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z$", s));
        }

        await page.Context.CloseAsync();
    }
}
