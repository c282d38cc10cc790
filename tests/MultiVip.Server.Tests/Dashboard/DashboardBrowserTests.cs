using System.Net;
using Microsoft.Playwright;
using MultiVip.Contracts;
using Xunit.Abstractions;

namespace MultiVip.Server.Tests.Dashboard;

/// <summary>The dashboard in a real headless Chromium against a real server with real backends.</summary>
public sealed class DashboardBrowserTests(ChromiumFixture chromium, ITestOutputHelper output) : IClassFixture<ChromiumFixture>
{
    private static (string Vm1, string Vm2) VmAddresses()
    {
        var octet = Random.Shared.Next(1, 250);
        return ($"127.44.{octet}.11", $"127.44.{octet}.12");
    }

    private static async Task<ServerFixture> SeedAsync(string vm1, string vm2)
    {
        var f = await ServerFixture.StartAsync();
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "myService" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Vms("myService"), new AddVmRequest { Name = "myVM1", Address = vm1 });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Vms("myService"), new AddVmRequest { Name = "myVM2", Address = vm2 });
        return f;
    }

    private async Task<IPage> SignedInPageAsync(ServerFixture f)
    {
        var context = await chromium.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1366, Height = 900 } });
        var page = await context.NewPageAsync();
        await page.GotoAsync(f.Server.Api.ToString());
        await page.FillAsync("#token", f.Server.Token);
        await page.ClickAsync("#signin");
        await page.WaitForURLAsync(f.Server.Api.ToString());
        return page;
    }

    [Fact]
    public async Task Sign_in_refuses_a_wrong_token_and_lets_the_right_one_in()
    {
        await using var f = await SeedAsync(VmAddresses().Vm1, VmAddresses().Vm2);
        var context = await chromium.NewContextAsync();
        var page = await context.NewPageAsync();

        // Not signed in: every dashboard page leads to the sign-in form.
        await page.GotoAsync(f.Server.Api + "ui/services/myService");
        Assert.EndsWith("/signin", page.Url);

        await page.FillAsync("#token", "not-the-token");
        await page.ClickAsync("#signin");
        Assert.Contains("not the server's token", await page.InnerTextAsync("#signin-error"));
        Assert.Empty(await context.CookiesAsync());

        await page.FillAsync("#token", f.Server.Token);
        await page.ClickAsync("#signin");
        await page.WaitForURLAsync(f.Server.Api.ToString());
        Assert.Contains("myService", await page.InnerTextAsync("main"));

        // The cookie is HttpOnly, SameSite=Strict, and is not the token.
        var cookie = Assert.Single(await context.CookiesAsync());
        Assert.True(cookie.HttpOnly);
        Assert.Equal(SameSiteAttribute.Strict, cookie.SameSite);
        Assert.DoesNotContain(f.Server.Token, cookie.Value);

        // The cookie does not open the API: that still takes the bearer token.
        var api = await page.APIRequest.GetAsync(f.Server.Api + "api/services");
        Assert.Equal((int)HttpStatusCode.Unauthorized, api.Status);

        // A post without the CSRF field is refused even with the cookie.
        var forged = await page.APIRequest.PostAsync(f.Server.Api + "ui/services/myService/vips/add", new APIRequestContextOptions { Form = context.APIRequest.CreateFormData().Set("name", "Forged") });
        Assert.Equal((int)HttpStatusCode.Forbidden, forged.Status);

        await page.ClickAsync("#signout");
        await page.GotoAsync(f.Server.Api.ToString());
        Assert.EndsWith("/signin", page.Url);
        await context.CloseAsync();
    }

    [Fact]
    public async Task A_vip_added_in_the_page_gets_an_address_once_an_endpoint_uses_it_and_errors_show_the_api_message()
    {
        var (vm1, vm2) = VmAddresses();
        await using var backend = EchoBackend.Start(vm1, 8080, "web");
        await using var f = await SeedAsync(vm1, vm2);
        var page = await SignedInPageAsync(f);
        await page.ClickAsync("text=myService");

        await page.FillAsync("#new-vip", "Vip2");
        await page.ClickAsync("#add-vip");
        Assert.Contains("Add-AzureVirtualIP", await page.InnerTextAsync("#banner"));
        Assert.Contains("Succeeded", await page.InnerTextAsync("#banner"));
        Assert.Contains("none until an endpoint uses it", await page.InnerTextAsync("tr[data-vip=Vip2] .vip-address"));

        // The same validation message as the API, for a bad port.
        await page.ClickAsync("#add-endpoint-panel summary");
        await page.SelectOptionAsync("#ep-vm", "myVM1");
        await page.FillAsync("#ep-name", "web");
        await page.FillAsync("#ep-local", "0");
        await page.FillAsync("#ep-public", "80");
        await page.SelectOptionAsync("#ep-vip", "Vip2");
        await page.ClickAsync("#add-endpoint");
        Assert.Equal("BadRequest: Ports must be in the range of 1 - 65535", await page.InnerTextAsync("#banner"));

        await page.ClickAsync("#add-endpoint-panel summary");
        await page.SelectOptionAsync("#ep-vm", "myVM1");
        await page.FillAsync("#ep-name", "web");
        await page.FillAsync("#ep-local", "8080");
        await page.FillAsync("#ep-public", "80");
        await page.SelectOptionAsync("#ep-vip", "Vip2");
        await page.ClickAsync("#add-endpoint");
        Assert.Contains("Add-AzureEndpoint", await page.InnerTextAsync("#banner"));

        var address = (await page.InnerTextAsync("tr[data-vip=Vip2] .vip-address")).Trim();
        Assert.True(IPAddress.TryParse(address, out _), $"Vip2 should have an address now, shows '{address}'");
        Assert.Equal("web", await EchoBackend.HelloAsync(address, 80));

        // Removing a VIP that an endpoint uses is refused with the API's message (confirm prompt accepted).
        page.Dialog += (_, dialog) => dialog.AcceptAsync();
        await page.ClickAsync("tr[data-vip=Vip2] button:has-text('Remove')");
        Assert.StartsWith("ConflictError: The virtual IP 'Vip2' cannot be removed", await page.InnerTextAsync("#banner"));
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Member_health_turns_red_when_its_backend_stops_and_a_screenshot_is_kept()
    {
        var (vm1, vm2) = VmAddresses();
        await using var lb1 = EchoBackend.Start(vm1, 8181, "lb1");
        var lb2 = EchoBackend.Start(vm2, 8181, "lb2");
        await using var f = await SeedAsync(vm1, vm2);
        await f.SendAsync(HttpMethod.Post, ApiRoutes.VirtualIps("myService"), new AddVirtualIpRequest { Name = "Vip2" });
        foreach (var vm in new[] { "myVM1", "myVM2" })
        {
            // The shortest probe Azure allows: every 5 s, out after 11/5 = 2 failures (≈10 s).
            await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", vm), new EndpointRequest
            {
                Name = "myLBEndpoint", LoadBalancedSetName = "myLBSet", Protocol = "tcp", LocalPort = 8181, PublicPort = 81, VirtualIpName = "Vip2",
                Probe = new ProbeRequest { Protocol = "tcp", IntervalInSeconds = 5, TimeoutInSeconds = 11 },
            });
        }

        var page = await SignedInPageAsync(f);
        await page.GotoAsync(f.Server.Api + "ui/services/myService");
        var member2 = page.Locator("tr[data-backend='myVM2/myLBEndpoint']");
        await Assertions.Expect(member2).ToHaveAttributeAsync("data-state", "Healthy");

        // Traffic shows up in the live table.
        var vip2 = (await f.GetAsync<List<Model.Services.VirtualIp>>(ApiRoutes.VirtualIps("myService"))).Single(v => v.Name == "Vip2").Address!;
        for (var i = 0; i < 6; i++)
        {
            await EchoBackend.HelloAsync(vip2, 81);
        }

        await lb2.DisposeAsync();

        // The page refreshes itself (no reload): the member goes red within two probe intervals.
        await Assertions.Expect(member2).ToHaveAttributeAsync("data-state", "Unhealthy");
        await Assertions.Expect(member2.Locator(".badge.bad")).ToHaveTextAsync("Unhealthy");
        await Assertions.Expect(page.Locator("tr[data-backend='myVM1/myLBEndpoint']")).ToHaveAttributeAsync("data-state", "Healthy");

        var path = ChromiumFixture.ArtifactPath("dashboard-myService.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        output.WriteLine($"Dashboard screenshot: {path}");
        Console.WriteLine($"Dashboard screenshot: {path}");
        Assert.True(new FileInfo(path).Length > 10_000);
        await page.Context.CloseAsync();
    }
}
