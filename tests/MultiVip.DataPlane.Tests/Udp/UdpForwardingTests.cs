using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Tests.Infrastructure;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Tests.Udp;

/// <summary>Real datagrams on loopback through a UDP VIP; probe and idle time driven by a fake clock where it matters.</summary>
public sealed class UdpForwardingTests
{
    private static DataPlaneHost Plane(TimeProvider? time = null, DataPlaneOptions? options = null) =>
        new(options ?? new DataPlaneOptions(), NullLoggerFactory.Instance, time ?? TimeProvider.System);

    private static ListenerKey UdpKey()
    {
        var vip = TestNet.NextVip();
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        probe.Bind(new IPEndPoint(vip, 0));
        return new ListenerKey(vip, TransportProtocol.Udp, ((IPEndPoint)probe.LocalEndPoint!).Port);
    }

    private static ListenerSpec Spec(ListenerKey key, LoadBalancerProbe? probe, params UdpTestBackend[] backends) => new()
    {
        Key = key,
        ServiceName = "svc",
        VirtualIpName = "Vip1",
        LoadBalancedSetName = backends.Length > 1 ? "set1" : null,
        Backends = [.. backends.Select(b => b.Spec)],
        Probe = probe,
    };

    private static async Task ApplyOkAsync(DataPlaneHost plane, long generation, params ListenerSpec[] specs)
    {
        var result = await plane.ApplyAsync(new DesiredState(generation, specs), CancellationToken.None).WaitAsync(TestNet.Timeout);
        Assert.Empty(result.Faults);
    }

    private static IPEndPoint At(ListenerKey key) => new(key.Address, key.Port);

    private static long Sessions(DataPlaneHost plane, ListenerKey key, string vm) =>
        plane.GetHealth().Single(h => h.Listener == key && h.VmName == vm).ActiveConnections;

    [Fact]
    public async Task Five_tuple_spreads_client_ports_across_backends_and_replies_come_from_the_vip()
    {
        await using var a = new UdpTestBackend("vmA");
        await using var b = new UdpTestBackend("vmB");
        await using var plane = Plane();
        var key = UdpKey();
        await ApplyOkAsync(plane, 1, Spec(key, null, a, b));

        var seen = new Dictionary<string, int>();
        var clients = new List<UdpTestClient>();
        for (var i = 0; i < 24; i++)
        {
            // Kept open to the end so no two clients share a source port (one 5-tuple, one session).
            var client = new UdpTestClient();
            clients.Add(client);
            var (backend, from) = await client.AskAsync(At(key), "hello" + i);
            Assert.Equal(At(key), from);
            seen[backend] = seen.GetValueOrDefault(backend) + 1;

            // The session sticks: the same client port keeps its backend.
            Assert.Equal(backend, (await client.AskAsync(At(key), "again")).Backend);
        }

        Assert.Equal(["vmA", "vmB"], seen.Keys.Order());
        var counters = plane.Udp.GetCounters(key)!.Value;
        Assert.Equal(24, counters.Sessions);
        Assert.Equal(24, Sessions(plane, key, "vmA") + Sessions(plane, key, "vmB"));
        Assert.Equal(48, Interlocked.Read(ref counters.Counters.DatagramsIn));
        clients.ForEach(c => c.Dispose());
    }

    [Fact]
    public async Task Source_ip_mode_keeps_every_port_of_a_client_address_on_one_backend()
    {
        await using var a = new UdpTestBackend("vmA");
        await using var b = new UdpTestBackend("vmB");
        await using var plane = Plane();
        var key = UdpKey();
        await ApplyOkAsync(plane, 1, Spec(key, null, a, b) with { Distribution = LoadBalancerDistribution.SourceIP });

        var octet = (byte)Random.Shared.Next(1, 250);
        var perAddress = new HashSet<string>();
        for (var host = 1; host <= 16; host++)
        {
            var source = new IPAddress([127, 77, octet, (byte)host]);
            var backends = new HashSet<string>();
            for (var port = 0; port < 4; port++)
            {
                using var client = new UdpTestClient(source);
                backends.Add((await client.AskAsync(At(key), $"{host}-{port}")).Backend);
            }

            Assert.Single(backends);
            perAddress.Add(backends.Single());
        }

        Assert.Equal(2, perAddress.Count);
    }

