using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using MultiVip.DataPlane;
using MultiVip.DataPlane.Contract;
using MultiVip.Model.Services;

namespace MultiVip.Bench;

/// <summary>One timing or memory bound: what was measured against what it must stay under.</summary>
internal sealed record CheckResult(string Name, string Scenario, string Measured, string Bound, bool Passed, string Test);

/// <summary>
/// `bench/run --checks` (and every full run): the latency and memory bounds the test suite used to
/// assert. On a loaded CI machine a wall-clock bound fails without a bug, so the tests in
/// tests/MultiVip.DataPlane.Tests/Abuse keep only what must always hold (every refusal is a reset,
/// the cap holds, every trickled line is answered...) and the figures are measured here, on the
/// same scenarios, in process on real loopback sockets. Addresses: 127.112.0.0/16 only (VIPs
/// 127.112.0.x, backends 127.112.1.x, UDP flood sources 127.112.16-31.x).
/// </summary>
internal static class Checks
{
    private const string Abuse = "tests/MultiVip.DataPlane.Tests/Abuse/";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private static int s_nextVip;

    public static async Task<IReadOnlyList<CheckResult>> RunAsync()
    {
        var results = new List<CheckResult>();
        foreach (var check in new Func<Task<IEnumerable<CheckResult>>>[] { FloodAsync, StuckBackendAsync, SlowClientsAsync, BlackHoleAsync, AllBlackHolesAsync, UdpFloodAsync, AllocationsAsync })
        {
            foreach (var result in await check())
            {
                results.Add(result);
                Console.WriteLine($"  check {result.Name,-28} {result.Measured,-34} bound {result.Bound,-14} {(result.Passed ? "PASS" : "FAIL")}");
            }
        }

        return results;
    }

    /// <summary>Limit 20, 20 held, 300 connects at once: each extra one is reset without waiting for anything.</summary>
    private static async Task<IEnumerable<CheckResult>> FloodAsync()
    {
        await using var backend = new LineBackend("vm1");
        await using var plane = Plane(new DataPlaneOptions { MaxConnectionsPerListener = 20 });
        var vip = await ListenAsync(plane, backend);
        var held = new List<Socket>();
        for (var i = 0; i < 20; i++)
        {
            var socket = await ConnectAsync(vip);
            await RoundTripAsync(socket, "hello" + i);
            held.Add(socket);
        }

        var clock = Stopwatch.StartNew();
        var refusals = await Task.WhenAll(Enumerable.Range(0, 300).Select(async _ =>
        {
            var started = clock.Elapsed;
            await ResetAsync(vip, send: false);
            return (clock.Elapsed - started).TotalMilliseconds;
        }));
        held.ForEach(s => s.Dispose());
        var slowest = refusals.Max();
        return [new("flood refusal", "listener at its limit of 20, then 300 connects at once", $"slowest {Ms(slowest)}, median {Ms(Percentile(refusals, 0.5))}", "< 2 s", slowest < 2000, "ConnectionFloodTests")];
    }

    /// <summary>200 connections hung on a backend that never answers; another listener's clients are timed.</summary>
    private static async Task<IEnumerable<CheckResult>> StuckBackendAsync()
    {
        await using var silent = new LineBackend("silent", async (socket, _) =>
        {
            var buffer = new byte[4096];
            while (await socket.ReceiveAsync(buffer, SocketFlags.None) > 0)
            {
            }
        });
        await using var healthy = new LineBackend("healthy");
        await using var plane = Plane(new DataPlaneOptions());
        var stuckSpec = Listener([silent.Spec]);
        var okSpec = Listener([healthy.Spec]);
        await ApplyAsync(plane, 1, stuckSpec, okSpec);
        var (stuck, ok) = (EndPoint(stuckSpec), EndPoint(okSpec));
        var sockets = new List<Socket>();
        for (var i = 0; i < 200; i++)
        {
            var socket = await ConnectAsync(stuck);
            await socket.SendAsync(Encoding.ASCII.GetBytes("anyone there?\n"), SocketFlags.None);
            sockets.Add(socket);
        }

        await WaitUntilAsync(() => silent.Connections == 200);
        var p99 = Percentile(await RoundTripsAsync(ok, 50), 0.99);
        sockets.ForEach(s => s.Dispose());
        return [new("stuck backend p99", "50 fresh round trips next to 200 connections hung on another backend", $"p99 {Ms(p99)}", "< 500 ms", p99 < 500, "BadBackendTests")];
    }

