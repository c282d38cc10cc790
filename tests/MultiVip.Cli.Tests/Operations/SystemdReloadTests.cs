using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;

namespace MultiVip.Cli.Tests.Operations;

/// <summary>
/// `systemctl reload` (ExecReload=/bin/kill -USR2 $MAINPID) with the test as the service manager:
/// the running server starts its successor, which takes over and becomes the unit's main process
/// (MAINPID= with READY=1) before the old one exits, and the old one sends no STOPPING=1.
/// </summary>
public sealed class SystemdReloadTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "mv-reload", Guid.NewGuid().ToString("N"));

    public SystemdReloadTests() => Directory.CreateDirectory(_dir);

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
    public async Task Sigusr2_starts_a_successor_that_takes_over_and_becomes_the_main_process()
    {
        var socketPath = Path.Combine(Path.GetTempPath(), $"mvr-{Guid.NewGuid():N}.sock");
        using var manager = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        manager.Bind(new UnixDomainSocketEndPoint(socketPath));
        var successorPid = 0;
        try
        {
            var dataDir = Path.Combine(_dir, "data");
            using var old = CliProcess.Start(
                _dir,
                new Dictionary<string, string> { ["NOTIFY_SOCKET"] = socketPath },
                "serve", "--data-dir", dataDir, "--api", "http://127.0.0.1:0", "--dns", "off",
                "--vip-pool", $"127.115.{Random.Shared.Next(1, 250)}.0/24", "--drain-timeout", "5");
            Assert.StartsWith("READY=1\n", await ReceiveAsync(manager, old, TimeSpan.FromSeconds(90)));
            var api = (await File.ReadAllTextAsync(Path.Combine(dataDir, "endpoint"))).Trim();

            using (var kill = System.Diagnostics.Process.Start("kill", ["-USR2", old.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)])!)
            {
                await kill.WaitForExitAsync();
            }

            // The next message is the successor's: it is the main process now, and it serves.
            var ready = await ReceiveAsync(manager, old, TimeSpan.FromSeconds(90));
            Assert.StartsWith("MAINPID=", ready);
            Assert.Contains("\nREADY=1\n", ready);
            Assert.Contains($"(took over from PID {old.Pid})", ready);
            successorPid = int.Parse(ready.Split('\n')[0]["MAINPID=".Length..], System.Globalization.CultureInfo.InvariantCulture);
            Assert.NotEqual(old.Pid, successorPid);

            // Polled, not awaited: the successor writes to the same output pipes, so they stay open.
            var deadline = System.Diagnostics.Stopwatch.StartNew();
            while (!old.HasExited)
            {
                Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(60), $"the old server did not exit after the takeover:\n{old.Output}");
                await Task.Delay(50);
            }

            Assert.Equal(0, old.ExitCode);
            Assert.Contains($"handed over to the new server (PID {successorPid})", old.Output);
            using (var http = new HttpClient())
            {
                http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (await File.ReadAllTextAsync(Path.Combine(dataDir, "token"))).Trim());
                using var response = await http.GetAsync(new Uri(api + "/api/services"));
                Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
            }

            // The old server's exit sent nothing (no STOPPING=1 for a stop that is not the unit's);
            // the successor's SIGTERM does.
            using (var term = System.Diagnostics.Process.Start("kill", ["-TERM", successorPid.ToString(System.Globalization.CultureInfo.InvariantCulture)])!)
            {
                await term.WaitForExitAsync();
            }

            Assert.StartsWith("STOPPING=1\n", await ReceiveAsync(manager, old, TimeSpan.FromSeconds(30)));
            await WaitForExitAsync(successorPid, TimeSpan.FromSeconds(60));
            successorPid = 0;
        }
        finally
        {
            if (successorPid != 0)
            {
                // Not our child: stopped by PID, only if the test failed before it did.
                try
                {
                    System.Diagnostics.Process.GetProcessById(successorPid).Kill();
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException)
                {
                }
            }

            File.Delete(socketPath);
        }
    }

    private static async Task WaitForExitAsync(int pid, TimeSpan timeout)
    {
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal))
        {
            Assert.True(deadline.Elapsed < timeout, $"the successor (PID {pid}) did not exit within {timeout.TotalSeconds:0} s of SIGTERM");
            await Task.Delay(50);
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
