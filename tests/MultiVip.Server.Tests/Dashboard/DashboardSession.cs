using Microsoft.Playwright;
using MultiVip.Contracts;

namespace MultiVip.Server.Tests.Dashboard;

/// <summary>
/// What the dashboard's browser tests share: a seeded server (backends on this file's loopback
/// range, 127.116.x.x), a signed-in page at a given viewport, and the layout checks.
/// </summary>
internal static class DashboardSession
{
    public const int Phone = 390;
    public const int Laptop = 1366;

    /// <summary>Two VM addresses of a random /24 in 127.116.0.0/16 (this test area's range).</summary>
    public static (string Vm1, string Vm2) VmAddresses()
    {
        var octet = Random.Shared.Next(1, 250);
        return ($"127.116.{octet}.11", $"127.116.{octet}.12");
    }

    /// <summary>myService with myVM1 and myVM2 on <paramref name="vm1"/>/<paramref name="vm2"/>.</summary>
    public static async Task<ServerFixture> SeedAsync(string vm1, string vm2)
    {
        var f = await ServerFixture.StartAsync();
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "myService" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Vms("myService"), new AddVmRequest { Name = "myVM1", Address = vm1 });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Vms("myService"), new AddVmRequest { Name = "myVM2", Address = vm2 });
        return f;
    }

    /// <summary>A load-balanced set on Vip2 over both VMs (local port <paramref name="port"/>, public 81), probed every 5 s.</summary>
    public static async Task AddLoadBalancedSetAsync(ServerFixture f, int port)
    {
        await f.SendAsync(HttpMethod.Post, ApiRoutes.VirtualIps("myService"), new AddVirtualIpRequest { Name = "Vip2" });
        foreach (var vm in new[] { "myVM1", "myVM2" })
        {
            // The shortest probe Azure allows: every 5 s, out after 11/5 = 2 failures (≈10 s).
            await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", vm), new EndpointRequest
            {
                Name = "myLBEndpoint", LoadBalancedSetName = "myLBSet", Protocol = "tcp", LocalPort = port, PublicPort = 81, VirtualIpName = "Vip2",
                Probe = new ProbeRequest { Protocol = "tcp", IntervalInSeconds = 5, TimeoutInSeconds = 11 },
            });
        }
    }

    public static async Task<string> AddressOfAsync(ServerFixture f, string vip) =>
        (await f.GetAsync<List<Model.Services.VirtualIp>>(ApiRoutes.VirtualIps("myService"))).Single(v => v.Name == vip).Address!;

    public static async Task<IPage> SignedInPageAsync(ChromiumFixture chromium, ServerFixture f, int width = Laptop)
    {
        var context = await chromium.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = width, Height = 900 } });
        var page = await context.NewPageAsync();
        await page.GotoAsync(f.Server.Api.ToString());
        await page.FillAsync("#token", f.Server.Token);
        await page.ClickAsync("#signin");
        await page.WaitForURLAsync(f.Server.Api.ToString());

        // Confirmation prompts are accepted (the tests that check a prompt's text listen themselves).
        page.Dialog += (_, dialog) => dialog.AcceptAsync();
        return page;
    }

    /// <summary>The page is no wider than the viewport: nothing to scroll sideways.</summary>
    public static async Task AssertNoHorizontalOverflowAsync(IPage page, string what)
    {
        var widths = await page.EvaluateAsync<int[]>("() => [document.scrollingElement.scrollWidth, window.innerWidth]");
        var (scroll, inner) = (widths[0], widths[1]);
        Assert.True(scroll <= inner, $"{what}: the page is {scroll} px wide in a {inner} px viewport.");
    }

    /// <summary>Every visible button (Remove, Move, Save, ...) lies inside the viewport horizontally.</summary>
    public static async Task AssertButtonsInViewportAsync(IPage page, string what)
    {
        var outside = await page.EvaluateAsync<string[]>(
            """
            () => [...document.querySelectorAll("button")]
              .filter(b => b.offsetParent !== null)
              .map(b => [b, b.getBoundingClientRect()])
              .filter(([b, r]) => r.left < 0 || r.right > window.innerWidth)
              .map(([b, r]) => `${b.textContent.trim()} at ${Math.round(r.left)}..${Math.round(r.right)}`)
            """);
        Assert.True(outside.Length == 0, $"{what}: buttons outside the {page.ViewportSize?.Width} px viewport: {string.Join("; ", outside)}");
        var count = await page.EvaluateAsync<int>("() => [...document.querySelectorAll('button')].filter(b => b.offsetParent !== null).length");
        Assert.True(count > 0, $"{what}: no visible button to check.");
    }

    /// <summary>Both checks with every &lt;details&gt; closed, then with every one open (the edit forms).</summary>
    public static async Task AssertFitsAsync(IPage page, string what)
    {
        await AssertNoHorizontalOverflowAsync(page, what);
        await AssertButtonsInViewportAsync(page, what);
        if (await page.EvaluateAsync<int>("() => document.querySelectorAll('details').length") > 0)
        {
            await page.EvaluateAsync("() => document.querySelectorAll('details').forEach(d => d.open = true)");
            await AssertNoHorizontalOverflowAsync(page, what + " (forms open)");
            await AssertButtonsInViewportAsync(page, what + " (forms open)");
        }
    }
}
