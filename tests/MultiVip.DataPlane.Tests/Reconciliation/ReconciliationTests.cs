using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Tests.Infrastructure;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Tests.Reconciliation;

/// <summary>ApplyAsync semantics: live on return, unchanged listeners untouched, draining, faults and retries.</summary>
public abstract class ReconciliationTests(EngineUnderTest engine)
{
    private static readonly DataPlaneOptions Drain30s = new() { DrainTimeout = TimeSpan.FromSeconds(30) };

    [Fact]
    public async Task Established_connection_survives_unrelated_changes_and_its_backend_removal_until_drain_timeout()
    {
        var time = new FakeTimeProvider();
        await using var old = new TestBackend("vmOld");
        await using var replacement = new TestBackend("vmNew");
        await using var other = new TestBackend("vmOther");
        await using var plane = TestPlane.Create(engine, time, Drain30s);
        var key = TestNet.NextKey();
        var otherKey = TestNet.NextKey();
        var spec = TestNet.Spec(key, old);
        await plane.ApplyOkAsync(1, spec);

        using var client = await TestNet.ConnectAsync(key);
        Assert.Equal("vmOld", await TestNet.RoundTripAsync(client, "1"));

        await plane.ApplyOkAsync(2, spec, TestNet.Spec(otherKey, other));
        Assert.Equal("vmOther", await TestNet.WhichBackendAsync(otherKey));
        Assert.Equal("vmOld", await TestNet.RoundTripAsync(client, "2"));

        await plane.ApplyOkAsync(3, spec);
        Assert.Equal("vmOld", await TestNet.RoundTripAsync(client, "3"));

        // Same key, backend replaced: the socket stays, new flows go to the new backend,
        // the old flow keeps running until the drain timeout.
        await plane.ApplyOkAsync(4, TestNet.Spec(key, replacement));
        Assert.Equal("vmNew", await TestNet.WhichBackendAsync(key));
        Assert.Equal("vmOld", await TestNet.RoundTripAsync(client, "4"));
        time.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal("vmOld", await TestNet.RoundTripAsync(client, "5"));

        time.Advance(TimeSpan.FromSeconds(2));
        await TestNet.AssertResetAsync(client);
        Assert.DoesNotContain(plane.GetHealth(), h => h.VmName == "vmOld");
    }

    [Fact]
    public async Task Acl_change_applies_to_new_connections_only()
    {
        await using var backend = new TestBackend("vm1");
        await using var plane = TestPlane.Create(engine);
        var key = TestNet.NextKey();
        var source = IPAddress.Parse("127.0.0.23");
        await plane.ApplyOkAsync(1, TestNet.Spec(key, backend));
        using var established = await TestNet.ConnectAsync(key, source);
        Assert.Equal("vm1", await TestNet.RoundTripAsync(established, "before"));

        await plane.ApplyOkAsync(2, TestNet.Spec(key, backend) with { Acl = [TestNet.Rule(1, AclAction.Deny, "127.0.0.23/32")] });
        await TestNet.AssertConnectionResetAsync(key, source);
        Assert.Equal("vm1", await TestNet.RoundTripAsync(established, "after"));
        Assert.Equal("vm1", await TestNet.WhichBackendAsync(key, IPAddress.Parse("127.0.0.24")));
    }

    [Fact]
    public async Task Changing_the_probe_port_keeps_members_and_their_connections()
    {
        var time = new FakeTimeProvider();
        await using var a = new TestBackend("vmA");
        await using var b = new TestBackend("vmB");
        await using var plane = TestPlane.Create(engine, time, Drain30s);
        var key = TestNet.NextKey();
        var spec = TestNet.Spec(key, a, b) with { Probe = TestNet.TcpProbe() };
        await plane.ApplyOkAsync(1, spec);
        using var client = await TestNet.ConnectAsync(key);
        var first = await TestNet.RoundTripAsync(client, "1");

        var moved = spec with
        {
            Probe = spec.Probe! with { Port = a.Target.Port },
            Backends = [a.Spec with { ProbeTarget = b.Target }, b.Spec with { ProbeTarget = a.Target }],
        };
        await plane.ApplyOkAsync(2, moved);
        time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(first, await TestNet.RoundTripAsync(client, "2"));
        Assert.Equal(2, plane.GetHealth().Count);
    }

