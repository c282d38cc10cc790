using System.Collections.Concurrent;
using System.Diagnostics;
using MultiVip.Client;
using MultiVip.Model.Api;
using MultiVip.Model.Operations;
using Xunit.Abstractions;

namespace MultiVip.Cli.Tests.EndToEnd;

/// <summary>
/// Runs `multivip serve` as a real process, streams changes at it, kills it with SIGKILL at a random
/// moment, restarts it, and checks that every change the API acknowledged (answered 202) is there.
/// </summary>
public sealed class CrashDurabilityTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Acknowledged_operations_survive_kill_9()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "multivip-crash", Guid.NewGuid().ToString("N"));
        var pool = $"127.104.{Random.Shared.Next(0, 250)}.0/24";
        var acknowledged = new ConcurrentDictionary<Guid, (string Kind, string Service)>();
        var attempted = 0;
        const int cycles = 3;
        try
        {
            for (var cycle = 0; cycle < cycles; cycle++)
            {
                using var server = await ServerProcess.StartAsync(dataDir, pool);
                using var client = server.Client();
                using var stop = new CancellationTokenSource();
                var killAfter = Random.Shared.Next(20, 80);
                var cycleAcks = 0;
                var enough = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                void Acked()
                {
                    if (Interlocked.Increment(ref cycleAcks) == killAfter)
                    {
                        enough.TrySetResult();
                    }
                }

                var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
                {
                    for (var i = 0; !stop.IsCancellationRequested; i++)
                    {
                        var name = $"c{cycle}w{w}n{i}";
                        Interlocked.Increment(ref attempted);
                        try
                        {
                            var created = await client.CreateServiceAsync(new CreateServiceRequest { Name = name }, waitForCompletion: false);
                            acknowledged[created.OperationId] = ("service", name);
                            Acked();
                            Interlocked.Increment(ref attempted);
                            var vm = await client.AddVmAsync(name, new AddVmRequest { Name = "vm", Address = "127.0.0.20" }, waitForCompletion: false);
                            acknowledged[vm.OperationId] = ("vm", name);
                            Acked();
                        }
                        catch (Exception e) when (e is MultiVipConnectionException or HttpRequestException or MultiVipApiException or TaskCanceledException)
                        {
                            return; // the server died under us: this request was never acknowledged
                        }
                    }
                })).ToList();

                // Let a random number of changes through, then pull the plug in the middle of the stream.
                await enough.Task.WaitAsync(TimeSpan.FromSeconds(60));
                server.Kill();
                await stop.CancelAsync();
                await Task.WhenAll(writers);
            }

            using var final = await ServerProcess.StartAsync(dataDir, pool);
            using var check = final.Client();
            var services = (await check.ListServicesAsync()).ToDictionary(s => s.Name);
            foreach (var (id, (kind, service)) in acknowledged)
            {
                var operation = await check.GetOperationAsync(id);
                Assert.Equal(OperationStatus.Succeeded, operation.OperationStatus);
                Assert.True(services.ContainsKey(service), $"acknowledged {kind} change to {service} is lost");
                if (kind == "vm")
                {
                    Assert.Equal(1, services[service].VmCount);
                }
            }

            // Nothing half-applied: every deployment has its default VIP with a unique address.
            var addresses = new HashSet<string>();
            foreach (var service in services.Values.Where(s => s.VmCount > 0))
            {
                var vip = (await check.ListVirtualIpsAsync(service.Name)).Single();
                Assert.True(vip.IsDnsProgrammed);
                Assert.True(addresses.Add(vip.Address!), $"address {vip.Address} given twice");
            }

            output.WriteLine($"{cycles} kills: {attempted} changes attempted, {acknowledged.Count} acknowledged, {acknowledged.Count} found after restart");
            Assert.True(acknowledged.Count >= 60, $"only {acknowledged.Count} changes were acknowledged; the test did not exercise the server");
        }
        finally
        {
            try
            {
                Directory.Delete(dataDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private sealed class ServerProcess : IDisposable
    {
        private readonly Process _process;

        private ServerProcess(Process process, Uri api, string token)
        {
            _process = process;
            Api = api;
            Token = token;
        }

        public Uri Api { get; }

        public string Token { get; }

        public static async Task<ServerProcess> StartAsync(string dataDir, string pool)
        {
            var endpointFile = Path.Combine(dataDir, "endpoint");
            Directory.CreateDirectory(dataDir);
            File.Delete(endpointFile);
            var cli = Path.Combine(AppContext.BaseDirectory, "multivip.dll");
            var start = new ProcessStartInfo("dotnet")
            {
                ArgumentList = { cli, "serve", "--data-dir", dataDir, "--api", "http://127.0.0.1:0", "--vip-pool", pool, "--dns", "off" },
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            var process = Process.Start(start)!;
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();

            // The endpoint file appears once the API listens.
            var deadline = Stopwatch.StartNew();
            while (!File.Exists(endpointFile))
            {
                Assert.False(process.HasExited, $"multivip serve exited with {(process.HasExited ? process.ExitCode : 0)}");
                Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), "multivip serve did not start within 30 s");
                await Task.Delay(25);
            }

            var api = new Uri((await File.ReadAllTextAsync(endpointFile)).Trim());
            var token = (await File.ReadAllTextAsync(Path.Combine(dataDir, "token"))).Trim();
            return new ServerProcess(process, api, token);
        }

        public MultiVipClient Client() => new(new ClientConnection(Api, Token), new MultiVipClientOptions { OperationTimeout = TimeSpan.FromSeconds(20) });

        /// <summary>SIGKILL: no shutdown code runs.</summary>
        public void Kill()
        {
            _process.Kill();
            _process.WaitForExit();
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit();
            }

            _process.Dispose();
        }
    }
}
