using System.Collections.Concurrent;
using System.Diagnostics;
using MultiVip.Client;
using MultiVip.Contracts;
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
        var pool = $"127.{Random.Shared.Next(120, 200)}.0.0/16";
        var acknowledged = new ConcurrentDictionary<Guid, (string Kind, string Service)>();
        var attempted = 0;
        const int cycles = 5;
        try
        {
            for (var cycle = 0; cycle < cycles; cycle++)
            {
                using var server = await ServerProcess.StartAsync(dataDir, pool);
                using var client = server.Client();
                using var stop = new CancellationTokenSource();
                var killAfter = Random.Shared.Next(180, 260);
                var cycleAcks = 0;
                var enough = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                void Acked()
                {
                    if (Interlocked.Increment(ref cycleAcks) == killAfter)
                    {
                        enough.TrySetResult();
                    }
                }

                var writers = Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
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
                            if (!stop.IsCancellationRequested)
                            {
                                output.WriteLine($"cycle {cycle} writer {w}: {e.GetType().Name}: {e.Message}");
                            }

                            return; // the server died under us: this request was never acknowledged
                        }
                    }
                })).ToList();

                // Let a random number of changes through, then pull the plug in the middle of the stream.
                await enough.Task.WaitAsync(TimeSpan.FromSeconds(60));
                output.WriteLine($"cycle {cycle}: killing after {cycleAcks} acknowledged changes");
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
            Assert.True(acknowledged.Count >= 1000, $"only {acknowledged.Count} changes were acknowledged; the test did not exercise the server");
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
}
