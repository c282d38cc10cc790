using System.Net;
using MultiVip.Client;
using MultiVip.TestSupport.Network;

namespace MultiVip.TestSupport.Postgres;

/// <summary>
/// One `multivip serve` node of several sharing a PostgreSQL store: it runs in a network namespace
/// of its own (so every node binds the same VIP addresses and reaches its own backends there), with
/// its own data dir, the shared API token file and <c>--node-name</c>. Its API listens on the
/// namespace's loopback; a relay on <see cref="RelayAddress"/> (host loopback) reaches it from
/// outside. Used by the three-node tests and by <c>bench/run --cluster</c>.
/// </summary>
public sealed class PostgresNode(string name, NetworkNamespace ns, string cli, string dataDir, IPAddress relayAddress, string store, string vipPool, string tokenFile)
    : IAsyncDisposable
{
    private NamespaceRelay? _relay;

    public string Name { get; } = name;

    public NetworkNamespace Ns { get; } = ns;

    public string DataDir { get; } = dataDir;

    public IPAddress RelayAddress { get; } = relayAddress;

    public NamespaceProcess? Process { get; private set; }

    /// <summary>The API as the host sees it (through the relay); valid after <see cref="StartAsync"/>.</summary>
    public Uri Api => new($"http://{_relay?.LocalEndPoint ?? throw new InvalidOperationException($"node {Name} is not started")}");

    public string Token => File.ReadAllText(tokenFile).Trim();

    /// <summary>
    /// Writes a fresh API token into <paramref name="path"/> for every node's <c>--token-file</c>
    /// (one token for the whole cluster, as docs/cluster.md sets it up).
    /// </summary>
    public static void WriteToken(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24)) + "\n");
    }

    /// <summary>Starts (or starts again) the node and waits until its API answers (bounded by 90 s).</summary>
    public async Task StartAsync()
    {
        Directory.CreateDirectory(DataDir);
        var endpointFile = Path.Combine(DataDir, "endpoint");
        File.Delete(endpointFile);
        Process = Ns.Start("dotnet", [
            cli, "serve", "--store", store, "--node-name", Name, "--data-dir", DataDir, "--token-file", tokenFile,
            "--api", "http://127.0.0.1:0", "--dns", "off", "--allowed-host", RelayAddress.ToString(), "--vip-pool", vipPool, "--drain-timeout", "1",
        ]);
        var process = Process;
        await Eventually.TrueAsync(
            () => process.HasExited
                ? throw new InvalidOperationException($"multivip serve (node {Name}) exited with {process.ExitCode}:\n{process.Output}")
                : Task.FromResult(File.Exists(endpointFile)),
            TimeSpan.FromSeconds(90),
            () => $"node {Name} did not start:\n{process.Output}");
        var api = new Uri((await File.ReadAllTextAsync(endpointFile)).Trim());
        if (_relay is not null)
        {
            await _relay.DisposeAsync();
        }

        _relay = NamespaceRelay.Start(Ns, new IPEndPoint(IPAddress.Loopback, api.Port), RelayAddress);
    }

    public MultiVipClient Client(MultiVipClientOptions? options = null) =>
        new(new ClientConnection(Api, Token), options ?? new MultiVipClientOptions { OperationTimeout = TimeSpan.FromSeconds(30) });

    /// <summary>kill -9: no draining, no clean close of its database connections.</summary>
    public async Task KillAsync()
    {
        // Process.Kill is SIGKILL on Linux; the PID is the one this node started.
        using var process = System.Diagnostics.Process.GetProcessById(Process!.Pid);
        process.Kill();
        await process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_relay is not null)
        {
            await _relay.DisposeAsync();
        }

        Process?.Dispose();
    }
}
