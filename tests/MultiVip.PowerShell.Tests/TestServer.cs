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

    /// <param name="network">First two octets of the VIP pool (127.105 for the original tests, 127.69 for the newer ones).</param>
    /// <param name="dnsZone">The server's --dns-zone; the default zone when null.</param>
    /// <param name="extraPools">More --vip-pool ranges (an IPv6 one, say), after the server's own IPv4 /24.</param>
    /// <param name="vipPool">A /24 of the caller's own loopback range instead of <paramref name="network"/>'s.</param>
    public static async Task<TestServer> StartAsync(string network = "127.105", string? dnsZone = null, string[]? extraPools = null, string? vipPool = null)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "multivip-ps-tests", Guid.NewGuid().ToString("N"));
        var n = Interlocked.Increment(ref s_pool) % 250;
        var server = await ServerHost.StartAsync(new ServerOptions
        {
            DataDir = dataDir,
            Api = "http://127.0.0.1:0",
            Dns = "off",
            DnsZone = dnsZone ?? ServerOptions.DefaultDnsZone,
            VipPools = [vipPool ?? $"{network}.{n}.0/24", .. extraPools ?? []],
        });
        return new TestServer(server, dataDir, vipPool is null ? $"{network}.{n}." : vipPool[..(vipPool.LastIndexOf('.') + 1)]);
    }

    public Task<PwshResult> PwshAsync(string script, string? input = null) =>
        Pwsh.RunAsync(script, Server.Api, Server.Token, input);

    public Task<PwshResult> PwshAsync(string script, PwshSession session) =>
        Pwsh.RunAsync(script, Server.Api, Server.Token, session);

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
