using Microsoft.Data.Sqlite;
using Microsoft.Playwright;
using MultiVip.Contracts;
using MultiVip.Control.Nodes;
using MultiVip.Control.State;

namespace MultiVip.Server.Tests.Dashboard;

/// <summary>The overview's Nodes card in a real headless Chromium: this node and another node's record from the registry.</summary>
public sealed class NodesDashboardTests(ChromiumFixture chromium) : IClassFixture<ChromiumFixture>
{
    [Fact]
    public async Task The_overview_lists_every_node_with_its_state_heartbeat_generation_and_faults()
    {
        await using var f = await ServerFixture.StartAsync(configure: o => o with { NodeName = "lb-a" });
        var operation = await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "myService" });
        var old = DateTimeOffset.UtcNow - TimeSpan.FromMinutes(3);
        var registry = new SqliteNodeRegistry(new SqliteConnectionStringBuilder { DataSource = Path.Combine(f.DataDir, SqliteStateStore.FileName) }.ToString());
        await registry.HeartbeatAsync(new NodeRecord
        {
            Name = "lb-b",
            ApiAddress = "http://127.111.0.2:7400",
            StartedAt = old - TimeSpan.FromHours(1),
            LastHeartbeat = old,
            AppliedGeneration = 0,
            Faults = [new NodeFault("myService", "tcp/127.111.4.1:80", "<b>Address</b> already in use")],
            Version = "0.9.0",
        }, default);

        var context = await chromium.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(f.Server.Api.ToString());
        await page.FillAsync("#token", f.Server.Token);
        await page.ClickAsync("#signin");
        await page.WaitForURLAsync(f.Server.Api.ToString());

        var local = page.Locator("#nodes-table tr[data-node='lb-a']");
        Assert.Equal("Ready", (await local.Locator(".node-state").InnerTextAsync()).Trim());
        Assert.Equal(operation.Generation.ToString(System.Globalization.CultureInfo.InvariantCulture), (await local.Locator(".node-applied").InnerTextAsync()).Trim());
        Assert.Contains("this node", await local.InnerTextAsync());
        Assert.Contains(f.Server.Api.ToString().TrimEnd('/'), await local.InnerTextAsync());

        var other = page.Locator("#nodes-table tr[data-node='lb-b']");
        Assert.Equal("Down", (await other.Locator(".node-state").InnerTextAsync()).Trim());
        Assert.Contains("http://127.111.0.2:7400", await other.InnerTextAsync());
        Assert.Contains(old.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture), await other.InnerTextAsync());

        // The fault's text is shown as text, never as markup.
        Assert.Equal("tcp/127.111.4.1:80 (myService): <b>Address</b> already in use", (await other.Locator(".node-faults").InnerTextAsync()).Trim());
        await context.CloseAsync();
    }
}
