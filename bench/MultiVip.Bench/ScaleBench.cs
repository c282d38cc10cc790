using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MultiVip.Client;
using MultiVip.Contracts;

namespace MultiVip.Bench;

internal sealed record ScaleResult(
    int Services,
    int Operations,
    double CreateSeconds,
    double LiveP50Ms,
    double LiveP99Ms,
    double ShowP50Ms,
    double ShowP99Ms,
    int Listeners,
    long RssBytes);

/// <summary>
/// The control plane at scale: N services × 5 VIPs × 20 endpoints, then how long one endpoint change
/// takes to carry live traffic, and how long `deployment show` takes.
/// </summary>
internal static class ScaleBench
{
    private const int SetsPerService = 10;
    private static readonly string[] Vms = ["vm1", "vm2"];

    public static async Task<ScaleResult> RunAsync(string repo, string run, int services, int samples)
    {
        var dataDir = Path.Combine(run, "scale");
        using var server = ManagedProcess.Start("multivip-scale", Lab.ProxyCpu, "dotnet",
        [
            Path.Combine(repo, "artifacts", "multivip", "multivip.dll"), "serve",
            "--data-dir", dataDir, "--api", "http://127.0.0.1:0", "--dns", "off", "--vip-pool", "127.110.0.0/16",
        ]);
        var endpointFile = Path.Combine(dataDir, "endpoint");
        for (var i = 0; !File.Exists(endpointFile); i++)
        {
            if (server.HasExited || i > 600)
            {
                throw new InvalidOperationException("multivip serve (scale) did not start: " + server.Log);
            }

            await Task.Delay(100);
        }

        using var client = new MultiVipClient(ClientConnection.Resolve(null, null, dataDir), new MultiVipClientOptions { OperationTimeout = TimeSpan.FromMinutes(5) });
        var operations = 0;
        var created = Stopwatch.StartNew();
        var names = Enumerable.Range(0, services).Select(i => $"svc{i:D4}").ToArray();
        await Parallel.ForEachAsync(names, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (name, ct) =>
        {
            await client.CreateServiceAsync(new CreateServiceRequest { Name = name }, waitForCompletion: false, cancellationToken: ct);
            // vm1 is the benchmark backend host, so an endpoint to its port 8080 answers.
            await client.AddVmAsync(name, new AddVmRequest { Name = "vm1", Address = Lab.Backend }, waitForCompletion: false, cancellationToken: ct);
            await client.AddVmAsync(name, new AddVmRequest { Name = "vm2", Address = "127.0.0.210" }, waitForCompletion: false, cancellationToken: ct);
            for (var v = 2; v <= 5; v++)
            {
                await client.AddVirtualIpAsync(name, new AddVirtualIpRequest { Name = $"Vip{v}" }, waitForCompletion: false, cancellationToken: ct);
            }

            // 20 endpoints: 10 load-balanced sets of both VMs, two per VIP (one listener per set).
            for (var s = 0; s < SetsPerService; s++)
            {
                foreach (var vm in Vms)
                {
                    await client.AddEndpointAsync(name, vm, new EndpointRequest
                    {
                        Name = $"ep{s}", LoadBalancedSetName = $"set{s}", Protocol = "tcp", LocalPort = 20_000 + s,
                        PublicPort = 1000 + (s % 2), VirtualIpName = $"Vip{(s / 2) + 1}",
                    }, waitForCompletion: s == SetsPerService - 1 && vm == "vm2", cancellationToken: ct);
                }
            }

            Interlocked.Add(ref operations, 1 + 2 + 4 + (2 * SetsPerService));
        });
        created.Stop();

        // deployment show at scale.
        var show = new List<double>();
        for (var i = 0; i < Math.Max(samples * 2, 20); i++)
        {
            var watch = Stopwatch.StartNew();
            await client.GetDeploymentAsync(names[Random.Shared.Next(names.Length)]);
            show.Add(watch.Elapsed.TotalMilliseconds);
        }

        // One endpoint change until it carries traffic: submit, then retry an HTTP request through
        // the new listener until the backend answers.
        var live = new List<double>();
        for (var i = 0; i < samples; i++)
        {
            var name = names[Random.Shared.Next(names.Length)];
            var vip1 = (await client.ListVirtualIpsAsync(name)).Single(v => v.IsDnsProgrammed).Address!;
            var watch = Stopwatch.StartNew();
            await client.AddEndpointAsync(name, "vm1", new EndpointRequest { Name = "live", Protocol = "tcp", LocalPort = 8080, PublicPort = 8080 }, waitForCompletion: false);
            while (!await AnswersAsync(vip1, 8080))
            {
                if (watch.Elapsed > TimeSpan.FromSeconds(30))
                {
                    throw new TimeoutException($"endpoint on {vip1}:8080 not live after 30 s");
                }

                await Task.Delay(1);
            }

            live.Add(watch.Elapsed.TotalMilliseconds);
            await client.RemoveEndpointAsync(name, "vm1", "live");
        }

        return new ScaleResult(services, operations, created.Elapsed.TotalSeconds, Percentile(live, 50), Percentile(live, 99),
            Percentile(show, 50), Percentile(show, 99), services * SetsPerService, server.TreeRssBytes());
    }

    private static async Task<bool> AnswersAsync(string address, int port)
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await socket.ConnectAsync(IPAddress.Parse(address), port, timeout.Token);
            await socket.SendAsync("GET / HTTP/1.0\r\n\r\n"u8.ToArray(), SocketFlags.None, timeout.Token);
            var buffer = new byte[512];
            var total = 0;
            int read;
            while ((read = await socket.ReceiveAsync(buffer.AsMemory(total), SocketFlags.None, timeout.Token)) > 0)
            {
                total += read;
            }

            return Encoding.ASCII.GetString(buffer, 0, total).Contains("hello", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return false;
        }
    }

    public static double Percentile(List<double> values, double p)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToList();
        var rank = (int)Math.Ceiling(p / 100 * sorted.Count) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Count - 1)];
    }
}
