using System.Net;
using System.Text.Json;
using MultiVip.Contracts;

namespace MultiVip.Server.Tests;

/// <summary>
/// The disk holding the data dir fills up while the server runs: a change is refused with 507 and a
/// message that names the disk, nothing is half-made, and the next change after space returns works.
/// The data dir lives on a small tmpfs of the test's own, filled to the last byte.
/// </summary>
public sealed class StorageFullTests
{
    [RequiresRootFact]
    public async Task Change_on_a_full_disk_answers_507_and_the_next_one_after_space_returns_works()
    {
        using var disk = Tmpfs.Mount(4096);
        var dataDir = Path.Combine(disk.Path, "data");
        await using var f = await ServerFixture.StartAsync(dataDir, o => o with { VipPools = ["127.63.10.0/24"] });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "before" });

        disk.Fill();
        Assert.Equal(0, disk.AvailableBytes);
        using (var full = await f.SendRawAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "during" }))
        {
            var text = await full.Content.ReadAsStringAsync();
            Assert.True(full.StatusCode == HttpStatusCode.InsufficientStorage, $"{(int)full.StatusCode}: {text}");
            var body = JsonSerializer.Deserialize<ErrorBodyDto>(text, ApiJson.Options)!;
            Assert.Equal("InsufficientStorage", body.Code);
            Assert.Contains($"the disk holding {dataDir} is full", body.Message, StringComparison.OrdinalIgnoreCase);
        }

        Assert.DoesNotContain("during", await NamesAsync(f));

        disk.Free();
        var after = await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "after" });
        Assert.Equal(Model.Operations.OperationStatus.Succeeded, after.OperationStatus);
        Assert.Equal(["after", "before"], await NamesAsync(f));

        // What was acknowledged is on disk, and nothing else.
        await f.RestartAsync();
        Assert.Equal(["after", "before"], await NamesAsync(f));
    }

    private static async Task<List<string>> NamesAsync(ServerFixture f) =>
        (await f.GetAsync<List<ServiceView>>(ApiRoutes.Services)).Select(s => s.Name).Order(StringComparer.Ordinal).ToList();
}

/// <summary>The token and endpoint writes at start on a disk with no room left: one sentence, no temp file.</summary>
public sealed class DataDirectoryFullDiskTests
{
    [RequiresRootFact]
    public void Token_and_endpoint_writes_on_a_full_disk_say_so_and_leave_no_temp_file()
    {
        using var disk = Tmpfs.Mount(1024);
        var dataDir = Path.Combine(disk.Path, "data");
        using var directory = MultiVip.Server.Hosting.DataDirectory.Open(dataDir);
        disk.Fill();

        var token = Assert.ThrowsAny<Exception>(() => directory.LoadOrCreateToken());
        Assert.Contains($"the disk holding {dataDir} is full", token.Message, StringComparison.OrdinalIgnoreCase);
        Assert.False(File.Exists(Path.Combine(dataDir, "token.tmp")), "token.tmp was left behind");
        Assert.False(File.Exists(Path.Combine(dataDir, "token")), "a token file was left behind");

        var endpoint = Assert.ThrowsAny<Exception>(() => directory.WriteEndpoint("http://127.63.0.1:7400"));
        Assert.Contains($"the disk holding {dataDir} is full", endpoint.Message, StringComparison.OrdinalIgnoreCase);
        Assert.False(File.Exists(Path.Combine(dataDir, "endpoint.tmp")), "endpoint.tmp was left behind");

        disk.Free();
        Assert.Equal(directory.LoadOrCreateToken(), File.ReadAllText(Path.Combine(dataDir, "token")).Trim());
    }
}
