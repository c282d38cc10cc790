using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MultiVip.Cli.Infrastructure;
using MultiVip.Contracts;
using Xunit.Abstractions;

namespace MultiVip.Cli.Tests.EndToEnd;

/// <summary>
/// Hitless restart: a second `multivip serve` on the same data dir takes over the running one's
/// listening sockets (VIP TCP and UDP, the API), the old one drains and exits; real processes, real
/// sockets on 127.115.x.x (docs/operations.md, "Restart and upgrade without dropping connections").
/// </summary>
public sealed class TakeoverTests(ITestOutputHelper output)
{
    /// <summary>Concurrent clients opening connection after connection; as fast as the machine goes.</summary>
    private const int LoadClients = 24;

    [Fact]
    public async Task A_new_server_takes_over_under_load_without_refusing_or_resetting_a_connection()
    {
        var dataDir = NewDataDir();
        var octet = Random.Shared.Next(1, 250);
        var backendAddress = $"127.115.{octet}.11";
        await using var backend = EchoBackend.Start(backendAddress, 8080, "web");
        using var udpBackend = UdpEcho.Start(backendAddress);
        var pool = $"127.115.{(octet + 1) % 250}.0/24";
        using var old = await ServerProcess.StartAsync(dataDir, pool, "--drain-timeout", "60");
        try
        {
            string vip;
            using (var client = old.Client())
            {
                await client.CreateServiceAsync(new CreateServiceRequest { Name = "svc" });
                await client.AddVmAsync("svc", new AddVmRequest { Name = "vm", Address = backendAddress });
                await client.AddEndpointAsync("svc", "vm", new EndpointRequest { Name = "web", Protocol = "tcp", LocalPort = 8080, PublicPort = 80 });
                await client.AddEndpointAsync("svc", "vm", new EndpointRequest { Name = "dgram", Protocol = "udp", LocalPort = udpBackend.Port, PublicPort = 5353 });
                vip = (await client.ListVirtualIpsAsync("svc")).Single().Address!;
            }

            var vipAddress = IPAddress.Parse(vip);
            Assert.Equal("ping", await UdpEcho.AskAsync(vipAddress, 5353, "ping"));

            // Connections of the old server, mid-exchange when the takeover starts.
            var established = new List<(TcpClient Client, StreamReader Reader)>();
            for (var i = 0; i < 8; i++)
            {
                var tcp = new TcpClient();
                await tcp.ConnectAsync(vipAddress, 80);
                var reader = new StreamReader(tcp.GetStream(), Encoding.ASCII);
                Assert.Equal("web", await reader.ReadLineAsync());
                established.Add((tcp, reader));
            }

            using var load = new Load(vipAddress, 80, old.Api, old.Token);
            await load.WaitForAsync(200, TimeSpan.FromSeconds(60));
            var before = load.Attempted;

            var watch = Stopwatch.StartNew();
            using var successor = await ServerProcess.StartAsync(dataDir, pool, "--drain-timeout", "60");
            var served = watch.Elapsed;
            Assert.Equal(old.Api, successor.Api);
            await old.WaitForOutputAsync("handed over to the new server", TimeSpan.FromSeconds(30));
            Assert.False(old.HasExited, "the old server exited while its connections were still open");

            // The old server's connections finish their exchange, after the new one took over.
            foreach (var (tcp, reader) in established)
            {
                await tcp.GetStream().WriteAsync(Encoding.ASCII.GetBytes("still here\n"));
                Assert.Equal("still here", await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10)));
                tcp.Close();
            }

