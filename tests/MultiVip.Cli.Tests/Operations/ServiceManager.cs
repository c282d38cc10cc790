using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;

namespace MultiVip.Cli.Tests.Operations;

/// <summary>
/// The test as systemd's service manager for a Type=notify unit: a work dir, a Unix datagram socket
/// passed as NOTIFY_SOCKET, `multivip serve` started as a real process with it, and the messages the
/// server sends there (sd_notify). Shared by the notify and the reload tests.
/// </summary>
internal sealed class ServiceManager : IDisposable
{
    private readonly Socket _socket;

    public ServiceManager(string workPrefix, string socketPrefix)
    {
        Directory.CreateDirectory(WorkDir = Path.Combine(Path.GetTempPath(), workPrefix, Guid.NewGuid().ToString("N")));

        // Short path: a Unix socket path has at most 107 bytes.
        SocketPath = Path.Combine(Path.GetTempPath(), $"{socketPrefix}-{Guid.NewGuid():N}.sock");
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        _socket.Bind(new UnixDomainSocketEndPoint(SocketPath));
    }

    public string WorkDir { get; }

    public string SocketPath { get; }

    public string DataDir => Path.Combine(WorkDir, "data");

    /// <summary>`multivip serve` on <see cref="DataDir"/> (API on a free port, no DNS, <paramref name="more"/> options), with NOTIFY_SOCKET set to this manager.</summary>
    public CliProcess Serve(string vipPool, int drainTimeoutSeconds, params string[] more) => CliProcess.Start(
        WorkDir,
        new Dictionary<string, string> { ["NOTIFY_SOCKET"] = SocketPath },
        [
            "serve", "--data-dir", DataDir, "--api", "http://127.0.0.1:0", "--dns", "off",
            "--vip-pool", vipPool, "--drain-timeout", drainTimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), .. more,
        ]);

    /// <summary>Waits for READY=1 and returns the API address its STATUS= line names.</summary>
    public async Task<string> WaitForApiAsync(CliProcess server, TimeSpan timeout)
    {
        var ready = await ReceiveAsync(server, timeout);
        Assert.StartsWith("READY=1\n", ready);
        var status = ready.Split('\n').Single(l => l.StartsWith("STATUS=", StringComparison.Ordinal));
        return status["STATUS=Serving the API on ".Length..];
    }

    /// <summary>The next sd_notify message; fails with the server's output when none comes in time.</summary>
    public async Task<string> ReceiveAsync(CliProcess server, TimeSpan timeout)
    {
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            var length = await _socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            return Encoding.UTF8.GetString(buffer, 0, length);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"No sd_notify message within {timeout.TotalSeconds:0} s. Server output:\n{server.Output}");
            throw;
        }
    }

    /// <summary>The API at <paramref name="api"/> answers GET /api/services with the data dir's token.</summary>
    public async Task AssertServesAsync(string api) =>
        Assert.Equal(System.Net.HttpStatusCode.OK, await GetServicesAsync(api, (await File.ReadAllTextAsync(Path.Combine(DataDir, "token"))).Trim()));

    /// <summary>The status GET /api/services at <paramref name="api"/> answers with <paramref name="token"/>.</summary>
    public static async Task<System.Net.HttpStatusCode> GetServicesAsync(string api, string token)
    {
        using var http = new HttpClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.GetAsync(new Uri(api + "/api/services"));
        return response.StatusCode;
    }

    public void Dispose()
    {
        _socket.Dispose();
        File.Delete(SocketPath);
        try
        {
            Directory.Delete(WorkDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
