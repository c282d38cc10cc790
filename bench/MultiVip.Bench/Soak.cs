using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MultiVip.Client;
using MultiVip.Contracts;

namespace MultiVip.Bench;

/// <summary>
/// bench/soak: holds traffic through one VIP for N minutes while the API reconfigures everything
/// around it (endpoints on other VIPs of the same service, VIPs added and removed, a load-balanced
/// set of another service moved between VIPs). The claim under test: a reconfiguration that does
/// not touch a listener never disturbs its connections. Every loop stops at the deadline.
/// </summary>
internal static class Soak
{
    // Loopback only: the echo backend, the churn service's VMs, and the VIP pool.
    private const string BackendAddress = "127.0.0.220";
    private const int BackendPort = 9000;
    private const string ChurnVm1 = "127.0.0.221";
    private const string ChurnVm2 = "127.0.0.222";
    private const string VipPool = "127.111.0.0/24";
    private const int PublicPort = 8000;
    private const int MessageBytes = 64;

    public static async Task<int> RunAsync(string[] args)
    {
        var repo = Path.GetFullPath(Arg(args, "--repo") ?? Directory.GetCurrentDirectory());
        var seconds = Arg(args, "--seconds") is { } s
            ? int.Parse(s, CultureInfo.InvariantCulture)
            : 60 * int.Parse(Arg(args, "--minutes") ?? "5", CultureInfo.InvariantCulture);
        var longLived = int.Parse(Arg(args, "--connections") ?? "200", CultureInfo.InvariantCulture);
        var rate = int.Parse(Arg(args, "--rate") ?? "100", CultureInfo.InvariantCulture);
        var run = Path.Combine(repo, "artifacts", "bench", "soak-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        var dataDir = Path.Combine(run, "data");
        Directory.CreateDirectory(run);

        Console.WriteLine($"soak: {seconds} s, {longLived} long-lived connections, {rate} short connections/s, logs in {run}");
        using var backend = new EchoServer(new IPEndPoint(IPAddress.Parse(BackendAddress), BackendPort));
        using var server = ManagedProcess.Start("multivip", "0-1", "dotnet",
        [
            Path.Combine(repo, "artifacts", "multivip", "multivip.dll"), "serve",
            "--data-dir", dataDir, "--api", "http://127.0.0.1:0", "--dns", "off", "--vip-pool", VipPool,
        ]);
        var stats = new SoakStats();
        try
        {
            await WaitForEndpointFileAsync(server, dataDir);
            using var client = new MultiVipClient(
                ClientConnection.Resolve(null, null, dataDir), new MultiVipClientOptions { OperationTimeout = TimeSpan.FromSeconds(60) });
            var vip = await SetUpAsync(client);
            Console.WriteLine($"soak: traffic VIP {vip}:{PublicPort}, multivip pid {server.Pid}");
            var rssBefore = server.TreeRssBytes();

            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
            var target = new IPEndPoint(vip, PublicPort);
            var holders = Enumerable.Range(0, longLived).Select(i => HoldAsync(target, i, stats, stop.Token)).ToArray();
            var shorts = ShortConnectionsAsync(target, rate, stats, stop.Token);
            var churn = ReconfigureAsync(client, stats, stop.Token);
            var progress = ProgressAsync(stats, server, stop.Token);

            // Every loop ends at the deadline by itself; the extra minute only guards against a hang.
            await Task.WhenAll([.. holders, shorts, churn, progress]).WaitAsync(TimeSpan.FromSeconds(seconds + 60));
            var rssAfter = server.TreeRssBytes();
            return Report(stats, seconds, longLived, rate, rssBefore, rssAfter, server, run);
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine($"soak: FAILED: {ex}");
            File.WriteAllText(Path.Combine(run, "multivip.log"), server.Log);
            return 2;
        }
    }

    /// <summary>
    /// Service "soak" carries the traffic on Vip1; its second VIP "Side" and a second service "churn"
    /// (a two-VM load-balanced set that moves between two VIPs) are what the reconfiguration loop churns.
    /// </summary>
    private static async Task<IPAddress> SetUpAsync(MultiVipClient client)
    {
        await client.CreateServiceAsync(new CreateServiceRequest { Name = "soak" });
        await client.AddVmAsync("soak", new AddVmRequest { Name = "backend", Address = BackendAddress });
        await client.AddEndpointAsync("soak", "backend", new EndpointRequest { Name = "web", Protocol = "tcp", LocalPort = BackendPort, PublicPort = PublicPort });
        await client.AddVirtualIpAsync("soak", new AddVirtualIpRequest { Name = "Side" });

        await client.CreateServiceAsync(new CreateServiceRequest { Name = "churn" });
        await client.AddVmAsync("churn", new AddVmRequest { Name = "c1", Address = ChurnVm1 });
        await client.AddVmAsync("churn", new AddVmRequest { Name = "c2", Address = ChurnVm2 });
        await client.AddVirtualIpAsync("churn", new AddVirtualIpRequest { Name = "Alt" });
        foreach (var vm in new[] { "c1", "c2" })
        {
            await client.AddEndpointAsync("churn", vm, new EndpointRequest
            {
                Name = "lb", Protocol = "tcp", LocalPort = 9100, PublicPort = 9100, LoadBalancedSetName = "lbset",
            });
        }

        var deployment = (await client.GetDeploymentAsync("soak")).Value;
        var address = deployment.VirtualIps.Single(v => v.Name == "Vip1").Address
            ?? throw new InvalidOperationException("Vip1 of service soak has no address");
        var vip = IPAddress.Parse(address);
        await Lab.WaitTcpAsync(address, PublicPort);
        return vip;
    }

    /// <summary>One long-lived connection: a message every 100 ms, each echo checked byte for byte, until the deadline.</summary>
    private static async Task HoldAsync(IPEndPoint target, int index, SoakStats stats, CancellationToken stop)
    {
        // Staggered so 200 connects do not land in the same millisecond.
        await Task.Delay(index * 5, CancellationToken.None);
        Socket socket;
        try
        {
            socket = await ConnectAsync(target);
            Interlocked.Increment(ref stats.Opened);
        }
        catch (Exception ex) when (ex is SocketException or TimeoutException)
        {
            stats.Error($"long-lived connect {index}: {ex.Message}");
            return;
        }

        using (socket)
        {
            var message = new byte[MessageBytes];
            var echo = new byte[MessageBytes];
            for (var n = 0L; !stop.IsCancellationRequested; n++)
            {
                try
                {
                    Fill(message, index, n);
                    await socket.SendAsync(message, SocketFlags.None);
                    await ReceiveExactlyAsync(socket, echo).WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None);
                    if (!message.AsSpan().SequenceEqual(echo))
                    {
                        stats.Dropped($"connection {index}: echo {n} differs from what was sent");
                        return;
                    }

                    Interlocked.Increment(ref stats.Messages);
                }
                catch (Exception ex) when (ex is SocketException or TimeoutException or EndOfStreamException)
                {
                    // The one failure this soak exists to catch: an established connection cut by a reconfiguration.
                    stats.Dropped($"connection {index} after {n} messages: {ex.GetType().Name} {ex.Message}");
                    return;
                }

                try
                {
                    await Task.Delay(100, stop);
                }
                catch (OperationCanceledException)
                {
                }
            }

            // A clean end: FIN, and the backend's FIN back through the proxy.
            try
            {
                socket.Shutdown(SocketShutdown.Send);
                var rest = await socket.ReceiveAsync(echo, SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None);
                if (rest != 0)
                {
                    stats.Dropped($"connection {index}: unexpected bytes after the last echo");
                    return;
                }

                Interlocked.Increment(ref stats.Completed);
            }
            catch (Exception ex) when (ex is SocketException or TimeoutException)
            {
                stats.Dropped($"connection {index} at close: {ex.Message}");
            }
        }
    }

