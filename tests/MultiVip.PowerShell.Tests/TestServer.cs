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

    /// <param name="network">The first two octets of the VIP pool (default 127.105).</param>
    public static async Task<TestServer> StartAsync(string network = "127.105")
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "multivip-ps-tests", Guid.NewGuid().ToString("N"));
        var n = Interlocked.Increment(ref s_pool) % 250;
        var server = await ServerHost.StartAsync(new ServerOptions
        {
            DataDir = dataDir,
            Api = "http://127.0.0.1:0",
            Dns = "off",
            VipPools = [$"{network}.{n}.0/24"],
        });
        return new TestServer(server, dataDir, $"{network}.{n}.");
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
