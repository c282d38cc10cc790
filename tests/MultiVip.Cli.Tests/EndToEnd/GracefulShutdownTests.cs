using System.Net;
using System.Net.Sockets;
using System.Text;
using MultiVip.Contracts;

namespace MultiVip.Cli.Tests.EndToEnd;

/// <summary>SIGTERM: stop accepting at once, let established connections finish (up to the drain timeout), exit 0.</summary>
public sealed class GracefulShutdownTests
{
    [Fact]
    public async Task Sigterm_refuses_new_connections_and_drains_established_ones()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "multivip-sigterm", Guid.NewGuid().ToString("N"));
        var octet = Random.Shared.Next(1, 250);
        var backendAddress = $"127.43.{octet}.11";
        await using var backend = EchoBackend.Start(backendAddress, 8080, "web");
        using var server = await ServerProcess.StartAsync(dataDir, $"127.44.{octet}.0/24", "--drain-timeout", "20");
        try
        {
            string vip;
            using (var client = server.Client())
            {
                await client.CreateServiceAsync(new CreateServiceRequest { Name = "svc" });
                await client.AddVmAsync("svc", new AddVmRequest { Name = "vm", Address = backendAddress });
                await client.AddEndpointAsync("svc", "vm", new EndpointRequest { Name = "web", Protocol = "tcp", LocalPort = 8080, PublicPort = 80 });
                vip = (await client.ListVirtualIpsAsync("svc")).Single().Address!;
            }

            using var established = new TcpClient();
            await established.ConnectAsync(IPAddress.Parse(vip), 80);
            var stream = established.GetStream();
            using var reader = new StreamReader(stream, Encoding.ASCII);
            Assert.Equal("web", await reader.ReadLineAsync());

            server.Terminate();

            // New connections are refused as soon as the listener is closed...
            var refusedWithin = TimeSpan.FromSeconds(10);
            var watch = System.Diagnostics.Stopwatch.StartNew();
            while (true)
            {
                try
                {
                    await EchoBackend.HelloAsync(vip, 80);
                }
                catch (Exception e) when (e is SocketException or IOException)
                {
                    break;
                }

                Assert.True(watch.Elapsed < refusedWithin, "the VIP still accepted new connections after SIGTERM");
                await Task.Delay(20);
            }

            // ...while the established one keeps working.
            await stream.WriteAsync(Encoding.ASCII.GetBytes("still here\n"));
            Assert.Equal("still here", await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(5)));
            Assert.False(server.HasExited, "the server exited while a connection was still draining");

            // When the last connection ends, the server exits well before the drain timeout.
            established.Close();
            var exit = await server.WaitForExitAsync(TimeSpan.FromSeconds(15));
            Assert.Equal(0, exit);
            Assert.Contains("draining connections", server.Output);
        }
        finally
        {
            try
            {
                Directory.Delete(dataDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