    /// <summary>A steady <paramref name="rate"/> of new connections (one message each), paced on a schedule, at most 256 in flight.</summary>
    private static async Task ShortConnectionsAsync(IPEndPoint target, int rate, SoakStats stats, CancellationToken stop)
    {
        var inFlight = new SemaphoreSlim(256);
        var tasks = new List<Task>();
        var clock = Stopwatch.StartNew();
        for (var n = 0L; !stop.IsCancellationRequested; n++)
        {
            var due = TimeSpan.FromSeconds((double)n / rate);
            if (due > clock.Elapsed)
            {
                try
                {
                    await Task.Delay(due - clock.Elapsed, stop);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }

            if (!await inFlight.WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None))
            {
                stats.Error("short connections: 256 in flight for 10 s");
                break;
            }

            tasks.Add(OneShortAsync(target, n, stats).ContinueWith(_ => inFlight.Release(), TaskScheduler.Default));
            if (tasks.Count > 4096)
            {
                tasks.RemoveAll(t => t.IsCompleted);
            }
        }

        await Task.WhenAll(tasks);
    }

    private static async Task OneShortAsync(IPEndPoint target, long n, SoakStats stats)
    {
        var clock = Stopwatch.StartNew();
        Interlocked.Increment(ref stats.Opened);
        try
        {
            using var socket = await ConnectAsync(target);
            var message = new byte[MessageBytes];
            var echo = new byte[MessageBytes];
            Fill(message, -1, n);
            await socket.SendAsync(message, SocketFlags.None);
            await ReceiveExactlyAsync(socket, echo).WaitAsync(TimeSpan.FromSeconds(10));
            if (!message.AsSpan().SequenceEqual(echo))
            {
                stats.Error($"short connection {n}: echo differs");
                return;
            }

            stats.RecordShort(clock.Elapsed.TotalMilliseconds);
            socket.Shutdown(SocketShutdown.Send);
            await socket.ReceiveAsync(echo, SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(10));
            Interlocked.Increment(ref stats.Completed);
        }
        catch (Exception ex) when (ex is SocketException or TimeoutException or EndOfStreamException)
        {
            stats.Error($"short connection {n}: {ex.GetType().Name} {ex.Message}");
        }
    }