    [Fact]
    public async Task Removed_listener_frees_its_port_at_once_and_drains_its_connections()
    {
        var time = new FakeTimeProvider();
        await using var backend = new TestBackend("vm1");
        await using var plane = TestPlane.Create(engine, time, Drain30s);
        var key = TestNet.NextKey();
        await plane.ApplyOkAsync(1, TestNet.Spec(key, backend));
        using var client = await TestNet.ConnectAsync(key);
        Assert.Equal("vm1", await TestNet.RoundTripAsync(client, "before"));

        await plane.ApplyOkAsync(2);

        // The port can be bound by someone else right away (an LB set moving VIPs)...
        using (var rebind = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            rebind.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            rebind.Bind(new IPEndPoint(key.Address, key.Port));
            rebind.Listen();
        }

        // ...while the established connection keeps flowing until the drain timeout.
        Assert.Equal("vm1", await TestNet.RoundTripAsync(client, "draining"));
        time.Advance(TimeSpan.FromSeconds(31));
        await TestNet.AssertResetAsync(client);
    }

    [Fact]
    public async Task Listener_readded_on_the_same_key_after_removal_serves_again()
    {
        await using var backend = new TestBackend("vm1");
        await using var plane = TestPlane.Create(engine);
        var key = TestNet.NextKey();
        await plane.ApplyOkAsync(1, TestNet.Spec(key, backend));
        await plane.ApplyOkAsync(2);
        await plane.ApplyOkAsync(3, TestNet.Spec(key, backend));
        Assert.Equal("vm1", await TestNet.WhichBackendAsync(key));
    }

    [Fact]
    public async Task Unchanged_listener_keeps_backend_health_and_counters_across_applies()
    {
        await using var backend = new TestBackend("vm1");
        await using var plane = TestPlane.Create(engine);
        var key = TestNet.NextKey();
        var spec = TestNet.Spec(key, backend);
        await plane.ApplyOkAsync(1, spec);
        Assert.Equal("vm1", await TestNet.WhichBackendAsync(key));

        // A fresh but equivalent instance of the same spec.
        await plane.ApplyOkAsync(2, TestNet.Spec(key, backend));
        Assert.Equal(1, Assert.Single(plane.GetHealth()).TotalConnections);
    }

    [Fact]
    public async Task Address_not_on_this_host_is_a_fault_that_says_how_to_fix_it_and_is_retried()
    {
        await using var backend = new TestBackend("vm1");
        await using var plane = TestPlane.Create(engine);
        var good = TestNet.NextKey();
        var foreign = new ListenerKey(IPAddress.Parse("192.0.2.10"), TransportProtocol.Tcp, 8443);

        var result = await plane.ApplyAsync(new DesiredState(1, [TestNet.Spec(good, backend), TestNet.Spec(foreign, backend)]), CancellationToken.None);
        var fault = Assert.Single(result.Faults);
        Assert.Equal(foreign, fault.Key);
        Assert.Equal("svc", fault.ServiceName);
        Assert.Contains("not assigned to any interface", fault.Message, StringComparison.Ordinal);
        Assert.Contains("ip addr add 192.0.2.10/32 dev lo", fault.Message, StringComparison.Ordinal);
        Assert.Contains("127.100.0.0/16", fault.Message, StringComparison.Ordinal);
        Assert.Equal("vm1", await TestNet.WhichBackendAsync(good));

        result = await plane.ApplyAsync(new DesiredState(2, [TestNet.Spec(good, backend), TestNet.Spec(foreign, backend)]), CancellationToken.None);
        Assert.Single(result.Faults);
    }

    [Fact]
    public async Task Port_in_use_is_a_fault_until_it_is_freed()
    {
        await using var backend = new TestBackend("vm1");
        await using var plane = TestPlane.Create(engine);
        var key = TestNet.NextKey();
        var squatter = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        squatter.Bind(new IPEndPoint(key.Address, key.Port));
        squatter.Listen();

        var result = await plane.ApplyAsync(new DesiredState(1, [TestNet.Spec(key, backend)]), CancellationToken.None);
        Assert.Contains("already in use", Assert.Single(result.Faults).Message, StringComparison.Ordinal);

        squatter.Dispose();
        await plane.ApplyOkAsync(2, TestNet.Spec(key, backend));
        Assert.Equal("vm1", await TestNet.WhichBackendAsync(key));
    }

