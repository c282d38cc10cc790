using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;

namespace MultiVip.Cli.Tests.Operations;

/// <summary>
/// The sd_notify protocol of the Type=notify unit, with the test as the service manager: a Unix
/// datagram socket in NOTIFY_SOCKET, `multivip serve` as a real process.
/// </summary>
public sealed class SystemdNotifyTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "multivip-notify", Guid.NewGuid().ToString("N"));

    public SystemdNotifyTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task Ready_is_sent_once_the_API_answers_and_stopping_when_sigterm_starts_the_drain()
    {
        // Short path: a Unix socket path has at most 107 bytes.
        var socketPath = Path.Combine(Path.GetTempPath(), $"mvn-{Guid.NewGuid():N}.sock");
        using var manager = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        manager.Bind(new UnixDomainSocketEndPoint(socketPath));
        try
        {
            var dataDir = Path.Combine(_dir, "data");
            using var server = CliProcess.Start(
                _dir,
                new Dictionary<string, string> { ["NOTIFY_SOCKET"] = socketPath },
                "serve", "--data-dir", dataDir, "--api", "http://127.0.0.1:0", "--dns", "off",
                "--vip-pool", $"127.70.{Random.Shared.Next(1, 250)}.0/24", "--drain-timeout", "3");

            // The first message the manager gets is READY=1, and by then the API answers: its
            // address (port 0 picked a free one) is in the message and in the endpoint file.
            var ready = await ReceiveAsync(manager, server, TimeSpan.FromSeconds(60));
            Assert.StartsWith("READY=1\n", ready);
            var status = ready.Split('\n').Single(l => l.StartsWith("STATUS=", StringComparison.Ordinal));
            var api = status["STATUS=Serving the API on ".Length..];
            Assert.Equal(api, (await File.ReadAllTextAsync(Path.Combine(dataDir, "endpoint"))).Trim());
            using (var http = new HttpClient())
            {
                http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (await File.ReadAllTextAsync(Path.Combine(dataDir, "token"))).Trim());
                using var response = await http.GetAsync(new Uri(api + "/api/services"));
                Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
            }

            // SIGTERM: STOPPING=1 at once, with the time the drain may take (3 s + 15 s margin).
            server.Terminate();
            var stopping = await ReceiveAsync(manager, server, TimeSpan.FromSeconds(30));
            Assert.StartsWith("STOPPING=1\n", stopping);
            Assert.Contains("EXTEND_TIMEOUT_USEC=18000000", stopping);
            Assert.Equal(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        }
        finally
        {
            File.Delete(socketPath);
        }
    }

    private static async Task<string> ReceiveAsync(Socket manager, CliProcess server, TimeSpan timeout)
    {
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            var length = await manager.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            return Encoding.UTF8.GetString(buffer, 0, length);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"No sd_notify message within {timeout.TotalSeconds:0} s. Server output:\n{server.Output}");
            throw;
        }
    }
}
