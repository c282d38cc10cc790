namespace MultiVip.Cli.Tests.Operations;

/// <summary>
/// The sd_notify protocol of the Type=notify unit, with the test as the service manager: a Unix
/// datagram socket in NOTIFY_SOCKET, `multivip serve` as a real process.
/// </summary>
public sealed class SystemdNotifyTests
{
    [Fact]
    public async Task Ready_is_sent_once_the_API_answers_and_stopping_when_sigterm_starts_the_drain()
    {
        using var manager = new ServiceManager("multivip-notify", "mvn");
        using var server = manager.Serve($"127.70.{Random.Shared.Next(1, 250)}.0/24", drainTimeoutSeconds: 3);

        // The first message the manager gets is READY=1, and by then the API answers: its
        // address (port 0 picked a free one) is in the message and in the endpoint file.
        var api = await manager.WaitForApiAsync(server, CliProcess.Bound);
        Assert.Equal(api, (await File.ReadAllTextAsync(Path.Combine(manager.DataDir, "endpoint"))).Trim());
        await manager.AssertServesAsync(api);

        // SIGTERM: STOPPING=1 at once, with the time the drain may take (3 s + 15 s margin).
        server.Terminate();
        var stopping = await manager.ReceiveAsync(server, CliProcess.Bound);
        Assert.StartsWith("STOPPING=1\n", stopping);
        Assert.Contains("EXTEND_TIMEOUT_USEC=18000000", stopping);
        Assert.Equal(0, await server.WaitForExitAsync(CliProcess.Bound));
    }
}
