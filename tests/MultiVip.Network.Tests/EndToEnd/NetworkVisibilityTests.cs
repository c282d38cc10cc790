using System.Net.Http.Headers;
using MultiVip.Contracts;
using MultiVip.TestSupport.Network;

namespace MultiVip.Network.Tests.EndToEnd;

/// <summary>deployment show, the API, /metrics and the dashboard say per VIP whether this node holds its address.</summary>
public sealed class NetworkVisibilityTests
{
    [Fact]
    public async Task Api_cli_metrics_and_dashboard_show_which_vip_addresses_this_node_holds_and_since_when()
    {
        await using var net = await VipNetwork.CreateAsync();
        net.Backend(VipNetwork.Vm1, 8080, "vm1-web");
        await net.StartServerAsync();
        using var client = net.Client();
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        await client.CreateServiceAsync(new CreateServiceRequest { Name = "svc" });
        await client.AddVmAsync("svc", new AddVmRequest { Name = "vm1", Address = VipNetwork.Vm1.ToString() });
        await client.AddVirtualIpAsync("svc", new AddVirtualIpRequest { Name = "Vip2" });
        await client.AddVirtualIpAsync("svc", new AddVirtualIpRequest { Name = "Vip3" });
        await client.AddEndpointAsync("svc", "vm1", new EndpointRequest { Name = "web", Protocol = "tcp", LocalPort = 8080, PublicPort = 80, VirtualIpName = "Vip2" });

        var network = (await client.GetDeploymentAsync("svc")).Value.Network;
        var vip1 = network.Single(n => n.VirtualIpName == "Vip1");
        var vip2 = network.Single(n => n.VirtualIpName == "Vip2");
        var vip3 = network.Single(n => n.VirtualIpName == "Vip3");
        Assert.All(network, n => Assert.Equal("local", n.Announcer));
        Assert.True(vip1.Held);
        Assert.True(vip2.Held);
        Assert.InRange(vip2.HeldSince!.Value, before, DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.Equal("IPv4", vip2.AddressFamily);
        Assert.Null(vip2.LastError);
        Assert.False(vip3.Held); // no endpoint, no address, nothing on the network
        Assert.Null(vip3.Address);

        // deployment show, from the real CLI.
        var show = await Command.TryRunAsync("dotnet", [
            Path.Combine(AppContext.BaseDirectory, "multivip.dll"), "deployment", "show", "--service", "svc",
            "--api", client.Connection.Api.ToString(), "--token", client.Connection.Token]);
        var text = show.ThrowIfFailed();
        Assert.Matches($@"(?m)^Vip2\s+{System.Text.RegularExpressions.Regex.Escape(vip2.Address!)}\s+IPv4\s+local\s+True\s+\d{{4}}-", text);

        using var http = new HttpClient { BaseAddress = client.Connection.Api };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", client.Connection.Token);
        var metrics = await http.GetStringAsync("/metrics");
        Assert.Contains($"multivip_vip_address_held{{service=\"svc\",vip=\"Vip2\",address=\"{vip2.Address}\",family=\"ipv4\",announcer=\"local\"}} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("multivip_vip_address_held_since_seconds{service=\"svc\",vip=\"Vip2\"", metrics, StringComparison.Ordinal);

        var page = await http.GetStringAsync("/ui/services/svc/");
        Assert.Contains("<span class=\"badge ok\">held</span>", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failed_announcement_is_reported_with_its_reason()
    {
        await using var net = await VipNetwork.CreateAsync();
        net.Backend(VipNetwork.Vm1, 8080, "vm1-web");
        await net.StartServerAsync();
        using var client = net.Client();
        await client.CreateServiceAsync(new CreateServiceRequest { Name = "svc" });
        await client.AddVmAsync("svc", new AddVmRequest { Name = "vm1", Address = VipNetwork.Vm1.ToString() });
        await client.AddVirtualIpAsync("svc", new AddVirtualIpRequest { Name = "Vip2" });

        // The address can be added to a link that is down, but no frame can be sent on it.
        await net.Lb.IpAsync("link", "set", "eth0", "down");
        await client.AddEndpointAsync("svc", "vm1", new EndpointRequest { Name = "web", Protocol = "tcp", LocalPort = 8080, PublicPort = 80, VirtualIpName = "Vip2" });
        var vip2 = await Eventually.MatchesAsync(
            async () => (await client.GetDeploymentAsync("svc")).Value.Network.Single(n => n.VirtualIpName == "Vip2"),
            n => n.LastError is not null,
            TimeSpan.FromSeconds(10),
            n => $"no announcement error reported: {n}");
        Assert.Contains($"announcing {vip2.Address} on eth0 failed", vip2.LastError, StringComparison.Ordinal);
        Assert.NotNull(vip2.LastErrorAt);
    }
}