    [Fact]
    public async Task Older_generation_is_a_no_op()
    {
        await using var backend = new TestBackend("vm1");
        await using var plane = TestPlane.Create(engine);
        var key = TestNet.NextKey();
        await plane.ApplyOkAsync(5, TestNet.Spec(key, backend));

        var result = await plane.ApplyAsync(new DesiredState(4, []), CancellationToken.None);
        Assert.Equal(5, result.Generation);
        Assert.Empty(result.Faults);
        Assert.Equal("vm1", await TestNet.WhichBackendAsync(key));
    }

    [Fact]
    public async Task Udp_listeners_are_ignored_without_a_fault()
    {
        await using var backend = new TestBackend("vm1");
        await using var plane = TestPlane.Create(engine);
        var key = TestNet.NextKey() with { Protocol = TransportProtocol.Udp };
        await plane.ApplyOkAsync(1, TestNet.Spec(key, backend));
        await plane.ApplyOkAsync(2, TestNet.Spec(key, backend));
        Assert.Empty(plane.GetHealth());
    }

    [Fact]
    public async Task Concurrent_applies_are_serialized()
    {
        await using var backend = new TestBackend("vm1");
        await using var plane = TestPlane.Create(engine);
        var keys = Enumerable.Range(0, 8).Select(_ => TestNet.NextKey()).ToArray();
        var applies = keys.Select((k, i) => plane.ApplyAsync(new DesiredState(i + 1, [.. keys.Take(i + 1).Select(x => TestNet.Spec(x, backend))]), CancellationToken.None));
        var results = await Task.WhenAll(applies).WaitAsync(TestNet.Timeout);
        Assert.All(results, r => Assert.Empty(r.Faults));

        // Whatever order they ran in, the highest generation is what runs.
        Assert.Equal(8, plane.GetHealth().Count);
    }

    [Fact]
    public async Task Drain_and_stop_lets_connections_finish_then_resets_the_rest()
    {
        var time = new FakeTimeProvider();
        await using var backend = new TestBackend("vm1");
        var plane = TestPlane.Create(engine, time, Drain30s);
        var key = TestNet.NextKey();
        await plane.ApplyOkAsync(1, TestNet.Spec(key, backend));
        using var client = await TestNet.ConnectAsync(key);
        Assert.Equal("vm1", await TestNet.RoundTripAsync(client, "x"));

        var stopping = plane.DrainAndStopAsync(CancellationToken.None);
        Assert.Equal("vm1", await TestNet.RoundTripAsync(client, "still"));
        Assert.False(stopping.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(30));
        await stopping.WaitAsync(TestNet.Timeout);
        await TestNet.AssertResetAsync(client);
        await plane.DisposeAsync();
    }

    [Fact]
    public async Task Dispose_closes_listeners_and_connections()
    {
        await using var backend = new TestBackend("vm1");
        var plane = TestPlane.Create(engine);
        var key = TestNet.NextKey();
        await plane.ApplyOkAsync(1, TestNet.Spec(key, backend));
        using var client = await TestNet.ConnectAsync(key);
        Assert.Equal("vm1", await TestNet.RoundTripAsync(client, "x"));

        await plane.DisposeAsync().AsTask().WaitAsync(TestNet.Timeout);
        await TestNet.AssertClosedAsync(client);
        await Assert.ThrowsAsync<SocketException>(() => TestNet.ConnectAsync(key));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => plane.ApplyAsync(DesiredState.Empty, CancellationToken.None));
    }
}

public sealed class ReconciliationTestsOnEpoll() : ReconciliationTests(SocketEngine.Epoll);

public sealed class ReconciliationTestsOnEpollSpliced() : ReconciliationTests(EngineUnderTest.EpollSpliced);

public sealed class ReconciliationTestsOnDotnet() : ReconciliationTests(SocketEngine.Dotnet);
