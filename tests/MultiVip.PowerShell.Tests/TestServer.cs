using MultiVip.Server.Hosting;

namespace MultiVip.PowerShell.Tests;

/// <summary>The real server in-process on 127.0.0.1:0, with its own data dir and VIP pool.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    private static int s_pool = Random.Shared.Next(0, 250);

    private TestServer(RunningServer server, string dataDir, string poolPrefix)
    {
        Server = server;
        DataDir = dataDir;
        PoolPrefix = poolPrefix;
    }

    public RunningServer Server { get; }

    public string DataDir { get; }

    /// <summary>"127.105.N." — every VIP address of this server starts with it.</summary>
    public string PoolPrefix { get; }

    /// <param name="vipPool">A /24 of the caller's own loopback range; by default one of 127.105.0.0/16.</param>
    public static async Task<TestServer> StartAsync(string? vipPool = null)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "multivip-ps-tests", Guid.NewGuid().ToString("N"));
        vipPool ??= $"127.105.{Interlocked.Increment(ref s_pool) % 250}.0/24";
        var server = await ServerHost.StartAsync(new ServerOptions
        {
            DataDir = dataDir,
            Api = "http://127.0.0.1:0",
            Dns = "off",
            VipPools = [vipPool],
        });
        return new TestServer(server, dataDir, vipPool[..(vipPool.LastIndexOf('.') + 1)]);
    }

    public Task<PwshResult> PwshAsync(string script, string? input = null) =>
        Pwsh.RunAsync(script, Server.Api, Server.Token, input);

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