            Assert.Equal(0, await old.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            var handover = watch.Elapsed;
            var during = load.Attempted - before;

            // Some more load on the new server alone, then stop and count.
            await load.WaitForAsync(load.Attempted + 200, TimeSpan.FromSeconds(60));
            var (attempted, failed, apiCalls, apiFailed, errors) = await load.StopAsync();
            output.WriteLine($"connections attempted {attempted} (during the takeover {during}), failed {failed}; API requests {apiCalls}, failed {apiFailed}; " +
                $"successor serving after {served.TotalSeconds:0.0} s, old server exited {handover.TotalSeconds:0.0} s after the successor started");
            Assert.True(failed == 0, $"{failed} of {attempted} connections failed: {string.Join("; ", errors.Take(5))}");
            Assert.True(apiFailed == 0, $"{apiFailed} of {apiCalls} API requests failed: {string.Join("; ", errors.Take(5))}");
            Assert.True(during > 0, "no connection was attempted while the takeover ran");
            Assert.Contains("Took over from the server with PID " + old.Pid, successor.Output);

            // The new server carries the UDP VIP too, and serves changes made after the takeover.
            Assert.Equal("pong", await UdpEcho.AskAsync(vipAddress, 5353, "pong"));
            await using var second = EchoBackend.Start(backendAddress, 8081, "web2");
            using (var client = successor.Client())
            {
                await client.AddEndpointAsync("svc", "vm", new EndpointRequest { Name = "web2", Protocol = "tcp", LocalPort = 8081, PublicPort = 81 });
            }

            Assert.Equal("web2", await EchoBackend.HelloAsync(vip, 81));
            successor.Terminate();
            Assert.Equal(0, await successor.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        }
        finally
        {
            TryDelete(dataDir);
        }
    }

    [Fact]
    public async Task Without_a_takeover_offer_a_second_server_is_refused_as_before()
    {
        var dataDir = NewDataDir();
        var pool = $"127.115.{Random.Shared.Next(1, 250)}.0/24";
        try
        {
            // The running server does not offer: there is no socket, the lock refuses the new one.
            using (var old = await ServerProcess.StartAsync(dataDir, pool, "--no-takeover"))
            {
                Assert.False(File.Exists(Path.Combine(dataDir, "takeover.sock")));
                var (exit, text) = await RunServeAsync(dataDir, pool);
                Assert.Equal(ExitCodes.ServiceError, exit);
                Assert.Contains("is in use by another multivip server", text);
                Assert.Contains("No takeover: no running server offers a takeover", text);
                Assert.False(old.HasExited);
            }

            // The running server offers, the new one is told not to take over: refused too, and it says why.
            using (var old = await ServerProcess.StartAsync(dataDir, pool))
            {
                Assert.True(File.Exists(Path.Combine(dataDir, "takeover.sock")));
                var (exit, text) = await RunServeAsync(dataDir, pool, "--no-takeover");
                Assert.Equal(ExitCodes.ServiceError, exit);
                Assert.Contains("No takeover: this server was started with --no-takeover", text);
                using var client = old.Client();
                Assert.Empty(await client.ListServicesAsync());
            }
        }
        finally
        {
            TryDelete(dataDir);
        }
    }

    private static string NewDataDir() => Path.Combine(Path.GetTempPath(), "mv-takeover", Guid.NewGuid().ToString("N"));