    /// <summary>100 silent, 100 half-closed and 40 trickling clients; fresh clients are timed.</summary>
    private static async Task<IEnumerable<CheckResult>> SlowClientsAsync()
    {
        await using var backend = new LineBackend("vm1");
        await using var plane = Plane(new DataPlaneOptions());
        var vip = await ListenAsync(plane, backend);
        var baseline = Percentile(await RoundTripsAsync(vip, 30), 0.99);
        var abusers = new List<Socket>();
        for (var i = 0; i < 200; i++)
        {
            var socket = await ConnectAsync(vip);
            if (i >= 100)
            {
                socket.Shutdown(SocketShutdown.Send);
            }

            abusers.Add(socket);
        }

        using var trickling = new CancellationTokenSource();
        var tricklers = new List<Task>();
        for (var i = 0; i < 40; i++)
        {
            var socket = await ConnectAsync(vip);
            abusers.Add(socket);
            tricklers.Add(TrickleAsync(socket, $"slowline{i}\n", trickling.Token));
        }

        var p99 = Percentile(await RoundTripsAsync(vip, 30), 0.99);
        await trickling.CancelAsync();
        await Task.WhenAll(tricklers);
        abusers.ForEach(s => s.Dispose());
        return [new("slow clients p99", "30 fresh round trips next to 100 silent, 100 half-closed and 40 trickling clients", $"p99 {Ms(p99)} (baseline {Ms(baseline)})", "< 500 ms", p99 < 500, "SlowClientTests")];
    }

    /// <summary>A set of a black hole and a healthy member: clients that try the black hole first wait about one connect timeout.</summary>
    private static async Task<IEnumerable<CheckResult>> BlackHoleAsync()
    {
        var connectTimeout = TimeSpan.FromMilliseconds(300);
        using var hole = await BlackHole.StartAsync();
        await using var healthy = new LineBackend("healthy");
        await using var plane = Plane(new DataPlaneOptions { BackendConnectTimeout = connectTimeout, MaxConnectAttempts = 2 });
        var vip = await ListenAsync(plane, [new BackendSpec("blackhole", "ep-blackhole", hole.Target), healthy.Spec]);
        var slowest = 0.0;
        for (var i = 0; i < 40 && plane.GetTraffic().Single().ConnectFailures < 3; i++)
        {
            var clock = Stopwatch.StartNew();
            using var socket = await ConnectAsync(vip);
            await RoundTripAsync(socket, "who");
            slowest = Math.Max(slowest, clock.Elapsed.TotalMilliseconds);
        }

        var bound = connectTimeout.TotalMilliseconds * 5;
        return [new("black hole failover", "set of a black-holed and a healthy member, connect timeout 300 ms", $"slowest client {Ms(slowest)}", $"< {Ms(bound)}", slowest < bound, "BadBackendTests")];
    }

    /// <summary>Both members black-holed, 2 attempts of 300 ms: the reset comes after both, not much later.</summary>
    private static async Task<IEnumerable<CheckResult>> AllBlackHolesAsync()
    {
        var connectTimeout = TimeSpan.FromMilliseconds(300);
        using var first = await BlackHole.StartAsync();
        using var second = await BlackHole.StartAsync();
        await using var plane = Plane(new DataPlaneOptions { BackendConnectTimeout = connectTimeout, MaxConnectAttempts = 2 });
        var vip = await ListenAsync(plane, [new BackendSpec("bh1", "ep-bh1", first.Target), new BackendSpec("bh2", "ep-bh2", second.Target)]);
        var clients = await Task.WhenAll(Enumerable.Range(0, 10).Select(async _ =>
        {
            var clock = Stopwatch.StartNew();
            await ResetAsync(vip, send: true);
            return clock.Elapsed.TotalMilliseconds;
        }));
        var bound = (connectTimeout * 2 + TimeSpan.FromSeconds(2)).TotalMilliseconds;
        return [new("all black holes reset", "10 clients, both members black-holed, 2 attempts of 300 ms", $"reset after {Ms(clients.Min())} to {Ms(clients.Max())}", $"< {Ms(bound)}", clients.Max() < bound, "BadBackendTests")];
    }