    /// <summary>
    /// One cycle: a side endpoint of the traffic service on its other VIP, a new VIP with an endpoint
    /// on the churn service, the churn set moved to the other VIP, then both removed. Sequential, so
    /// every operation is acknowledged (applied to the data plane) before the next.
    /// </summary>
    private static async Task ReconfigureAsync(MultiVipClient client, SoakStats stats, CancellationToken stop)
    {
        var setOnAlt = false;
        for (var cycle = 0; !stop.IsCancellationRequested; cycle++)
        {
            var steps = new (string What, Func<Task> Do)[]
            {
                ("add side endpoint", () => client.AddEndpointAsync("soak", "backend", new EndpointRequest
                {
                    Name = "side", Protocol = "tcp", LocalPort = BackendPort + 1, PublicPort = 8100 + (cycle % 50), VirtualIpName = "Side",
                })),
                ("add VIP", () => client.AddVirtualIpAsync("churn", new AddVirtualIpRequest { Name = $"Extra{cycle}" })),
                ("add endpoint on new VIP", () => client.AddEndpointAsync("churn", "c1", new EndpointRequest
                {
                    Name = $"x{cycle}", Protocol = "tcp", LocalPort = 9200, PublicPort = 9200, VirtualIpName = $"Extra{cycle}",
                })),
                ("move LB set", () => client.SetLoadBalancedSetAsync("churn", "lbset", new SetLoadBalancedSetRequest
                {
                    VirtualIpName = (setOnAlt = !setOnAlt) ? "Alt" : "Vip1",
                })),
                ("remove endpoint", () => client.RemoveEndpointAsync("churn", "c1", $"x{cycle}")),
                ("remove VIP", () => client.RemoveVirtualIpAsync("churn", $"Extra{cycle}")),
                ("remove side endpoint", () => client.RemoveEndpointAsync("soak", "backend", "side")),
            };
            foreach (var (what, step) in steps)
            {
                // Finish the cycle even past the deadline, so the next run starts from a clean state; stop after it.
                try
                {
                    await step();
                    Interlocked.Increment(ref stats.Reconfigurations);
                }
                catch (Exception ex) when (ex is MultiVipApiException or HttpRequestException or TaskCanceledException)
                {
                    stats.Error($"reconfiguration cycle {cycle} ({what}): {ex.Message}");
                }
            }
        }
    }