    private static async Task<(int Exit, string Output)> RunServeAsync(string dataDir, string pool, params string[] extra)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in (string[])[Path.Combine(AppContext.BaseDirectory, "multivip.dll"), "serve", "--data-dir", dataDir, "--api", "http://127.0.0.1:0", "--vip-pool", pool, "--dns", "off", .. extra])
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    private static void TryDelete(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>
    /// <see cref="LoadClients"/> loops that each connect to the VIP, read the greeting, echo one line
    /// and close, over and over; and one loop reading the API. Every exception is a failure.
    /// </summary>
    private sealed class Load : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task[] _loops;
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _errors = new();
        private readonly HttpClient _http;
        private long _attempted;
        private long _failed;
        private long _apiCalls;
        private long _apiFailed;

        public Load(IPAddress vip, int port, Uri api, string token)
        {
            _http = new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromSeconds(20) };
            _http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            _loops = [.. Enumerable.Range(0, LoadClients).Select(_ => Task.Run(() => ConnectLoopAsync(vip, port))), Task.Run(ApiLoopAsync)];
        }

        public long Attempted => Interlocked.Read(ref _attempted);

        public async Task WaitForAsync(long attempted, TimeSpan timeout)
        {
            var deadline = Stopwatch.StartNew();
            while (Attempted < attempted)
            {
                Assert.True(deadline.Elapsed < timeout, $"only {Attempted} of {attempted} connections were attempted within {timeout.TotalSeconds:0} s");
                await Task.Delay(20);
            }
        }

        public async Task<(long Attempted, long Failed, long ApiCalls, long ApiFailed, string[] Errors)> StopAsync()
        {
            await _stop.CancelAsync();
            await Task.WhenAll(_loops);
            return (Attempted, Interlocked.Read(ref _failed), Interlocked.Read(ref _apiCalls), Interlocked.Read(ref _apiFailed), [.. _errors]);
        }

        private async Task ConnectLoopAsync(IPAddress vip, int port)
        {
            var buffer = new byte[64];
            var ping = Encoding.ASCII.GetBytes("ping\n");
            while (!_stop.IsCancellationRequested)
            {
                Interlocked.Increment(ref _attempted);
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
                try
                {
                    await socket.ConnectAsync(vip, port, timeout.Token);
                    await ReadLineAsync(socket, buffer, "web", timeout.Token);
                    await socket.SendAsync(ping, SocketFlags.None, timeout.Token);
                    await ReadLineAsync(socket, buffer, "ping", timeout.Token);
                }
                catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
                {
                    Interlocked.Increment(ref _failed);
                    _errors.Enqueue($"connection: {e.GetType().Name} {(e as SocketException)?.SocketErrorCode} {e.Message}");
                }
            }
        }

        private static async Task ReadLineAsync(Socket socket, byte[] buffer, string expected, CancellationToken cancellationToken)
        {
            var length = 0;
            while (length == 0 || buffer[length - 1] != (byte)'\n')
            {
                var n = await socket.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, cancellationToken);
                if (n == 0)
                {
                    throw new IOException($"the connection ended after {length} byte(s), before the line '{expected}'");
                }

                length += n;
            }

            var line = Encoding.ASCII.GetString(buffer, 0, length - 1);
            if (line != expected)
            {
                throw new IOException($"read '{line}' instead of '{expected}'");
            }
        }

        private async Task ApiLoopAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                Interlocked.Increment(ref _apiCalls);
                try
                {
                    using var response = await _http.GetAsync(ApiRoutes.Services);
                    if (!response.IsSuccessStatusCode)
                    {
                        Interlocked.Increment(ref _apiFailed);
                        _errors.Enqueue($"API: {(int)response.StatusCode}");
                    }
                }
                catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
                {
                    Interlocked.Increment(ref _apiFailed);
                    _errors.Enqueue($"API: {e.GetType().Name} {e.Message}");
                }

                try
                {
                    await Task.Delay(10, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _http.Dispose();
            _stop.Dispose();
        }
    }

    /// <summary>A UDP backend that sends each datagram back.</summary>
    private sealed class UdpEcho : IDisposable
    {
        private readonly Socket _socket;
        private readonly Task _loop;

        private UdpEcho(Socket socket)
        {
            _socket = socket;
            _loop = Task.Run(LoopAsync);
        }

        public int Port => ((IPEndPoint)_socket.LocalEndPoint!).Port;

        public static UdpEcho Start(string address)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.Bind(new IPEndPoint(IPAddress.Parse(address), 0));
            return new UdpEcho(socket);
        }

        /// <summary>Sends <paramref name="text"/> to the VIP until an answer comes back (UDP may lose a datagram; bounded).</summary>
        public static async Task<string> AskAsync(IPAddress vip, int port, string text)
        {
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            client.Connect(vip, port);
            var buffer = new byte[256];
            for (var attempt = 0; attempt < 50; attempt++)
            {
                await client.SendAsync(Encoding.ASCII.GetBytes(text), SocketFlags.None);
                using var wait = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
                try
                {
                    var n = await client.ReceiveAsync(buffer, SocketFlags.None, wait.Token);
                    return Encoding.ASCII.GetString(buffer, 0, n);
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException)
                {
                }
            }

            throw new TimeoutException($"no UDP answer from {vip}:{port}");
        }

        private async Task LoopAsync()
        {
            var buffer = new byte[2048];
            var from = new IPEndPoint(IPAddress.Any, 0);
            while (true)
            {
                try
                {
                    var received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, from);
                    await _socket.SendToAsync(buffer.AsMemory(0, received.ReceivedBytes), SocketFlags.None, received.RemoteEndPoint);
                }
                catch (ObjectDisposedException)
                {
                    return;
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.OperationAborted)
                {
                    return;
                }
                catch (SocketException)
                {
                }
            }
        }

        public void Dispose()
        {
            // Ends the loop (ObjectDisposedException or OperationAborted); it holds nothing else.
            _socket.Dispose();
            GC.KeepAlive(_loop);
        }
    }
}
