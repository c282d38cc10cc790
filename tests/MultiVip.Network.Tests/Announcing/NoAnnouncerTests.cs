using MultiVip.Client;
using MultiVip.Contracts;
using MultiVip.Server.Hosting;

namespace MultiVip.Network.Tests.Announcing;

/// <summary>Without --vip-interface nothing is added, but the server still says whether the host has each address.</summary>
public sealed class NoAnnouncerTests
{
    [Fact]
    public async Task A_loopback_vip_counts_as_held_by_the_host_and_the_announcer_is_none()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "multivip-none", Guid.NewGuid().ToString("N"));
        await using var server = await ServerHost.StartAsync(new ServerOptions
        {
            DataDir = dataDir,
            Api = "http://127.0.0.1:0",
            Dns = "off",
            VipPools = [$"127.68.{Random.Shared.Next(1, 250)}.0/24"],
        });
        try
        {
            using var client = new MultiVipClient(new ClientConnection(server.Api, server.Token));
            await client.CreateServiceAsync(new CreateServiceRequest { Name = "svc" });
            await client.AddVmAsync("svc", new AddVmRequest { Name = "vm1", Address = "127.68.0.11" });
            var vip1 = (await client.GetDeploymentAsync("svc")).Value.Network.Single();
            Assert.Equal("none", vip1.Announcer);
            Assert.True(vip1.Held, vip1.LastError);
            Assert.NotNull(vip1.HeldSince);
            Assert.False(server.Announcer.ManagesAddresses);
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }
}
