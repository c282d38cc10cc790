using System.Net;
using Microsoft.Extensions.Time.Testing;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Tests.Infrastructure;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Tests.Routing;

/// <summary>Distribution modes, connect retry and the no-healthy-member refusal, on real sockets.</summary>
public abstract class LoadBalancingTests(EngineUnderTest engine)
{
    [Fact]
    public async Task Five_tuple_distribution_spreads_connections_across_members()
    {
        await using var a = new TestBackend("vmA");
        await using var b = new TestBackend("vmB");
        await using var plane = TestPlane.Create(engine);
        var key = TestNet.NextKey();
        await plane.ApplyOkAsync(1, TestNet.Spec(key, a, b));

        var seen = new Dictionary<string, int>();
        for (var i = 0; i < 40; i++)
        {
            var name = await TestNet.WhichBackendAsync(key);
            seen[name] = seen.GetValueOrDefault(name) + 1;
        }

        Assert.Equal(2, seen.Count);
        Assert.All(seen.Values, count => Assert.InRange(count, 5, 35));
    }

    [Fact]
    public async Task Source_ip_distribution_keeps_each_client_address_on_one_member()
    {
        await using var a = new TestBackend("vmA");
        await using var b = new TestBackend("vmB");
        await using var plane = TestPlane.Create(engine);
        var key = TestNet.NextKey();
        await plane.ApplyOkAsync(1, TestNet.Spec(key, a, b) with { Distribution = LoadBalancerDistribution.SourceIP });

        var sources = Enumerable.Range(21, 8).Select(i => new IPAddress([127, 0, 0, (byte)i])).ToArray();
        var chosen = new HashSet<string>();
        foreach (var source in sources)
        {
            var first = await TestNet.WhichBackendAsync(key, source);
            chosen.Add(first);
            for (var i = 0; i < 5; i++)
            {
                // A new source port each time: only the address may decide.
                Assert.Equal(first, await TestNet.WhichBackendAsync(key, source));
            }
        }

        Assert.Equal(2, chosen.Count);
    }

    [Fact]
    public async Task Refused_member_is_skipped_for_the_next_in_the_flows_preference_order()
    {
        await using var live = new TestBackend("vmLive");
        await using var dead = new TestBackend("vmDead");
        dead.Stop();
        await using var plane = TestPlane.Create(engine);
        var key = TestNet.NextKey();

        // No probe: the dead member stays in rotation, so only the connect retry can save its flows.
        await plane.ApplyOkAsync(1, TestNet.Spec(key, live, dead));
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal("vmLive", await TestNet.WhichBackendAsync(key));
        }

        var counters = plane.GetCounters(key)!;
        Assert.True(counters.ConnectRetries > 0);
        Assert.Equal(counters.ConnectRetries, counters.ConnectFailures);
        Assert.Equal(0, counters.ConnectExhausted);
    }

    [Fact]
    public async Task Connection_is_reset_when_every_connect_attempt_fails()
    {
        await using var dead = new TestBackend("vmDead");
        dead.Stop();
        await using var plane = TestPlane.Create(engine);
        var key = TestNet.NextKey();
        await plane.ApplyOkAsync(1, TestNet.Spec(key, dead));

        await TestNet.AssertConnectionResetAsync(key);
        Assert.Equal(1, plane.GetCounters(key)!.ConnectExhausted);
    }

    [Fact]
    public async Task No_member_in_rotation_resets_new_connections_at_once_while_established_ones_continue()
    {
        var time = new FakeTimeProvider();
        await using var a = new TestBackend("vmA");
        await using var plane = TestPlane.Create(engine, time);
        var watcher = new ProbeWatcher(plane);
        var key = TestNet.NextKey();

        // The probe targets a port nobody listens on, so the member fails its probes while its
        // traffic port keeps serving the established connection.
        var probePort = TestNet.FreePort(IPAddress.Loopback);
        var spec = TestNet.Spec(key, a) with
        {
            Probe = TestNet.TcpProbe(threshold: 2),
            Backends = [a.Spec with { ProbeTarget = new IPEndPoint(IPAddress.Loopback, probePort) }],
        };
        await plane.ApplyOkAsync(1, spec);
        Assert.Equal(HealthState.Unknown, (await watcher.NextAsync("vmA")).State);

        using var established = await TestNet.ConnectAsync(key);
        Assert.Equal("vmA", await TestNet.RoundTripAsync(established, "before"));

        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(HealthState.Unhealthy, (await watcher.NextAsync("vmA")).State);

        await TestNet.AssertConnectionResetAsync(key);
        Assert.Equal(1, plane.GetCounters(key)!.NoHealthyBackend);
        Assert.Equal(1, a.Connections);
        Assert.Equal("vmA", await TestNet.RoundTripAsync(established, "after"));
    }
}

public sealed class LoadBalancingTestsOnEpoll() : LoadBalancingTests(SocketEngine.Epoll);

public sealed class LoadBalancingTestsOnDotnet() : LoadBalancingTests(SocketEngine.Dotnet);
