using Microsoft.Playwright;
using MultiVip.Contracts;

namespace MultiVip.Server.Tests.Dashboard;

/// <summary>
/// Every dashboard page at a phone's width (390 px) and a laptop's (1366 px): no horizontal
/// scrolling, and every action button reachable on screen — with the edit forms closed and open.
/// </summary>
public sealed class DashboardLayoutTests(ChromiumFixture chromium) : IClassFixture<ChromiumFixture>
{
    [Theory]
    [InlineData(DashboardSession.Phone)]
    [InlineData(DashboardSession.Laptop)]
    public async Task Every_page_fits_the_screen_with_its_buttons_on_it(int width)
    {
        var (vm1, vm2) = DashboardSession.VmAddresses();
        await using var b1 = EchoBackend.Start(vm1, 8282, "b1");
        await using var b2 = EchoBackend.Start(vm2, 8282, "b2");
        await using var f = await DashboardSession.SeedAsync(vm1, vm2);
        await DashboardSession.AddLoadBalancedSetAsync(f, 8282);
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), new EndpointRequest
        {
            Name = "aVeryLongEndpointNameThatCouldPushTheTableWide", Protocol = "tcp", LocalPort = 8283, PublicPort = 8283,
            Acl = [new AclRuleRequest { Order = 100, Action = "permit", RemoteSubnet = "198.51.100.0/24", Description = "office" }],
        });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.ReservedIps, new CreateReservedIpRequest { Name = "myReservedIP", Label = "kept" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.ReservedIps, new CreateReservedIpRequest { Name = "usedReservedIP" });
        await f.SendAsync(HttpMethod.Put, ApiRoutes.ReservedIpAssociation("usedReservedIP"), new AssociateReservedIpRequest { ServiceName = "myService", VirtualIpName = "Vip2" });

        var signIn = await (await chromium.NewContextAsync(new() { ViewportSize = new() { Width = width, Height = 900 } })).NewPageAsync();
        await signIn.GotoAsync(f.Server.Api + "signin");
        await DashboardSession.AssertFitsAsync(signIn, $"sign-in at {width} px");
        await signIn.Context.CloseAsync();

        var page = await DashboardSession.SignedInPageAsync(chromium, f, width);
        foreach (var (path, what) in new[] { ("", "overview"), ("ui/services/myService", "service page"), ("ui/reserved-ips", "reserved IPs") })
        {
            await page.GotoAsync(f.Server.Api + path);
            if (path.Contains("services", StringComparison.Ordinal))
            {
                // The charts draw after their first fetch: check the page with them in it.
                await Assertions.Expect(page.Locator("#chart-vip-bytes canvas")).ToHaveCountAsync(1);
            }

            await DashboardSession.AssertFitsAsync(page, $"{what} at {width} px");
            await page.ScreenshotAsync(new() { Path = ChromiumFixture.ArtifactPath($"dashboard-{what.Replace(' ', '-')}-{width}px.png"), FullPage = true });
        }

        await page.Context.CloseAsync();
    }
}
