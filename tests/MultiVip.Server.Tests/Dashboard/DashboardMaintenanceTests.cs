using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Playwright;
using MultiVip.Contracts;
using MultiVip.Model.Services;

namespace MultiVip.Server.Tests.Dashboard;

/// <summary>
/// VM maintenance from the dashboard's own buttons in a real Chromium (issue 18 item 7): Drain on a
/// VM's row keeps its established connection and shows Draining, the server turns it Disabled when
/// that connection ends, and Enable puts it back into rotation. Backends on 127.136.x.x (this
/// area's range).
/// </summary>
public sealed class DashboardMaintenanceTests(ChromiumFixture chromium) : IClassFixture<ChromiumFixture>
{
    private const int Port = 8787;

    [Fact]
    public async Task Drain_keeps_the_held_connection_turns_disabled_when_it_ends_and_enable_brings_the_vm_back()
    {
        var octet = Random.Shared.Next(1, 250);
        var (vm1, vm2) = ($"127.136.{octet}.11", $"127.136.{octet}.12");
        await using var backend = EchoBackend.Start(vm1, Port, "vm1");
        await using var f = await DashboardSession.SeedAsync(vm1, vm2);
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), new EndpointRequest { Name = "web", Protocol = "tcp", LocalPort = Port, PublicPort = Port });
        var vip = await DashboardSession.AddressOfAsync(f, "Vip1");

        using var held = new TcpClient();
        await held.ConnectAsync(IPAddress.Parse(vip), Port);
        var stream = held.GetStream();
        using var reader = new StreamReader(stream, Encoding.ASCII, leaveOpen: true);
        Assert.Equal("vm1", await reader.ReadLineAsync());

        var page = await DashboardSession.SignedInPageAsync(chromium, f, DashboardSession.Phone);
        await page.GotoAsync(f.Server.Api + "ui/services/myService");
        var row = page.Locator("tr[data-vm='myVM1']");
        Assert.Equal("Enabled", (await row.Locator(".vm-state .badge").InnerTextAsync()).Trim());
        await Assertions.Expect(row.Locator("button[data-action=enabled]")).ToHaveCountAsync(0);

        await row.Locator("button[data-action=draining]").ClickAsync();
        Assert.Contains("Set-AzureVMState", await page.InnerTextAsync("#banner"));
        Assert.Contains("Succeeded", await page.InnerTextAsync("#banner"));
        Assert.Equal("Draining", (await row.Locator(".vm-state .badge").InnerTextAsync()).Trim());
        Assert.Contains("no new connections", await row.Locator(".vm-state").InnerTextAsync());
        Assert.Equal(VmState.Draining, (await f.GetAsync<VirtualMachine>(ApiRoutes.Vm("myService", "myVM1"))).State);
        await Assertions.Expect(row.Locator("button[data-action=draining]")).ToHaveCountAsync(0);

        // Draining leaves the established connection alone.
        await stream.WriteAsync(Encoding.ASCII.GetBytes("still here\n"));
        Assert.Equal("still here", await reader.ReadLineAsync());

        // Its last connection ends: the server disables the VM by itself, and the page says so.
        held.Dispose();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        string shown;
        while ((shown = (await row.Locator(".vm-state .badge").InnerTextAsync()).Trim()) != "Disabled")
        {
            Assert.True(DateTime.UtcNow < deadline, $"myVM1 still shows {shown} 30 s after its last connection closed.");
            await Task.Delay(250);
            await page.ReloadAsync();
        }

        Assert.Equal(VmState.Disabled, (await f.GetAsync<VirtualMachine>(ApiRoutes.Vm("myService", "myVM1"))).State);
        await DashboardSession.AssertFitsAsync(page, "service page with a disabled VM at 390 px");

        await row.Locator("button[data-action=enabled]").ClickAsync();
        Assert.Contains("Set-AzureVMState", await page.InnerTextAsync("#banner"));
        Assert.Equal("Enabled", (await row.Locator(".vm-state .badge").InnerTextAsync()).Trim());
        Assert.Equal(VmState.Enabled, (await f.GetAsync<VirtualMachine>(ApiRoutes.Vm("myService", "myVM1"))).State);
        Assert.Equal("vm1", await EchoBackend.HelloAsync(vip, Port));
        await page.Context.CloseAsync();
    }
}