    [Fact]
    public async Task Sessions_on_a_backend_that_turns_unhealthy_are_dropped_at_once_and_move()
    {
        var time = new FakeTimeProvider();
        await using var a = new UdpTestBackend("vmA");
        await using var b = new UdpTestBackend("vmB");
        await using var plane = Plane(time);
        var watcher = new ProbeWatcher(plane);
        var key = UdpKey();
        await ApplyOkAsync(plane, 1, Spec(key, TestNet.TcpProbe(threshold: 2), a, b));
        Assert.Equal(HealthState.Healthy, (await watcher.NextAsync("vmA")).State);
        Assert.Equal(HealthState.Healthy, (await watcher.NextAsync("vmB")).State);

        // Clients until both backends carry sessions.
        var clients = new List<(UdpTestClient Client, string Backend)>();
        while (clients.Count < 40 && clients.Select(c => c.Backend).Distinct().Count() < 2)
        {
            var client = new UdpTestClient();
            clients.Add((client, (await client.AskAsync(At(key), "first")).Backend));
        }

        Assert.True(Sessions(plane, key, "vmA") > 0 && Sessions(plane, key, "vmB") > 0);

        // vmA's probe port dies while its UDP service still answers: only the probe may decide.
        a.Probe.Stop();
        for (var i = 0; i < 2; i++)
        {
            time.Advance(TimeSpan.FromSeconds(5));
            await watcher.NextAsync("vmB");
            var observation = await watcher.NextAsync("vmA");
            Assert.False(observation.Success);
        }

        Assert.Equal(HealthState.Unhealthy, plane.GetHealth().Single(h => h.VmName == "vmA").State);
        Assert.Equal(0, Sessions(plane, key, "vmA"));
        var moved = clients.Count(c => c.Backend == "vmA");
        Assert.Equal(moved, Interlocked.Read(ref plane.Udp.GetCounters(key)!.Value.Counters.SessionsMoved));

        // Every client, on its same socket, is now answered by vmB.
        foreach (var (client, _) in clients)
        {
            Assert.Equal("vmB", (await client.AskAsync(At(key), "after")).Backend);
            client.Dispose();
        }

        Assert.Equal(clients.Count, Sessions(plane, key, "vmB"));
    }

    [Fact]
    public async Task Removing_a_backend_from_the_set_drops_its_sessions()
    {
        await using var a = new UdpTestBackend("vmA");
        await using var b = new UdpTestBackend("vmB");
        await using var plane = Plane();
        var key = UdpKey();
        await ApplyOkAsync(plane, 1, Spec(key, null, a, b));
        var clients = new List<UdpTestClient>();
        for (var i = 0; i < 16; i++)
        {
            var client = new UdpTestClient();
            await client.AskAsync(At(key), "x");
            clients.Add(client);
        }

        await ApplyOkAsync(plane, 2, Spec(key, null, b));
        Assert.Equal(16, plane.Udp.GetCounters(key)!.Value.Sessions + Interlocked.Read(ref plane.Udp.GetCounters(key)!.Value.Counters.SessionsMoved));
        Assert.DoesNotContain(plane.GetHealth(), h => h.VmName == "vmA");
        foreach (var client in clients)
        {
            Assert.Equal("vmB", (await client.AskAsync(At(key), "y")).Backend);
            client.Dispose();
        }
    }

