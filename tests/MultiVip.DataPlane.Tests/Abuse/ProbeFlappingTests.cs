using Microsoft.Extensions.Time.Testing;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Tests.Infrastructure;
using MultiVip.Model.Services;
using Xunit.Abstractions;

namespace MultiVip.DataPlane.Tests.Abuse;

/// <summary>A member whose probe flips on every attempt, with probe time on a fake clock.</summary>
[Collection(AbuseCollection.Name)]
public sealed class ProbeFlappingTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Flapping_probe_moves_rotation_only_by_the_threshold_rule_and_leaks_nothing()
    {
        var time = new FakeTimeProvider();
        await using var stable = new TestBackend("stable");
        await using var flapper = new TestBackend("flapper");

        // The flapper's probe answers on its own port, so only the probe flaps; its traffic port stays up.
        await using var flapperProbe = new TestBackend("flapper-probe");
        await using var plane = TestPlane.Create(time);
        var watcher = new ProbeWatcher(plane);
        var key = TestNet.NextKey();
        await plane.ApplyOkAsync(1, TestNet.Spec(key, stable, flapper) with
        {
            Backends = [stable.Spec, flapper.Spec with { ProbeTarget = flapperProbe.Target }],
            Probe = TestNet.TcpProbe(threshold: 2),
        });
        Assert.Equal(HealthState.Healthy, (await watcher.NextAsync("flapper")).State);
        await watcher.NextAsync("stable");

        // A connection held across all the flapping: health changes decide new flows, never cut old ones.
        using var held = await TestNet.ConnectAsync(key);
        var heldBy = await TestNet.RoundTripAsync(held, "before");
        var descriptors = AbuseKit.OpenFileDescriptors();
        var probeUp = true;

        // Up/down on every probe: never two failures in a row, so with threshold 2 it never leaves rotation.
        var states = new List<HealthState>();
        for (var round = 0; round < 20; round++)
        {
            states.Add(await ProbeAsync(round % 2 == 0 ? false : true));
        }

        Assert.All(states, s => Assert.Equal(HealthState.Healthy, s));
        Assert.Contains("flapper", await BackendsSeenAsync(40));

        // Two failures in a row take it out; then alternating again never brings it back; two successes do.
        Assert.Equal(HealthState.Healthy, await ProbeAsync(false));
        Assert.Equal(HealthState.Unhealthy, await ProbeAsync(false));
        Assert.Equal(["stable"], await BackendsSeenAsync(20));
        states.Clear();
        for (var round = 0; round < 20; round++)
        {
            states.Add(await ProbeAsync(round % 2 == 0));
        }

        Assert.All(states, s => Assert.Equal(HealthState.Unhealthy, s));
        Assert.Equal(["stable"], await BackendsSeenAsync(20));
        Assert.Equal(HealthState.Unhealthy, await ProbeAsync(true));
        Assert.Equal(HealthState.Healthy, await ProbeAsync(true));
        Assert.Contains("flapper", await BackendsSeenAsync(40));

        // 46 probe rounds and 120 client connections later: the held connection still works, nothing
        // else is open through the listener, and the process holds no more sockets than before.
        Assert.Equal(heldBy, await TestNet.RoundTripAsync(held, "after"));
        await AbuseKit.WaitUntilAsync(() => plane.GetAdmittedCount(key) == 1, "only the held connection to remain");
        Assert.Equal(1, plane.GetHealth().Sum(h => h.ActiveConnections));
        output.WriteLine($"46 probe rounds, 120 connections: file descriptors {descriptors} -> {AbuseKit.OpenFileDescriptors()}");
        Assert.InRange(AbuseKit.OpenFileDescriptors() - descriptors, -20, 8);

        async Task<HealthState> ProbeAsync(bool up)
        {
            if (up && !probeUp)
            {
                flapperProbe.Start();
            }
            else if (!up)
            {
                flapperProbe.Stop();
            }

            probeUp = up;

            time.Advance(TimeSpan.FromSeconds(5));
            var observed = await watcher.NextAsync("flapper");
            Assert.Equal(up, observed.Success);
            await watcher.NextAsync("stable");
            return observed.State;
        }

        async Task<string[]> BackendsSeenAsync(int connections)
        {
            var seen = new SortedSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < connections; i++)
            {
                seen.Add(await TestNet.WhichBackendAsync(key));
            }

            return [.. seen];
        }
    }
}