    /// <summary>4,000 UDP sources against a session cap of 256: memory grows by the cap's worth, not the flood's.</summary>
    private static async Task<IEnumerable<CheckResult>> UdpFloodAsync()
    {
        const int Cap = 256;
        const int Sources = 4000;
        const int Batch = 100;
        using var a = new UdpEcho("vmA");
        using var b = new UdpEcho("vmB");
        await using var plane = Plane(new DataPlaneOptions { MaxUdpSessionsPerListener = Cap });
        var vip = NextVip();
        int port;
        using (var free = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            free.Bind(new IPEndPoint(vip, 0));
            port = ((IPEndPoint)free.LocalEndPoint!).Port;
        }

        await ApplyAsync(plane, 1, new ListenerSpec
        {
            Key = new ListenerKey(vip, TransportProtocol.Udp, port),
            ServiceName = "checks",
            VirtualIpName = "Vip1",
            LoadBalancedSetName = "set1",
            Backends = [a.Spec, b.Spec],
        });
        var target = new IPEndPoint(vip, port);
        using var regular = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        regular.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        await AskAsync(regular, target, "warm-up");
        var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        var workingSetBefore = Environment.WorkingSet;

        var payload = Encoding.ASCII.GetBytes("flood");
        for (var start = 0; start < Sources; start += Batch)
        {
            var batch = new List<Socket>(Batch);
            for (var i = start; i < start + Batch; i++)
            {
                var source = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                source.Bind(new IPEndPoint(new IPAddress([127, 112, (byte)(16 + (i / 250)), (byte)((i % 250) + 1)]), 0));
                batch.Add(source);
                await source.SendToAsync(payload, SocketFlags.None, target);
            }

            await AskAsync(regular, target, "still there " + start);
            batch.ForEach(s => s.Dispose());
        }

        var heap = GC.GetTotalMemory(forceFullCollection: true) - heapBefore;
        var workingSet = Environment.WorkingSet - workingSetBefore;
        var udp = plane.GetUdpSessions().Single();
        var scenario = $"session cap {Cap}, {Sources:N0} sources ({udp.SessionsCreated:N0} sessions created, {udp.SessionsEvicted:N0} evicted)";
        return
        [
            new("UDP flood heap", scenario, $"managed heap +{MiB(heap)}", "< 16 MiB", heap < 16L << 20, "UdpFloodTests"),
            new("UDP flood working set", scenario, $"working set +{MiB(workingSet)}", "< 96 MiB", workingSet < 96L << 20, "UdpFloodTests"),
        ];
    }

    /// <summary>
    /// Managed bytes the proxy allocates per proxied connection, on each socket engine: the same
    /// sequential client/backend round trips (connect, one line each way, both FINs) once directly and
    /// once through a VIP; the difference over the count is the proxy's share (the client's and the
    /// backend's own allocations cancel out). Counted with GC.GetTotalAllocatedBytes(precise), every thread.
    /// </summary>
    public static async Task<IEnumerable<CheckResult>> AllocationsAsync()
    {
        const int Count = 3000;
        await using var backend = new LineBackend("vm1");
        var results = new List<CheckResult>();
        var perEngine = new List<(SocketEngine Engine, double Bytes)>();
        foreach (var engine in new[] { SocketEngine.Epoll, SocketEngine.Dotnet })
        {
            await using var plane = Plane(new DataPlaneOptions { SocketEngine = engine });
            var vip = await ListenAsync(plane, backend);
            var direct = backend.Spec.Target;
            await ClosedRoundTripsAsync(direct, 300);
            await ClosedRoundTripsAsync(vip, 300);
            var directBytes = await AllocatedDuringAsync(() => ClosedRoundTripsAsync(direct, Count));
            var proxiedBytes = await AllocatedDuringAsync(() => ClosedRoundTripsAsync(vip, Count));
            perEngine.Add((engine, (proxiedBytes - directBytes) / (double)Count));
        }

        var epoll = perEngine[0].Bytes;
        results.Add(new("allocations per connection", $"{Count:N0} sequential connections (one line each way, both FINs), proxy's share",
            string.Create(CultureInfo.InvariantCulture, $"epoll {epoll:F0} B, dotnet {perEngine[1].Bytes:F0} B"), "epoll < 4 KiB", epoll < 4096, "(bench only)"));
        return results;
    }

