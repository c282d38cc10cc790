namespace MultiVip.Cli.Tests.Operations;

/// <summary>
/// `systemctl reload` (ExecReload=/bin/kill -USR2 $MAINPID) with the test as the service manager:
/// the running server starts its successor, which takes over and becomes the unit's main process
/// (MAINPID= with READY=1) before the old one exits, and the old one sends no STOPPING=1.
/// </summary>
public sealed class SystemdReloadTests
{
    [Fact]
    public async Task Sigusr2_starts_a_successor_that_takes_over_and_becomes_the_main_process()
    {
        using var manager = new ServiceManager("mv-reload", "mvr");
        var successorPid = 0;
        try
        {
            using var old = manager.Serve($"127.115.{Random.Shared.Next(1, 250)}.0/24", drainTimeoutSeconds: 5);
            Assert.StartsWith("READY=1\n", await manager.ReceiveAsync(old, TimeSpan.FromSeconds(90)));
            var api = (await File.ReadAllTextAsync(Path.Combine(manager.DataDir, "endpoint"))).Trim();

            using (var kill = System.Diagnostics.Process.Start("kill", ["-USR2", old.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)])!)
            {
                await kill.WaitForExitAsync();
            }

            // The next message is the successor's: it is the main process now, and it serves.
            var ready = await manager.ReceiveAsync(old, TimeSpan.FromSeconds(90));
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
            await manager.AssertServesAsync(api);

            // The old server's exit sent nothing (no STOPPING=1 for a stop that is not the unit's);
            // the successor's SIGTERM does.
            using (var term = System.Diagnostics.Process.Start("kill", ["-TERM", successorPid.ToString(System.Globalization.CultureInfo.InvariantCulture)])!)
            {
                await term.WaitForExitAsync();
            }

            Assert.StartsWith("STOPPING=1\n", await manager.ReceiveAsync(old, TimeSpan.FromSeconds(30)));
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
}
