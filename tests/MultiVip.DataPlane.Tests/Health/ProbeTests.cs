using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Tests.Infrastructure;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Tests.Health;

/// <summary>Probe-driven rotation, with probe time driven by a fake clock and awaited through the probe hook.</summary>
public sealed class ProbeTests
{
    [Fact]
    public async Task Failed_member_leaves_rotation_after_threshold_and_returns_after_threshold_successes()
    {
        var time = new FakeTimeProvider();
        await using var a = new TestBackend("vmA");
        await using var b = new TestBackend("vmB");
        await using var plane = TestPlane.Create(time);
        var watcher = new ProbeWatcher(plane);
        var key = TestNet.NextKey();
        await plane.ApplyOkAsync(1, TestNet.Spec(key, a, b) with { Probe = TestNet.TcpProbe(threshold: 2) });

        // Probed as soon as they appear.
        Assert.Equal(HealthState.Healthy, (await watcher.NextAsync("vmA")).State);
        Assert.Equal(HealthState.Healthy, (await watcher.NextAsync("vmB")).State);

        a.Stop();
        var states = new List<HealthState>();
        for (var round = 0; round < 2; round++)
        {
            time.Advance(TimeSpan.FromSeconds(5));
            states.Add((await watcher.NextAsync("vmA")).State);
            Assert.Equal(HealthState.Healthy, (await watcher.NextAsync("vmB")).State);
        }

        Assert.Equal([HealthState.Healthy, HealthState.Unhealthy], states);
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal("vmB", await TestNet.WhichBackendAsync(key));
        }

        a.Start();
        states.Clear();
        for (var round = 0; round < 2; round++)
        {
            time.Advance(TimeSpan.FromSeconds(5));
            states.Add((await watcher.NextAsync("vmA")).State);
            await watcher.NextAsync("vmB");
        }

        Assert.Equal([HealthState.Unhealthy, HealthState.Healthy], states);
        var seen = new HashSet<string>();
        for (var i = 0; i < 40 && seen.Count < 2; i++)
        {
            seen.Add(await TestNet.WhichBackendAsync(key));
        }

        Assert.Contains("vmA", seen);

        var health = plane.GetHealth().Single(h => h.VmName == "vmA");
        Assert.Equal(HealthState.Healthy, health.State);
        Assert.Equal(time.GetUtcNow(), health.LastProbeAt);
    }

    [Theory]
    [InlineData(200, HealthState.Healthy)]
    [InlineData(503, HealthState.Unhealthy)]
    public async Task Http_probe_is_healthy_only_on_200(int status, HealthState expected)
    {
        var time = new FakeTimeProvider();
        var requests = new List<string>();
        await using var probeEndpoint = new TestBackend("probe", async (socket, _) =>
        {
            var buffer = new byte[4096];
            var read = await socket.ReceiveAsync(buffer, SocketFlags.None);
            lock (requests)
            {
                requests.Add(Encoding.ASCII.GetString(buffer, 0, read));
            }

            await socket.SendAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"), SocketFlags.None);
        });
        await using var web = new TestBackend("vmA");
        await using var plane = TestPlane.Create(time);
        var watcher = new ProbeWatcher(plane);
        var key = TestNet.NextKey();
        var probe = new LoadBalancerProbe { Protocol = ProbeProtocol.Http, Path = "/health", IntervalInSeconds = 5, TimeoutInSeconds = 5 };
        await plane.ApplyOkAsync(1, TestNet.Spec(key, web) with
        {
            Probe = probe,
            Backends = [web.Spec with { ProbeTarget = probeEndpoint.Target }],
        });

        var observation = await watcher.NextAsync("vmA");
        Assert.Equal(expected, observation.State);
        if (expected == HealthState.Unhealthy)
        {
            Assert.Equal("HTTP status 503", observation.Error);
        }

        string request;
        lock (requests)
        {
            request = requests.Single();
        }

        Assert.StartsWith("GET /health HTTP/1.1\r\n", request, StringComparison.Ordinal);
        Assert.Contains($"Host: {probeEndpoint.Target}\r\n", request, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Http_probe_that_times_out_is_a_failure()
    {
        var time = new FakeTimeProvider();
        var gotRequest = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var silent = new TestBackend("probe", async (socket, _) =>
        {
            await socket.ReceiveAsync(new byte[4096], SocketFlags.None);
            gotRequest.TrySetResult();
            await socket.ReceiveAsync(new byte[1], SocketFlags.None);
        });
        await using var web = new TestBackend("vmA");
        await using var plane = TestPlane.Create(time);
        var watcher = new ProbeWatcher(plane);
        var key = TestNet.NextKey();
        await plane.ApplyOkAsync(1, TestNet.Spec(key, web) with
        {
            Probe = new LoadBalancerProbe { Protocol = ProbeProtocol.Http, Path = "/", IntervalInSeconds = 5, TimeoutInSeconds = 5 },
            Backends = [web.Spec with { ProbeTarget = silent.Target }],
        });

        await gotRequest.Task.WaitAsync(TestNet.Timeout);
        time.Advance(TimeSpan.FromSeconds(5));
        var observation = await watcher.NextAsync("vmA");
        Assert.False(observation.Success);
        Assert.Contains("timed out", observation.Error, StringComparison.Ordinal);
        Assert.Equal(HealthState.Unhealthy, observation.State);
    }

    [Fact]
    public async Task Backends_without_probe_are_not_probed_and_always_in_rotation()
    {
        await using var a = new TestBackend("vmA");
        await using var plane = TestPlane.Create();
        var key = TestNet.NextKey();
        await plane.ApplyOkAsync(1, TestNet.Spec(key, a));
        Assert.Equal(HealthState.NotProbed, Assert.Single(plane.GetHealth()).State);
        Assert.Equal("vmA", await TestNet.WhichBackendAsync(key));
    }
}
