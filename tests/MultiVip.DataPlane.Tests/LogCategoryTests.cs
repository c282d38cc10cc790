using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Tests.Infrastructure;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Tests;

/// <summary>
/// Every class of the data plane logs under its own category (so `Logging:LogLevel` can turn up
/// probes without turning up every connection), with the event ids and names docs/observability.md
/// lists. The categories are spelled out, not taken from typeof(), because they are what operators
/// filter on.
/// </summary>
public sealed class LogCategoryTests
{
    // 127.75.0.0/16 is this test class's own range, so parallel runs elsewhere never share its VIPs.
    private static readonly int s_octet = Random.Shared.Next(0, 250);
    private static int s_next;

    [Fact]
    public async Task Listeners_connections_probes_and_reconciliation_log_under_their_own_class()
    {
        var time = new FakeTimeProvider();
        var logs = new RecordingLoggerFactory();
        await using var plane = new DataPlaneHost(new DataPlaneOptions(), logs, time);
        var watcher = new ProbeWatcher(plane);

        // A probed member that is down (probe fails, leaves rotation at once with threshold 1), an ACL
        // that denies every IPv4 client, a key listed twice, a key whose port is taken, and a UDP
        // listener denying everyone too.
        await using var down = new TestBackend("vmDown");
        down.Stop();
        var tcp = Key(TransportProtocol.Tcp);
        var denyAll = new[] { TestNet.Rule(100, AclAction.Deny, "0.0.0.0/0") };
        var probed = TestNet.Spec(tcp, down) with { Probe = TestNet.TcpProbe(threshold: 1), Acl = denyAll };
        var taken = Key(TransportProtocol.Tcp);
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        holder.Bind(new IPEndPoint(taken.Address, taken.Port));
        holder.Listen();
        await using var udpBackend = new UdpTestBackend("vmUdp");
        var udp = Key(TransportProtocol.Udp);
        var udpSpec = new ListenerSpec
        {
            Key = udp,
            ServiceName = "svc",
            VirtualIpName = "Vip1",
            Backends = [udpBackend.Spec],
            Acl = denyAll,
        };

        var result = await plane.ApplyAsync(new DesiredState(1, [probed, probed, TestNet.Spec(taken, down), udpSpec]), CancellationToken.None).WaitAsync(TestNet.Timeout);
        Assert.Single(result.Faults);
        Assert.Equal(HealthState.Unhealthy, (await watcher.NextAsync("vmDown")).State);
        await TestNet.AssertConnectionResetAsync(tcp);
        using (var client = new UdpTestClient())
        {
            await client.SendAsync(new IPEndPoint(udp.Address, udp.Port), "hello");
            await logs.WaitForAsync(42);
        }

        await plane.ApplyAsync(new DesiredState(2, []), CancellationToken.None).WaitAsync(TestNet.Timeout);

        const string Tcp = "MultiVip.DataPlane.Tcp.";
        (int Id, string Name, string Category)[] expected =
        [
            (1, "ListenerStarted", Tcp + "TcpDataPlane"),
            (2, "ListenerStopped", Tcp + "TcpDataPlane"),
            (3, "ListenerBindFailed", "MultiVip.DataPlane.Reconciliation.ListenerReconciler"),
            (8, "DuplicateListener", "MultiVip.DataPlane.Reconciliation.ListenerReconciler"),
            (10, "ConnectionDeniedByAcl", Tcp + "VipListener"),
            (20, "BackendHealthChanged", "MultiVip.DataPlane.Routing.RouteController"),
            (21, "ProbeFailed", "MultiVip.DataPlane.Health.HealthMonitor"),
            (40, "UdpListenerStarted", "MultiVip.DataPlane.Udp.UdpDataPlane"),
            (41, "UdpListenerStopped", "MultiVip.DataPlane.Udp.UdpListener"),
            (42, "UdpDatagramDeniedByAcl", "MultiVip.DataPlane.Udp.UdpListener"),
        ];
        foreach (var (id, name, category) in expected)
        {
            var line = Assert.Single(logs.Lines.Where(l => l.Id.Id == id).DistinctBy(l => l.Category));
            Assert.Equal((id, name, category), (line.Id.Id, line.Id.Name, line.Category));
        }
    }

    private static ListenerKey Key(TransportProtocol protocol)
    {
        var n = Interlocked.Increment(ref s_next);
        var address = new IPAddress([127, 75, (byte)s_octet, (byte)n]);
        return new ListenerKey(address, protocol, TestNet.FreePort(address));
    }

    /// <summary>Keeps every line with its category and event id, at every level.</summary>
    private sealed class RecordingLoggerFactory : ILoggerFactory
    {
        private readonly ConcurrentQueue<(string Category, EventId Id)> _lines = new();

        public IReadOnlyList<(string Category, EventId Id)> Lines => [.. _lines];

        public ILogger CreateLogger(string categoryName) => new Recorder(categoryName, _lines);

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }

        /// <summary>Bounded polling for a line written on a socket thread the test cannot await.</summary>
        public async Task WaitForAsync(int eventId)
        {
            var deadline = DateTime.UtcNow + TestNet.Timeout;
            while (!_lines.Any(l => l.Id.Id == eventId))
            {
                Assert.True(DateTime.UtcNow < deadline, $"no log line with event id {eventId}");
                await Task.Delay(10);
            }
        }

        private sealed class Recorder(string category, ConcurrentQueue<(string, EventId)> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                lines.Enqueue((category, eventId));
        }
    }
}
