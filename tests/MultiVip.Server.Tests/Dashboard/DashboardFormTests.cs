using Microsoft.Playwright;
using MultiVip.Contracts;
using MultiVip.Model.Operations;
using MultiVip.Model.ReservedIps;
using MultiVip.Model.Services;

namespace MultiVip.Server.Tests.Dashboard;

/// <summary>
/// The dashboard's forms in a real Chromium against a real server: post/redirect/get (a reload
/// sends no form again), the result shown once after the redirect, every endpoint field editable
/// through the API's own requests, reserved-IP actions, and errors in the API's words.
/// </summary>
public sealed class DashboardFormTests(ChromiumFixture chromium) : IClassFixture<ChromiumFixture>
{
    /// <summary>Counts the form posts the page sends (a reload of a POST result sends one again).</summary>
    private static List<string> RecordPosts(IPage page)
    {
        var posts = new List<string>();
        page.Request += (_, request) =>
        {
            if (request.Method == "POST")
            {
                lock (posts)
                {
                    posts.Add(request.Url);
                }
            }
        };
        return posts;
    }

    private static async Task<int> OperationCountAsync(ServerFixture f) =>
        (await f.GetAsync<List<Operation>>(ApiRoutes.Operations)).Count;

    [Fact]
    public async Task A_reload_after_an_accepted_form_repeats_nothing()
    {
        var (vm1, vm2) = DashboardSession.VmAddresses();
        await using var f = await DashboardSession.SeedAsync(vm1, vm2);
        var page = await DashboardSession.SignedInPageAsync(chromium, f);
        await page.GotoAsync(f.Server.Api + "ui/services/myService");
        var posts = RecordPosts(page);

        await page.FillAsync("#new-vip", "Vip2");
        var response = await page.RunAndWaitForResponseAsync(() => page.ClickAsync("#add-vip"), r => r.Request.Method == "POST");
        Assert.Equal(303, response.Status);
        await page.WaitForURLAsync("**/ui/services/myService?op=*");
        Assert.Contains("Add-AzureVirtualIP", await page.InnerTextAsync("#banner"));
        var operations = await OperationCountAsync(f);

        await page.ReloadAsync();
        Assert.Single(posts);
        Assert.Equal(operations, await OperationCountAsync(f));
        Assert.Equal(2, (await f.GetAsync<List<VirtualIp>>(ApiRoutes.VirtualIps("myService"))).Count);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_refused_form_redirects_with_the_api_message_shown_once_and_a_reload_posts_nothing()
    {
        var (vm1, vm2) = DashboardSession.VmAddresses();
        await using var f = await DashboardSession.SeedAsync(vm1, vm2);
        var api = await f.ExpectErrorAsync(HttpMethod.Post, ApiRoutes.VirtualIps("myService"), new AddVirtualIpRequest { Name = "Vip1" });
        var page = await DashboardSession.SignedInPageAsync(chromium, f);
        await page.GotoAsync(f.Server.Api + "ui/services/myService");
        var posts = RecordPosts(page);

        await page.FillAsync("#new-vip", "Vip1");
        var response = await page.RunAndWaitForResponseAsync(() => page.ClickAsync("#add-vip"), r => r.Request.Method == "POST");
        Assert.Equal(303, response.Status);
        await page.WaitForURLAsync("**/ui/services/myService?flash=*");
        Assert.Equal($"{api.Code}: {api.Text}", await page.InnerTextAsync("#banner"));

        // The reload is a GET: no second post, and the message was for once.
        await page.ReloadAsync();
        Assert.Single(posts);
        Assert.Equal(0, await page.Locator("#banner").CountAsync());
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Every_endpoint_field_is_edited_through_set_azure_endpoint_and_errors_are_the_apis()
    {
        var (vm1, vm2) = DashboardSession.VmAddresses();
        await using var f = await DashboardSession.SeedAsync(vm1, vm2);
        await f.SendAsync(HttpMethod.Post, ApiRoutes.VirtualIps("myService"), new AddVirtualIpRequest { Name = "Vip2" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), new EndpointRequest { Name = "web", Protocol = "tcp", LocalPort = 8080, PublicPort = 80 });
        var page = await DashboardSession.SignedInPageAsync(chromium, f);
        await page.GotoAsync(f.Server.Api + "ui/services/myService");
        var edit = page.Locator("details[data-edit='myVM1/web']");

        // Out of range: the API's message for the same Set-AzureEndpoint request, word for word.
        var api = await f.ExpectErrorAsync(HttpMethod.Put, ApiRoutes.Endpoint("myService", "myVM1", "web"), new EndpointRequest { Protocol = "tcp", LocalPort = 8080, PublicPort = 80, IdleTimeoutInMinutes = 1 });
        await edit.Locator("summary").ClickAsync();
        await edit.Locator("[name=idleTimeout]").FillAsync("1");
        await edit.Locator("button[type=submit]").ClickAsync();
        Assert.Equal($"{api.Code}: {api.Text}", await page.InnerTextAsync("#banner"));

        // An ACL line the form cannot read says how to write it.
        await edit.Locator("summary").ClickAsync();
        await edit.Locator("[name=acl]").FillAsync("first permit 198.51.100.0/24");
        await edit.Locator("button[type=submit]").ClickAsync();
        Assert.StartsWith("BadRequest: ACL line 1: the order must be a whole number, not 'first'.", await page.InnerTextAsync("#banner"));

        await edit.Locator("summary").ClickAsync();
        await edit.Locator("[name=publicPort]").FillAsync("8081");
        await edit.Locator("[name=localPort]").FillAsync("8081");
        await edit.Locator("[name=vip]").SelectOptionAsync("Vip2");
        await edit.Locator("[name=directServerReturn]").CheckAsync();
        await edit.Locator("[name=lbSet]").FillAsync("webSet");
        await edit.Locator("[name=probe]").SelectOptionAsync("http");
        await edit.Locator("[name=probePort]").FillAsync("8080");
        await edit.Locator("[name=probePath]").FillAsync("/health");
        await edit.Locator("[name=probeInterval]").FillAsync("7");
        await edit.Locator("[name=probeTimeout]").FillAsync("15");
        await edit.Locator("[name=distribution]").SelectOptionAsync("sourceIP");
        await edit.Locator("[name=idleTimeout]").FillAsync("10");
        await edit.Locator("[name=proxyProtocol]").SelectOptionAsync("v2");
        await edit.Locator("[name=acl]").FillAsync("100 permit 198.51.100.0/24 office\n200 deny 0.0.0.0/0");
        await edit.Locator("button[type=submit]").ClickAsync();
        Assert.Contains("Set-AzureEndpoint", await page.InnerTextAsync("#banner"));
        Assert.Contains("Succeeded", await page.InnerTextAsync("#banner"));

        var e = await f.GetAsync<InputEndpoint>(ApiRoutes.Endpoint("myService", "myVM1", "web"));
        Assert.Equal((8081, 8081, "Vip2", true), (e.PublicPort, e.LocalPort, e.VirtualIpName, e.DirectServerReturn));
        Assert.Equal("webSet", e.LoadBalancedSetName);
        Assert.Equal(new LoadBalancerProbe { Protocol = ProbeProtocol.Http, Port = 8080, Path = "/health", IntervalInSeconds = 7, TimeoutInSeconds = 15 }, e.Probe);
        Assert.Equal(LoadBalancerDistribution.SourceIP, e.Distribution);
        Assert.Equal(10, e.IdleTimeoutInMinutes);
        Assert.Equal(ProxyProtocolVersion.V2, e.ProxyProtocol);
        Assert.Equal(
            [(100, AclAction.Permit, "198.51.100.0/24", "office"), (200, AclAction.Deny, "0.0.0.0/0", (string?)null)],
            e.Acl.Select(r => (r.Order, r.Action, r.RemoteSubnet, r.Description)).ToArray());

        // The edit form shows what is stored: saving it unchanged changes nothing.
        await edit.Locator("summary").ClickAsync();
        Assert.Equal("100 permit 198.51.100.0/24 office\n200 deny 0.0.0.0/0", await edit.Locator("[name=acl]").InputValueAsync());
        await edit.Locator("button[type=submit]").ClickAsync();
        Assert.Contains("Succeeded", await page.InnerTextAsync("#banner"));
        var after = await f.GetAsync<InputEndpoint>(ApiRoutes.Endpoint("myService", "myVM1", "web"));
        Assert.Equal(e, after with { Acl = e.Acl });
        Assert.Equal(e.Acl, after.Acl);

        // The protocol too (UDP takes no probe and no PROXY header), and back out of the set and off DSR.
        await edit.Locator("summary").ClickAsync();
        await edit.Locator("[name=protocol]").SelectOptionAsync("udp");
        await edit.Locator("[name=probe]").SelectOptionAsync("");
        await edit.Locator("[name=proxyProtocol]").SelectOptionAsync("none");
        await edit.Locator("[name=lbSet]").FillAsync("");
        await edit.Locator("[name=directServerReturn]").UncheckAsync();
        await edit.Locator("button[type=submit]").ClickAsync();
        Assert.Contains("Succeeded", await page.InnerTextAsync("#banner"));
        var udp = await f.GetAsync<InputEndpoint>(ApiRoutes.Endpoint("myService", "myVM1", "web"));
        Assert.Equal((TransportProtocol.Udp, (LoadBalancerProbe?)null, ProxyProtocolVersion.None, (string?)null, false), (udp.Protocol, udp.Probe, udp.ProxyProtocol, udp.LoadBalancedSetName, udp.DirectServerReturn));
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_load_balanced_set_is_edited_on_every_member_and_what_is_left_stays()
    {
        var (vm1, vm2) = DashboardSession.VmAddresses();
        await using var f = await DashboardSession.SeedAsync(vm1, vm2);
        await DashboardSession.AddLoadBalancedSetAsync(f, 8383);
        var page = await DashboardSession.SignedInPageAsync(chromium, f);
        await page.GotoAsync(f.Server.Api + "ui/services/myService");
        var edit = page.Locator("details[data-edit-set='myLBSet']");

        await edit.Locator("summary").ClickAsync();
        await edit.Locator("[name=distribution]").SelectOptionAsync("sourceIPProtocol");
        await edit.Locator("[name=idleTimeout]").FillAsync("12");
        await edit.Locator("[name=acl]").FillAsync("10 permit 203.0.113.0/24");
        await edit.Locator("button[type=submit]").ClickAsync();
        Assert.Contains("Set-AzureLoadBalancedEndpoint", await page.InnerTextAsync("#banner"));
        Assert.Contains("Succeeded", await page.InnerTextAsync("#banner"));

        foreach (var vm in new[] { "myVM1", "myVM2" })
        {
            var e = await f.GetAsync<InputEndpoint>(ApiRoutes.Endpoint("myService", vm, "myLBEndpoint"));
            Assert.Equal(LoadBalancerDistribution.SourceIPProtocol, e.Distribution);
            Assert.Equal(12, e.IdleTimeoutInMinutes);
            Assert.Equal("203.0.113.0/24", Assert.Single(e.Acl).RemoteSubnet);

            // The probe was left as "keep": still the set's 5 s tcp probe.
            Assert.Equal(5, e.Probe!.IntervalInSeconds);
            Assert.Equal("Vip2", e.VirtualIpName);
        }

        // A probe below Azure's minimum: the API's message.
        var api = await f.ExpectErrorAsync(HttpMethod.Patch, ApiRoutes.LoadBalancedSet("myService", "myLBSet"), new SetLoadBalancedSetRequest { Probe = new ProbeRequest { Protocol = "tcp", IntervalInSeconds = 2 } });
        await edit.Locator("summary").ClickAsync();
        await edit.Locator("[name=probe]").SelectOptionAsync("tcp");
        await edit.Locator("[name=probePort]").FillAsync("");
        await edit.Locator("[name=probeInterval]").FillAsync("2");
        await edit.Locator("[name=probeTimeout]").FillAsync("");
        await edit.Locator("button[type=submit]").ClickAsync();
        Assert.Equal($"{api.Code}: {api.Text}", await page.InnerTextAsync("#banner"));
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Reserved_ips_are_created_associated_disassociated_and_removed_with_confirmations()
    {
        var (vm1, vm2) = DashboardSession.VmAddresses();
        await using var f = await DashboardSession.SeedAsync(vm1, vm2);
        await f.SendAsync(HttpMethod.Post, ApiRoutes.VirtualIps("myService"), new AddVirtualIpRequest { Name = "Vip2" });
        var page = await DashboardSession.SignedInPageAsync(chromium, f, DashboardSession.Phone);
        var prompts = new List<string>();
        page.Dialog += (_, dialog) => prompts.Add(dialog.Message);
        await page.GotoAsync(f.Server.Api + "ui/reserved-ips");

        await page.FillAsync("#rip-name", "myReservedIP");
        await page.FillAsync("#rip-label", "for Vip2");
        await page.ClickAsync("#create-reserved-ip");
        Assert.Contains("New-AzureReservedIP", await page.InnerTextAsync("#banner"));
        var reserved = await f.GetAsync<ReservedIp>(ApiRoutes.ReservedIp("myReservedIP"));
        var row = page.Locator("tr[data-reserved-ip='myReservedIP']");
        Assert.Equal(reserved.Address, (await row.Locator(".reserved-address").InnerTextAsync()).Trim());

        // The same name again: the API's conflict.
        var api = await f.ExpectErrorAsync(HttpMethod.Post, ApiRoutes.ReservedIps, new CreateReservedIpRequest { Name = "myReservedIP" });
        await page.FillAsync("#rip-name", "myReservedIP");
        await page.ClickAsync("#create-reserved-ip");
        Assert.Equal($"{api.Code}: {api.Text}", await page.InnerTextAsync("#banner"));

        await row.Locator("select[name=to]").SelectOptionAsync(new SelectOptionValue { Label = "myService / Vip2" });
        await row.Locator("button:has-text('Associate')").ClickAsync();
        Assert.Contains("Set-AzureReservedIPAssociation", await page.InnerTextAsync("#banner"));
        Assert.Contains("Set-AzureReservedIPAssociation", prompts[^1]);
        Assert.Equal(reserved.Address, await DashboardSession.AddressOfAsync(f, "Vip2"));
        Assert.Equal("myService / Vip2", (await row.Locator(".reserved-use").InnerTextAsync()).Trim());

        // In use: Remove is refused in the API's words.
        api = await f.ExpectErrorAsync(HttpMethod.Delete, ApiRoutes.ReservedIp("myReservedIP"));
        await row.Locator("button:has-text('Remove')").ClickAsync();
        Assert.Contains("Remove-AzureReservedIP", prompts[^1]);
        Assert.Equal($"{api.Code}: {api.Text}", await page.InnerTextAsync("#banner"));

        await row.Locator("button:has-text('Disassociate')").ClickAsync();
        Assert.Contains("Remove-AzureReservedIPAssociation", prompts[^1]);
        Assert.Contains("Succeeded", await page.InnerTextAsync("#banner"));
        Assert.Null((await f.GetAsync<ReservedIp>(ApiRoutes.ReservedIp("myReservedIP"))).ServiceName);

        await row.Locator("button:has-text('Remove')").ClickAsync();
        Assert.Contains("Remove-AzureReservedIP", await page.InnerTextAsync("#banner"));
        Assert.Equal(0, await row.CountAsync());
        Assert.Empty(await f.GetAsync<List<ReservedIp>>(ApiRoutes.ReservedIps));

        // A reserved IP from a VIP's current address keeps that address.
        var vip1 = await DashboardSession.AddressOfAsync(f, "Vip1");
        await page.FillAsync("#rip-name", "keptIP");
        await page.SelectOptionAsync("#rip-from", new SelectOptionValue { Label = $"keep myService / Vip1's {vip1}" });
        await page.ClickAsync("#create-reserved-ip");
        Assert.Contains("Succeeded", await page.InnerTextAsync("#banner"));
        var kept = await f.GetAsync<ReservedIp>(ApiRoutes.ReservedIp("keptIP"));
        Assert.Equal((vip1, "myService", "Vip1"), (kept.Address, kept.ServiceName, kept.VirtualIpName));
        await page.Context.CloseAsync();
    }
}
