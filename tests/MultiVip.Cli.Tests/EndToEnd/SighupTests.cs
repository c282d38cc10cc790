using System.Net;
using System.Net.Sockets;
using System.Text;
using MultiVip.Contracts;

namespace MultiVip.Cli.Tests.EndToEnd;

/// <summary>SIGHUP (a closed SSH session, `kill -HUP` meant as a reload) re-reads the log level and drops nothing.</summary>
public sealed class SighupTests
{
    [Fact]
    public async Task Sighup_rereads_the_log_level_and_keeps_serving()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "multivip-sighup", Guid.NewGuid().ToString("N"));
        var octet = Random.Shared.Next(1, 120);
        var backendAddress = $"127.64.{octet}.11";
        await using var backend = EchoBackend.Start(backendAddress, 8080, "web");
        using var server = await ServerProcess.StartAsync(dataDir, $"127.64.{octet + 128}.0/24");
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

            // At the default level the data plane's debug line is not logged.
            Assert.DoesNotContain("Data plane applied generation", server.Output);

            await File.WriteAllTextAsync(Path.Combine(dataDir, "log-level"), "debug\n");
            server.HangUp();
            await server.WaitForOutputAsync("SIGHUP: re-read the settings: log level Debug", TimeSpan.FromSeconds(15));
            Assert.False(server.HasExited, "SIGHUP ended the server");

            // The established connection through the VIP still carries data...
            await stream.WriteAsync(Encoding.ASCII.GetBytes("after hup\n"));
            Assert.Equal("after hup", await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(5)));

            // ...the API answers, and the new level is in force: the next change logs at debug.
            using (var client = server.Client())
            {
                Assert.Equal("svc", (await client.ListServicesAsync()).Single().Name);
                await client.AddEndpointAsync("svc", "vm", new EndpointRequest { Name = "web2", Protocol = "tcp", LocalPort = 8081, PublicPort = 81 });
            }

            await server.WaitForOutputAsync("Data plane applied generation", TimeSpan.FromSeconds(15));
            var line = Assert.Single(server.Output.Split('\n'), l => l.Contains("SIGHUP: re-read", StringComparison.Ordinal));
            Assert.Contains("info:", line, StringComparison.Ordinal);
            Assert.False(server.HasExited);
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

    [Fact]
    public async Task A_log_level_file_that_names_no_level_is_reported_and_changes_nothing()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "multivip-sighup", Guid.NewGuid().ToString("N"));
        using var server = await ServerProcess.StartAsync(dataDir, $"127.64.{Random.Shared.Next(1, 250)}.0/24", "--log-level", "warning");
        try
        {
            await File.WriteAllTextAsync(Path.Combine(dataDir, "log-level"), "loud");
            server.HangUp();
            await server.WaitForOutputAsync("log level stays Warning", TimeSpan.FromSeconds(15));
            Assert.Contains("holds 'loud', not a level; write one of trace, debug, information", server.Output);

            // Warning still holds: a committed change (Information) is not logged.
            using (var client = server.Client())
            {
                await client.CreateServiceAsync(new CreateServiceRequest { Name = "quiet" });
            }

            server.Terminate();
            Assert.Equal(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(30)));
            Assert.DoesNotContain("committed as operation", server.Output);
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
