using System.Net;
using System.Text.Json;
using MultiVip.Cli.Infrastructure;
using MultiVip.Cli.Tests.Cli;
using MultiVip.Client;
using MultiVip.Contracts;
using MultiVip.Server.Hosting;

namespace MultiVip.Cli.Tests.Operations;

/// <summary>`multivip backup` while the server serves and writes, `multivip restore` into a new data dir, and a server started there.</summary>
public sealed class BackupRestoreTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "multivip-backup", Guid.NewGuid().ToString("N"));
    private readonly int _octet = Random.Shared.Next(1, 250);

    public BackupRestoreTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>VIPs from .0-.127 of this test's /24; VMs above.</summary>
    private string Pool => $"127.70.{_octet}.0/25";

    private string Vm(int host) => $"127.70.{_octet}.{host}";

    private ServerOptions Options(string dataDir) => new()
    {
        DataDir = dataDir,
        Api = "http://127.0.0.1:0",
        Dns = "off",
        VipPools = [Pool],
        DrainTimeout = TimeSpan.FromSeconds(1),
    };

    [Fact]
    public async Task A_backup_taken_while_serving_restores_into_a_new_data_dir_with_every_resource_and_address()
    {
        var original = Path.Combine(_dir, "original");
        var restored = Path.Combine(_dir, "restored");
        var backup = Path.Combine(_dir, "multivip-backup.db");
        await using var web = EchoBackend.Start(Vm(200), 8080, "web");

        string expected;
        int busyVmsAtBackup;
        await using (var server = await ServerHost.StartAsync(Options(original)))
        {
            using var client = new MultiVipClient(new ClientConnection(server.Api, server.Token), new MultiVipClientOptions { OperationTimeout = TimeSpan.FromSeconds(20) });
            await WalkthroughAsync(client);
            await client.CreateServiceAsync(new CreateServiceRequest { Name = "busy" });

            // A writer keeps committing while the backup runs: the backup must still be one instant.
            using var stopWriting = new CancellationTokenSource();
            var writes = 0;
            var writer = Task.Run(async () =>
            {
                while (!stopWriting.IsCancellationRequested && writes < 40)
                {
                    await client.AddVmAsync("busy", new AddVmRequest { Name = $"vm{writes}", Address = Vm(130 + writes) });
                    writes++;
                }
            });
            while (Volatile.Read(ref writes) < 3)
            {
                await Task.Delay(10);
            }

            expected = Snapshot(server, except: "busy");
            var run = await TestCli.RunAsync(["backup", "--to", backup, "--data-dir", original]);
            Assert.True(run.ExitCode == 0, run.Error);
            Assert.Matches(@"^Backed up 3 cloud services, 2 reserved IPs and \d+ operations to .*multivip-backup\.db \(\d+ bytes\)\.", run.Out);
            await stopWriting.CancelAsync();
            await writer;

            // After the backup: not in it.
            await client.AddVirtualIpAsync("myService", new AddVirtualIpRequest { Name = "VipAfter" });

            // The backup is behind the token, and an existing file is not replaced without --force.
            using (var anonymous = new HttpClient())
            {
                using var response = await anonymous.GetAsync(new Uri(server.Api, ApiRoutes.Backup));
                Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            }

            var again = await TestCli.RunAsync(["backup", "--to", backup, "--data-dir", original]);
            Assert.Equal(ExitCodes.UsageError, again.ExitCode);
            Assert.Contains("exists. Give a new file name, or --force to replace it.", again.Error);
            busyVmsAtBackup = writes;
        }

        var restore = await TestCli.RunAsync(["restore", "--from", backup, "--data-dir", restored]);
        Assert.True(restore.ExitCode == 0, restore.Error);
        Assert.Contains($"Restored 3 cloud services, 2 reserved IPs", restore.Out);
        Assert.Contains($"multivip serve --data-dir {restored}", restore.Out);
        Assert.Equal(new[] { "multivip.db" }, Directory.GetFileSystemEntries(restored).Select(Path.GetFileName));

        await using (var server = await ServerHost.StartAsync(Options(restored)))
        {
            // Everything the backup held, identical, addresses included; nothing made after it.
            Assert.Equal(expected, Snapshot(server, except: "busy"));
            var world = server.Control.Current;
            var deployment = world.Services["myService"].Deployment!;
            Assert.Equal(new[] { "Vip1", "Vip2", "Vip3" }, deployment.VirtualIps.Select(v => v.Name));
            Assert.All(deployment.VirtualIps.Take(2), v => Assert.StartsWith($"127.70.{_octet}.", v.Address));
            Assert.Null(deployment.FindVirtualIp("VipAfter"));
            Assert.Equal(2, world.ReservedIps.Count);

            // The busy service is some prefix of the writer's VMs: never a half-applied commit.
            var busy = world.Services["busy"].Deployment?.VirtualMachines.Select(v => v.Name).ToList() ?? [];
            Assert.InRange(busy.Count, 3, busyVmsAtBackup);
            Assert.Equal(Enumerable.Range(0, busy.Count).Select(i => $"vm{i}"), busy);

            // And the restored server carries traffic on the restored VIP.
            var vip2 = deployment.FindVirtualIp("Vip2")!.Address!;
            Assert.Equal("web", await EchoBackend.HelloAsync(vip2, 80));
        }
    }

    [Fact]
    public async Task Restore_refuses_a_data_dir_that_holds_anything_and_a_file_that_is_not_an_intact_backup()
    {
        var occupied = Path.Combine(_dir, "occupied");
        Directory.CreateDirectory(occupied);
        await File.WriteAllTextAsync(Path.Combine(occupied, "token"), "kept\n");
        var garbage = Path.Combine(_dir, "garbage.db");
        await File.WriteAllTextAsync(garbage, "this is not a database, just text long enough to have a header.......................................\n");

        var busy = await TestCli.RunAsync(["restore", "--from", garbage, "--data-dir", occupied]);
        Assert.Equal(ExitCodes.UsageError, busy.ExitCode);
        Assert.Contains($"The data dir {occupied} is not empty (it holds token): restore writes only into a new or empty directory", busy.Error);
        Assert.Equal("kept\n", await File.ReadAllTextAsync(Path.Combine(occupied, "token")));

        var fresh = Path.Combine(_dir, "fresh");
        var bad = await TestCli.RunAsync(["restore", "--from", garbage, "--data-dir", fresh]);
        Assert.Equal(ExitCodes.UsageError, bad.ExitCode);
        Assert.Contains($"Nothing was restored: {garbage} is not a readable SQLite database", bad.Error);
        Assert.False(Directory.Exists(fresh));

        var missing = await TestCli.RunAsync(["restore", "--from", Path.Combine(_dir, "nope.db"), "--data-dir", fresh]);
        Assert.Equal(ExitCodes.UsageError, missing.ExitCode);
        Assert.Contains("nope.db does not exist", missing.Error);

        // An SQLite file that is not MultiVip's.
        var foreign = Path.Combine(_dir, "foreign.db");
        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={foreign};Pooling=false"))
        {
            await connection.OpenAsync();
            await using var create = connection.CreateCommand();
            create.CommandText = "CREATE TABLE notes(text TEXT)";
            await create.ExecuteNonQueryAsync();
        }

        var wrong = await TestCli.RunAsync(["restore", "--from", foreign, "--data-dir", fresh]);
        Assert.Equal(ExitCodes.UsageError, wrong.ExitCode);
        Assert.Contains("is an SQLite database but not a MultiVip backup", wrong.Error);
        Assert.False(Directory.Exists(fresh));
    }

    /// <summary>The seed's walk-through plus reserved IPs, one of them holding a service's VIP.</summary>
    private async Task WalkthroughAsync(MultiVipClient client)
    {
        await client.CreateServiceAsync(new CreateServiceRequest { Name = "myService", Label = "backed up" });
        await client.AddVmAsync("myService", new AddVmRequest { Name = "myVM1", Address = Vm(200) });
        await client.AddVmAsync("myService", new AddVmRequest { Name = "myVM2", Address = Vm(201) });
        await client.AddVirtualIpAsync("myService", new AddVirtualIpRequest { Name = "Vip2" });
        await client.AddVirtualIpAsync("myService", new AddVirtualIpRequest { Name = "Vip3" });
        await client.AddEndpointAsync("myService", "myVM1", new EndpointRequest { Name = "myEndpoint", Protocol = "tcp", LocalPort = 8080, PublicPort = 80, VirtualIpName = "Vip2" });
        foreach (var vm in new[] { "myVM1", "myVM2" })
        {
            await client.AddEndpointAsync("myService", vm, new EndpointRequest
            {
                Name = "myLBEndpoint", LoadBalancedSetName = "myLBSet", Protocol = "tcp", LocalPort = 8181, PublicPort = 81, VirtualIpName = "Vip2", DefaultProbe = true,
            });
        }

        await client.SetLoadBalancedSetAsync("myService", "myLBSet", new SetLoadBalancedSetRequest { VirtualIpName = "Vip1" });
        await client.CreateServiceAsync(new CreateServiceRequest { Name = "other" });
        await client.AddVmAsync("other", new AddVmRequest { Name = "db", Address = Vm(210) });
        await client.AddEndpointAsync("other", "db", new EndpointRequest { Name = "sql", Protocol = "tcp", LocalPort = 1433, PublicPort = 1433 });
        await client.CreateReservedIpAsync(new CreateReservedIpRequest { Name = "spare", Label = "kept for later" });
        await client.CreateReservedIpAsync(new CreateReservedIpRequest { Name = "otherVip", ServiceName = "other" });
    }

    /// <summary>Every service (deployment, VIPs, VMs, endpoints, versions) and reserved IP, as JSON.</summary>
    private static string Snapshot(RunningServer server, string except)
    {
        var world = server.Control.Current;
        return JsonSerializer.Serialize(
            new
            {
                Services = world.Services.Values.Where(s => s.Name != except).OrderBy(s => s.Name, StringComparer.Ordinal).ToList(),
                ReservedIps = world.ReservedIps.Values.OrderBy(r => r.Name, StringComparer.Ordinal).ToList(),
            },
            new JsonSerializerOptions(ApiJson.Options) { WriteIndented = true });
    }
}