    private static async Task<long> AllocatedDuringAsync(Func<Task> work)
    {
        await Task.Delay(200);
        var before = GC.GetTotalAllocatedBytes(precise: true);
        await work();
        // The proxy closes its two sockets just after the client saw the backend's FIN.
        await Task.Delay(200);
        return GC.GetTotalAllocatedBytes(precise: true) - before;
    }

    private static async Task ClosedRoundTripsAsync(IPEndPoint target, int count)
    {
        var buffer = new byte[256];
        var line = Encoding.ASCII.GetBytes("ping\n");
        for (var i = 0; i < count; i++)
        {
            using var socket = await ConnectAsync(target);
            await socket.SendAsync(line, SocketFlags.None);
            while (await socket.ReceiveAsync(buffer, SocketFlags.None) is var read && read > 0 && buffer[read - 1] != (byte)'\n')
            {
            }

            socket.Shutdown(SocketShutdown.Send);
            while (await socket.ReceiveAsync(buffer, SocketFlags.None) > 0)
            {
            }
        }
    }

    private static DataPlaneHost Plane(DataPlaneOptions options) => new(options, NullLoggerFactory.Instance, TimeProvider.System);

    private static IPAddress NextVip() => new([127, 112, 0, (byte)(Interlocked.Increment(ref s_nextVip) % 250 + 1)]);

    private static Task<IPEndPoint> ListenAsync(DataPlaneHost plane, LineBackend backend) => ListenAsync(plane, [backend.Spec]);

    private static async Task<IPEndPoint> ListenAsync(DataPlaneHost plane, IReadOnlyList<BackendSpec> backends)
    {
        var spec = Listener(backends);
        await ApplyAsync(plane, 1, spec);
        return new IPEndPoint(spec.Key.Address, spec.Key.Port);
    }

    /// <summary>A TCP listener on a fresh VIP (port: bind :0 and read it back) in front of <paramref name="backends"/>.</summary>
    private static ListenerSpec Listener(IReadOnlyList<BackendSpec> backends)
    {
        var vip = NextVip();
        int port;
        using (var free = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            free.Bind(new IPEndPoint(vip, 0));
            port = ((IPEndPoint)free.LocalEndPoint!).Port;
        }

        return new ListenerSpec
        {
            Key = new ListenerKey(vip, TransportProtocol.Tcp, port),
            ServiceName = "checks",
            VirtualIpName = "Vip1",
            LoadBalancedSetName = backends.Count > 1 ? "set1" : null,
            Backends = backends,
        };
    }

    private static IPEndPoint EndPoint(ListenerSpec spec) => new(spec.Key.Address, spec.Key.Port);

    private static async Task ApplyAsync(DataPlaneHost plane, long generation, params ListenerSpec[] specs)
    {
        var result = await plane.ApplyAsync(new DesiredState(generation, specs), CancellationToken.None).WaitAsync(Timeout);
        if (result.Faults.Count > 0)
        {
            throw new InvalidOperationException($"checks: the data plane could not start {result.Faults[0].Key}: {result.Faults[0].Message}");
        }
    }

