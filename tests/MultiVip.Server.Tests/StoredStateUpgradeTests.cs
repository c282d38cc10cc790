using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using MultiVip.Contracts;
using MultiVip.Control.State;
using MultiVip.Model.Operations;
using MultiVip.Server.Hosting;

namespace MultiVip.Server.Tests;

/// <summary>
/// A database written by an earlier build must load and be served exactly as that build served it.
/// The fixture (an SQL dump, so it diffs as text) and what the API answered were both written by the
/// build of 2026-12-01 (schema 1, document format 1), before stored documents had their own
/// serialization. To add a fixture for a later format, run the writer below
/// (<c>MULTIVIP_WRITE_STATE_FIXTURE=1 dotnet test --filter FullyQualifiedName~Write_the_fixture</c>),
/// rename its files, and keep the old ones: every shipped format stays loadable.
/// </summary>
public sealed class StoredStateUpgradeTests
{
    /// <summary>The pool the fixture's addresses came from (inside this suite's 127.66.0.0/16).</summary>
    private const string FixturePool = "127.66.1.0/24";

    private const string FixtureDump = "state-schema1-format1.sql";
    private const string FixtureServed = "state-schema1-format1.served.json";

    [Fact]
    public async Task Database_written_by_the_first_format_loads_and_is_served_identically()
    {
        var fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures");
        var expected = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(fixtures, FixtureServed)))!.AsObject();
        var dataDir = Path.Combine(Path.GetTempPath(), "multivip-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dataDir);
        await File.WriteAllTextAsync(Path.Combine(dataDir, DataDirectory.TokenFile), "fixture-token-0123456789abcdef\n");
        File.SetUnixFileMode(Path.Combine(dataDir, DataDirectory.TokenFile), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        await using (var db = new SqliteConnection($"Data Source={Path.Combine(dataDir, SqliteStateStore.FileName)};Pooling=False"))
        {
            await db.OpenAsync();
            await using var load = db.CreateCommand();
            load.CommandText = await File.ReadAllTextAsync(Path.Combine(fixtures, FixtureDump));
            await load.ExecuteNonQueryAsync();
        }

        await using var f = await ServerFixture.StartAsync(dataDir, o => o with { VipPools = [FixturePool] });
        var served = await SnapshotAsync(f, expected.Select(e => e.Key).ToList());
        foreach (var (request, answer) in expected)
        {
            Assert.True(ServedAsBefore(answer, served[request]), $"{request} is served differently now.\nthen: {answer!.ToJsonString()}\nnow:  {served[request]!.ToJsonString()}");
        }

        // Loaded state is live state: a change to it commits and is served.
        await f.SendAsync(HttpMethod.Post, ApiRoutes.VirtualIps("myService"), new AddVirtualIpRequest { Name = "Vip4" });
        var deployment = await f.GetAsync<DeploymentView>(ApiRoutes.Deployment("myService"));
        Assert.Equal(["Vip1", "Vip2", "Vip3", "Vip4"], deployment.VirtualIps.Select(v => v.Name));
    }

    /// <summary>
    /// Writes the fixture from the current build: the seed walk-through with an ACL, an HTTP probe,
    /// a UDP endpoint and reserved IPs, then the SQL dump of the database and every GET answer.
    /// </summary>
    [FixtureWriterFact]
    public async Task Write_the_fixture_from_the_current_build()
    {
        var target = Path.Combine(SourceDirectory(), "Fixtures");
        Directory.CreateDirectory(target);
        var dataDir = Path.Combine(Path.GetTempPath(), "multivip-tests", Guid.NewGuid().ToString("N"));
        List<string> requests;
        JsonObject served;
        // The fixture server deletes its data dir when it stops.
        await using (var f = await ServerFixture.StartAsync(dataDir, o => o with { VipPools = [FixturePool] }))
        {
            await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "myService", Label = "My service", Description = "The seed's walk-through" });
            await f.SendAsync(HttpMethod.Post, ApiRoutes.Vms("myService"), new AddVmRequest { Name = "myVM1", Address = "127.0.0.11" });
            await f.SendAsync(HttpMethod.Post, ApiRoutes.Vms("myService"), new AddVmRequest { Name = "myVM2", Address = "127.0.0.12" });
            await f.SendAsync(HttpMethod.Post, ApiRoutes.VirtualIps("myService"), new AddVirtualIpRequest { Name = "Vip2" });
            await f.SendAsync(HttpMethod.Post, ApiRoutes.VirtualIps("myService"), new AddVirtualIpRequest { Name = "Vip3" });
            await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), new EndpointRequest
            {
                Name = "myEndpoint", Protocol = "tcp", LocalPort = 8080, PublicPort = 80, VirtualIpName = "Vip2",
                Acl =
                [
                    new AclRuleRequest { Order = 100, Action = "permit", RemoteSubnet = "10.0.0.0/8", Description = "office" },
                    new AclRuleRequest { Order = 200, Action = "deny", RemoteSubnet = "0.0.0.0/0" },
                ],
            });
            foreach (var vm in new[] { "myVM1", "myVM2" })
            {
                await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", vm), new EndpointRequest
                {
                    Name = "myLBEndpoint", LoadBalancedSetName = "myLBSet", Protocol = "tcp", LocalPort = 8181, PublicPort = 81,
                    VirtualIpName = "Vip2", Probe = new ProbeRequest { Protocol = "http", Port = 8181, Path = "/health", IntervalInSeconds = 5, TimeoutInSeconds = 11 },
                    Distribution = "sourceIP", IdleTimeoutInMinutes = 10, ProxyProtocol = "v2",
                });
            }

            await f.SendAsync(HttpMethod.Patch, ApiRoutes.LoadBalancedSet("myService", "myLBSet"), new SetLoadBalancedSetRequest { VirtualIpName = "Vip1" });
            await f.SendAsync(HttpMethod.Post, ApiRoutes.ReservedIps, new CreateReservedIpRequest { Name = "myReservedIP", Label = "kept for DNS" });
            await f.SendAsync(HttpMethod.Put, ApiRoutes.ReservedIpAssociation("myReservedIP"), new AssociateReservedIpRequest { ServiceName = "myService", VirtualIpName = "Vip3" });
            await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM2"), new EndpointRequest
            {
                Name = "dns", Protocol = "udp", LocalPort = 5353, PublicPort = 53, VirtualIpName = "Vip3",
            });
            await f.SendAsync(HttpMethod.Post, ApiRoutes.ReservedIps, new CreateReservedIpRequest { Name = "spareIP" });

            var operations = await f.GetAsync<List<Operation>>($"{ApiRoutes.Operations}?limit=1000");
            Assert.All(operations, o => Assert.Equal(OperationStatus.Succeeded, o.OperationStatus));
            requests =
            [
                ApiRoutes.Services,
                ApiRoutes.Service("myService"),
                ApiRoutes.Deployment("myService"),
                ApiRoutes.VirtualIps("myService"),
                ApiRoutes.Vms("myService"),
                ApiRoutes.Vm("myService", "myVM1"),
                ApiRoutes.Vm("myService", "myVM2"),
                ApiRoutes.Endpoints("myService", "myVM1"),
                ApiRoutes.Endpoint("myService", "myVM1", "myEndpoint"),
                ApiRoutes.Endpoint("myService", "myVM2", "dns"),
                ApiRoutes.LoadBalancedSets("myService"),
                ApiRoutes.LoadBalancedSet("myService", "myLBSet"),
                ApiRoutes.ReservedIps,
                ApiRoutes.ReservedIp("myReservedIP"),
                $"{ApiRoutes.Operations}?limit=1000",
                .. operations.Select(o => ApiRoutes.Operation(o.OperationId)),
            ];
            served = await SnapshotAsync(f, requests);

            // Every change is committed (the operations above all Succeeded), so the dump is complete.
            var dump = await RunAsync("sqlite3", Path.Combine(dataDir, SqliteStateStore.FileName), ".dump");
            await File.WriteAllTextAsync(Path.Combine(target, FixtureDump), dump);
        }

        await File.WriteAllTextAsync(Path.Combine(target, FixtureServed), served.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>Each GET's status, ETag and body; live data-plane health is left out (it is not stored state).</summary>
    private static async Task<JsonObject> SnapshotAsync(ServerFixture f, IReadOnlyList<string> requests)
    {
        var snapshot = new JsonObject();
        foreach (var request in requests)
        {
            using var response = await f.Http.GetAsync(request);
            var body = JsonNode.Parse(await response.Content.ReadAsStringAsync());
            if (body is JsonObject obj && request.EndsWith("/deployment", StringComparison.Ordinal))
            {
                obj.Remove("health");
            }

            snapshot[request] = new JsonObject
            {
                ["status"] = (int)response.StatusCode,
                ["etag"] = response.Headers.ETag?.ToString(),
                ["body"] = body,
            };
        }

        return snapshot;
    }

    private static async Task<string> RunAsync(string file, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, UseShellExecute = false })!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.Equal(0, process.ExitCode);
        return output;
    }

    private static string SourceDirectory([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;

    /// <summary>
    /// Everything served then is served the same now: every property and value of <paramref name="then"/>
    /// is in <paramref name="now"/>. Properties the API gained since (a deployment's url, a VIP's
    /// address family, its network state) are additive and do not count as a difference.
    /// </summary>
    private static bool ServedAsBefore(JsonNode? then, JsonNode? now) => (then, now) switch
    {
        (JsonObject a, JsonObject b) => a.All(p => b.ContainsKey(p.Key) && ServedAsBefore(p.Value, b[p.Key])),
        (JsonArray a, JsonArray b) => a.Count == b.Count && a.Zip(b).All(pair => ServedAsBefore(pair.First, pair.Second)),
        _ => JsonNode.DeepEquals(then, now),
    };
}

/// <summary>Runs only when MULTIVIP_WRITE_STATE_FIXTURE=1: it rewrites committed fixture files.</summary>
public sealed class FixtureWriterFactAttribute : FactAttribute
{
    public FixtureWriterFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("MULTIVIP_WRITE_STATE_FIXTURE") != "1")
        {
            Skip = "Writes the state fixture from the current build; set MULTIVIP_WRITE_STATE_FIXTURE=1 to run it.";
        }
    }
}