    [Fact]
    public async Task Idle_sessions_expire_after_the_endpoint_idle_timeout()
    {
        var time = new FakeTimeProvider();
        await using var a = new UdpTestBackend("vmA");
        await using var plane = Plane(time);
        var key = UdpKey();
        await ApplyOkAsync(plane, 1, Spec(key, null, a) with { IdleTimeout = TimeSpan.FromMinutes(4) });
        using var client = new UdpTestClient();
        await client.AskAsync(At(key), "x");
        Assert.Equal(1, plane.Udp.GetCounters(key)!.Value.Sessions);

        time.Advance(TimeSpan.FromMinutes(3));
        Assert.Equal(1, plane.Udp.GetCounters(key)!.Value.Sessions);

        time.Advance(TimeSpan.FromMinutes(2));
        var counters = plane.Udp.GetCounters(key)!.Value;
        Assert.Equal(0, counters.Sessions);
        Assert.Equal(1, Interlocked.Read(ref counters.Counters.SessionsExpired));
        Assert.Equal(0, Sessions(plane, key, "vmA"));

        // The client's next datagram simply opens a new session.
        Assert.Equal("vmA", (await client.AskAsync(At(key), "y")).Backend);
        Assert.Equal(2, Interlocked.Read(ref counters.Counters.SessionsCreated));
    }

    [Fact]
    public async Task Full_session_table_evicts_the_least_recently_used_session()
    {
        await using var a = new UdpTestBackend("vmA");
        await using var plane = Plane(options: new DataPlaneOptions { MaxUdpSessionsPerListener = 2 });
        var key = UdpKey();
        await ApplyOkAsync(plane, 1, Spec(key, null, a));
        using var first = new UdpTestClient();
        using var second = new UdpTestClient();
        using var third = new UdpTestClient();
        await first.AskAsync(At(key), "1");
        await second.AskAsync(At(key), "2");
        await first.AskAsync(At(key), "1 again"); // second is now the least recently used

        await third.AskAsync(At(key), "3");
        var counters = plane.Udp.GetCounters(key)!.Value;
        Assert.Equal(2, counters.Sessions);
        Assert.Equal(1, Interlocked.Read(ref counters.Counters.SessionsEvicted));

        // first kept its session; second needs a new one (evicting first, now the oldest).
        await first.AskAsync(At(key), "1 still");
        Assert.Equal(3, Interlocked.Read(ref counters.Counters.SessionsCreated));
        await second.AskAsync(At(key), "2 back");
        Assert.Equal(4, Interlocked.Read(ref counters.Counters.SessionsCreated));
        Assert.Equal(2, plane.Udp.GetCounters(key)!.Value.Sessions);
    }

    [Fact]
    public async Task Acl_is_checked_on_the_first_datagram_of_a_session()
    {
        await using var a = new UdpTestBackend("vmA");
        await using var plane = Plane();
        var key = UdpKey();
        var octet = (byte)Random.Shared.Next(1, 250);
        await ApplyOkAsync(plane, 1, Spec(key, null, a) with { Acl = [TestNet.Rule(1, AclAction.Permit, $"127.78.{octet}.0/24")] });

        using var denied = new UdpTestClient(IPAddress.Loopback);
        await denied.SendAsync(At(key), "let me in");
        using var allowed = new UdpTestClient(new IPAddress([127, 78, octet, 9]));

        // One receive loop handles datagrams in order: once the allowed one is answered, the denied one was dropped.
        Assert.Equal("vmA", (await allowed.AskAsync(At(key), "hi")).Backend);
        var counters = plane.Udp.GetCounters(key)!.Value;
        Assert.Equal(1, Interlocked.Read(ref counters.Counters.DeniedByAcl));
        Assert.Equal(1, counters.Sessions);
    }

    [Fact]
    public async Task Udp_and_tcp_listeners_share_a_vip_and_port_and_removal_frees_the_udp_port()
    {
        await using var a = new UdpTestBackend("vmA");
        await using var plane = Plane();
        var key = UdpKey();
        var tcpKey = key with { Protocol = TransportProtocol.Tcp };
        await using var web = new TestBackend("web");
        await ApplyOkAsync(plane, 1, Spec(key, null, a), TestNet.Spec(tcpKey, web));
        using var client = new UdpTestClient();
        Assert.Equal("vmA", (await client.AskAsync(At(key), "u")).Backend);
        Assert.Equal("web", await TestNet.WhichBackendAsync(tcpKey));

        await ApplyOkAsync(plane, 2, TestNet.Spec(tcpKey, web));
        Assert.Null(plane.Udp.GetCounters(key));
        using var rebind = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        rebind.Bind(At(key));
    }
}