    private static async Task<Socket> ConnectAsync(IPEndPoint target)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(target).WaitAsync(Timeout);
        return socket;
    }

    private static async Task RoundTripAsync(Socket socket, string line)
    {
        await socket.SendAsync(Encoding.ASCII.GetBytes(line + "\n"), SocketFlags.None);
        var buffer = new byte[256];
        var text = new StringBuilder();
        while (!text.ToString().EndsWith('\n'))
        {
            var read = await socket.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(Timeout);
            if (read == 0)
            {
                throw new EndOfStreamException($"checks: the connection closed before the answer to '{line}'");
            }

            text.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }
    }

    /// <summary>Round-trip times of fresh connections, in milliseconds.</summary>
    private static async Task<double[]> RoundTripsAsync(IPEndPoint target, int count)
    {
        var result = new double[count];
        for (var i = 0; i < count; i++)
        {
            var clock = Stopwatch.StartNew();
            using (var socket = await ConnectAsync(target))
            {
                await RoundTripAsync(socket, "ping" + i);
            }

            result[i] = clock.Elapsed.TotalMilliseconds;
        }

        return result;
    }

    /// <summary>Connects (and optionally sends a line) and waits for the reset the listener must answer with.</summary>
    private static async Task ResetAsync(IPEndPoint target, bool send)
    {
        try
        {
            using var socket = await ConnectAsync(target);
            if (send)
            {
                await socket.SendAsync(Encoding.ASCII.GetBytes("hello\n"), SocketFlags.None);
            }

            var buffer = new byte[64];
            while (await socket.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(Timeout) > 0)
            {
            }
        }
        catch (SocketException)
        {
            // The reset (or a refused connect): what is timed is how long it took to come.
        }
    }

    private static async Task TrickleAsync(Socket socket, string line, CancellationToken stop)
    {
        var bytes = Encoding.ASCII.GetBytes(line);
        try
        {
            while (!stop.IsCancellationRequested)
            {
                foreach (var b in bytes)
                {
                    await socket.SendAsync(new[] { b }, SocketFlags.None, stop);
                    await Task.Delay(5, stop);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException)
        {
        }
    }

    /// <summary>UDP may drop a datagram during the flood: asks up to 10 times, as a real client would.</summary>
    private static async Task AskAsync(Socket client, IPEndPoint target, string text)
    {
        var buffer = new byte[1024];
        var reply = client.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0));
        for (var attempt = 0; attempt < 10; attempt++)
        {
            await client.SendToAsync(Encoding.ASCII.GetBytes(text), SocketFlags.None, target);
            var wait = Task.Delay(TimeSpan.FromSeconds(1));
            while (await Task.WhenAny(reply, wait) == reply)
            {
                if (Encoding.ASCII.GetString(buffer, 0, (await reply).ReceivedBytes).EndsWith(":" + text, StringComparison.Ordinal))
                {
                    return;
                }

                reply = client.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0));
            }
        }

        throw new TimeoutException($"checks: no answer to '{text}' through the UDP VIP after 10 tries");
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > Timeout)
            {
                throw new TimeoutException("checks: the scenario did not reach its starting point in 10 s");
            }

            await Task.Delay(5);
        }
    }

    private static double Percentile(double[] values, double p)
    {
        var sorted = values.Order().ToArray();
        return sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
    }

    private static string Ms(double milliseconds) => milliseconds >= 1000
        ? string.Create(CultureInfo.InvariantCulture, $"{milliseconds / 1000:F2} s")
        : string.Create(CultureInfo.InvariantCulture, $"{milliseconds:F1} ms");

    private static string MiB(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0 / 1024.0:F1} MiB");

    /// <summary>A TCP backend on 127.112.1.x: answers each line with "name:line" (or runs its own handler).</summary>
    private sealed class LineBackend : IAsyncDisposable
    {
        private static int s_next;
        private readonly Socket _listener;
        private readonly CancellationTokenSource _stop = new();
        private readonly Func<Socket, CancellationToken, Task> _handler;
        private readonly Task _accepting;
        private int _connections;

        public LineBackend(string name, Func<Socket, CancellationToken, Task>? handler = null)
        {
            Name = name;
            _handler = handler ?? EchoAsync;
            _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            _listener.Bind(new IPEndPoint(new IPAddress([127, 112, 1, (byte)(Interlocked.Increment(ref s_next) % 250 + 1)]), 0));
            _listener.Listen(1024);
            Spec = new BackendSpec(name, "ep-" + name, (IPEndPoint)_listener.LocalEndPoint!);
            _accepting = AcceptAsync();
        }

        public string Name { get; }

        public BackendSpec Spec { get; }

        public int Connections => Volatile.Read(ref _connections);

        private async Task AcceptAsync()
        {
            var connections = new List<Task>();
            while (true)
            {
                Socket socket;
                try
                {
                    socket = await _listener.AcceptAsync(_stop.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    break;
                }

                Interlocked.Increment(ref _connections);
                connections.Add(ServeAsync(socket));
            }

            await Task.WhenAll(connections);
        }

        private async Task ServeAsync(Socket socket)
        {
            using (socket)
            {
                try
                {
                    await _handler(socket, _stop.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                }
            }
        }

        /// <summary>Answers lines; a client that half-closes without a word keeps the backend's side open, as a real server might.</summary>
        private async Task EchoAsync(Socket socket, CancellationToken stop)
        {
            var buffer = new byte[4096];
            var pending = new StringBuilder();
            var talked = false;
            int read;
            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, stop)) > 0)
            {
                talked = true;
                pending.Append(Encoding.ASCII.GetString(buffer, 0, read));
                var text = pending.ToString();
                int newline;
                while ((newline = text.IndexOf('\n', StringComparison.Ordinal)) >= 0)
                {
                    await socket.SendAsync(Encoding.ASCII.GetBytes($"{Name}:{text[..newline]}\n"), SocketFlags.None, stop);
                    text = text[(newline + 1)..];
                }

                pending.Clear().Append(text);
            }

            if (talked)
            {
                socket.Shutdown(SocketShutdown.Send);
                return;
            }

            await Task.Delay(System.Threading.Timeout.Infinite, stop);
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Dispose();
            await _accepting;
            _stop.Dispose();
        }
    }

    /// <summary>A UDP backend on 127.112.1.x answering each datagram with "name:text".</summary>
    private sealed class UdpEcho : IDisposable
    {
        private static int s_next = 200;
        private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);

        public UdpEcho(string name)
        {
            _socket.Bind(new IPEndPoint(new IPAddress([127, 112, 1, (byte)(Interlocked.Increment(ref s_next) % 250 + 1)]), 0));
            Spec = new BackendSpec(name, "ep-" + name, (IPEndPoint)_socket.LocalEndPoint!);
            _ = EchoAsync(name);
        }

        public BackendSpec Spec { get; }

        private async Task EchoAsync(string name)
        {
            var buffer = new byte[2048];
            try
            {
                while (true)
                {
                    var from = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0));
                    await _socket.SendToAsync(Encoding.ASCII.GetBytes($"{name}:{Encoding.ASCII.GetString(buffer, 0, from.ReceivedBytes)}"), SocketFlags.None, from.RemoteEndPoint);
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
            }
        }

        public void Dispose() => _socket.Dispose();
    }

    /// <summary>
    /// A listener whose accept queue is full and never drained: the kernel drops further SYNs, so a
    /// connect to it hangs (a black-holed VM) instead of being refused.
    /// </summary>
    private sealed class BlackHole : IDisposable
    {
        private readonly Socket _listener;
        private readonly List<Socket> _fillers;

        private BlackHole(Socket listener, List<Socket> fillers)
        {
            _listener = listener;
            _fillers = fillers;
            Target = (IPEndPoint)listener.LocalEndPoint!;
        }

        public IPEndPoint Target { get; }

        public static async Task<BlackHole> StartAsync()
        {
            var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(1);
            var fillers = new List<Socket>();
            while (fillers.Count < 16)
            {
                var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    await filler.ConnectAsync(listener.LocalEndPoint!).WaitAsync(TimeSpan.FromMilliseconds(300));
                    fillers.Add(filler);
                }
                catch (TimeoutException)
                {
                    filler.Dispose();
                    return new BlackHole(listener, fillers);
                }
            }

            throw new InvalidOperationException("checks: the black hole's accept queue never filled up");
        }

        public void Dispose()
        {
            _fillers.ForEach(f => f.Dispose());
            _listener.Dispose();
        }
    }
}