    private static async Task ProgressAsync(SoakStats stats, ManagedProcess server, CancellationToken stop)
    {
        var clock = Stopwatch.StartNew();
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(10), stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {clock.Elapsed.TotalSeconds,4:F0} s: opened {stats.Opened}, messages {stats.Messages}, reconfigurations {stats.Reconfigurations}, errors {stats.Errors}, dropped {stats.DroppedCount}, multivip RSS {server.TreeRssBytes() / (1024 * 1024)} MiB"));
        }
    }

    private static int Report(SoakStats stats, int seconds, int longLived, int rate, long rssBefore, long rssAfter, ManagedProcess server, string run)
    {
        var alive = !server.HasExited;
        var (p50, p99, max) = stats.ShortLatency();
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"soak: {seconds} s, {longLived} long-lived connections, {rate} short connections/s");
        text.AppendLine(CultureInfo.InvariantCulture, $"connections opened         {stats.Opened}");
        text.AppendLine(CultureInfo.InvariantCulture, $"connections completed      {stats.Completed}");
        text.AppendLine(CultureInfo.InvariantCulture, $"messages on long-lived     {stats.Messages}");
        text.AppendLine(CultureInfo.InvariantCulture, $"reconfigurations           {stats.Reconfigurations}");
        text.AppendLine(CultureInfo.InvariantCulture, $"errors                     {stats.Errors}");
        text.AppendLine(CultureInfo.InvariantCulture, $"dropped established        {stats.DroppedCount}");
        text.AppendLine(CultureInfo.InvariantCulture, $"short connection latency   p50 {p50:F2} ms, p99 {p99:F2} ms, max {max:F2} ms");
        text.AppendLine(CultureInfo.InvariantCulture, $"multivip RSS               {rssBefore / (1024 * 1024)} MiB -> {rssAfter / (1024 * 1024)} MiB");
        text.AppendLine(CultureInfo.InvariantCulture, $"multivip still running     {(alive ? "yes" : "NO")}");
        foreach (var problem in stats.FirstProblems())
        {
            text.AppendLine("  " + problem);
        }

        var ok = stats.DroppedCount == 0 && stats.Errors == 0 && alive;
        text.AppendLine(ok ? "soak: PASS" : "soak: FAIL");
        Console.Write(text);
        File.WriteAllText(Path.Combine(run, "report.txt"), text.ToString());
        File.WriteAllText(Path.Combine(run, "multivip.log"), server.Log);
        return ok ? 0 : 1;
    }

    private static async Task WaitForEndpointFileAsync(ManagedProcess server, string dataDir)
    {
        var endpointFile = Path.Combine(dataDir, "endpoint");
        for (var i = 0; !File.Exists(endpointFile); i++)
        {
            if (server.HasExited || i > 600)
            {
                throw new InvalidOperationException("multivip serve did not start: " + server.Log);
            }

            await Task.Delay(100);
        }
    }

    private static async Task<Socket> ConnectAsync(IPEndPoint target)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(target).WaitAsync(TimeSpan.FromSeconds(10));
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static async Task ReceiveExactlyAsync(Socket socket, byte[] buffer)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None);
            if (n == 0)
            {
                throw new EndOfStreamException($"FIN after {read} of {buffer.Length} bytes");
            }

            read += n;
        }
    }

    /// <summary>Content unique per connection and message, so a crossed or stale echo is caught.</summary>
    private static void Fill(byte[] message, int connection, long n)
    {
        var text = string.Create(CultureInfo.InvariantCulture, $"{connection}:{n}:");
        for (var i = 0; i < message.Length; i++)
        {
            message[i] = i < text.Length ? (byte)text[i] : (byte)('a' + ((i + n) % 26));
        }
    }

    private static string? Arg(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }
}

/// <summary>Counters shared by the soak's loops; problems keep their first few messages for the report.</summary>
internal sealed class SoakStats
{
    public long Opened;
    public long Completed;
    public long Messages;
    public long Reconfigurations;
    private readonly List<double> _shortMs = [];
    private readonly List<string> _problems = [];
    private long _errors;
    private long _dropped;

    public long Errors => Interlocked.Read(ref _errors);

    public long DroppedCount => Interlocked.Read(ref _dropped);

    public void Error(string message)
    {
        Interlocked.Increment(ref _errors);
        Keep("error: " + message);
    }

    public void Dropped(string message)
    {
        Interlocked.Increment(ref _dropped);
        Keep("dropped: " + message);
    }

    public void RecordShort(double milliseconds)
    {
        lock (_shortMs)
        {
            _shortMs.Add(milliseconds);
        }
    }

    public (double P50, double P99, double Max) ShortLatency()
    {
        lock (_shortMs)
        {
            if (_shortMs.Count == 0)
            {
                return (0, 0, 0);
            }

            var sorted = _shortMs.Order().ToArray();
            return (At(sorted, 0.50), At(sorted, 0.99), sorted[^1]);
        }
    }

    public IReadOnlyList<string> FirstProblems()
    {
        lock (_problems)
        {
            return [.. _problems];
        }
    }

    private static double At(double[] sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

    private void Keep(string message)
    {
        lock (_problems)
        {
            if (_problems.Count < 20)
            {
                _problems.Add(message);
            }
        }
    }
}

/// <summary>The soak's backend: echoes every byte back until the client's FIN, then sends its own.</summary>
internal sealed class EchoServer : IDisposable
{
    private readonly Socket _listener;

    public EchoServer(IPEndPoint at)
    {
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Bind(at);
        _listener.Listen(4096);
        _ = AcceptLoopAsync();
    }

    public void Dispose() => _listener.Dispose();

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync();
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = EchoAsync(socket);
        }
    }

    private static async Task EchoAsync(Socket socket)
    {
        using (socket)
        {
            var buffer = new byte[4096];
            try
            {
                int read;
                while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None)) > 0)
                {
                    await socket.SendAsync(buffer.AsMemory(0, read), SocketFlags.None);
                }

                socket.Shutdown(SocketShutdown.Send);
            }
            catch (SocketException)
            {
                // The proxy reset it; the client side of the soak records what it saw.
            }
        }
    }
}
