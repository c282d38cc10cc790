using System.Net;
using System.Net.Sockets;
using MultiVip.Client;
using MultiVip.Contracts;

namespace MultiVip.Bench;

/// <summary>Where a measurement sends its load, and which process's memory counts for it.</summary>
internal sealed record Target(string Name, string Address, bool SupportsUdp, ManagedProcess? Proxy);

/// <summary>Starts the backend and the proxies, each with its config from bench/configs.</summary>
internal sealed class Lab : IDisposable
{
    public const string Backend = "127.0.0.200";
    public const string HaproxyFront = "127.0.0.201";
    public const string NginxFront = "127.0.0.202";
    public const string MultiVipVip = "127.0.0.203";

    /// <summary>
    /// The port every proxy listens on. Not 80: a packaged nginx (Debian starts one on install)
    /// holds 0.0.0.0:80, which would keep 127.0.0.x:80 from binding; the harness leaves that nginx
    /// alone and uses a port of its own.
    /// </summary>
    public const int FrontPort = 18000;

    public const int BackendPort = 8080;

    /// <summary>Proxies get one core; load generators and the backend the other.</summary>
    public const string ProxyCpu = "1";
    public const string BackendCpu = "0";

    private readonly List<ManagedProcess> _processes = [];

    public Lab(string repo, string run)
    {
        Repo = repo;
        Run = run;
    }

    public string Repo { get; }

    public string Run { get; }

    public List<Target> Targets { get; } = [];

    public ManagedProcess? MultiVip { get; private set; }

    public async Task StartAsync(int maxConnections)
    {
        Directory.CreateDirectory(Path.Combine(Run, "tmp"));
        Track(ManagedProcess.Start("backend", BackendCpu, "nginx", ["-c", Config("backend-nginx.conf", HaproxyFront)]));
        Track(ManagedProcess.Start("iperf3", BackendCpu, "iperf3", ["-s", "-B", Backend, "-p", "5201"]));
        await WaitTcpAsync(Backend, BackendPort);
        await WaitTcpAsync(Backend, 5201);
        Targets.Add(new Target("direct", Backend, true, null));

        var haproxy = Track(ManagedProcess.Start("haproxy", ProxyCpu, "haproxy", ["-db", "-f", Config("haproxy.cfg", HaproxyFront)]));
        await WaitTcpAsync(HaproxyFront, FrontPort);
        Targets.Add(new Target("HAProxy", HaproxyFront, false, haproxy));

        var nginx = Track(ManagedProcess.Start("nginx-stream", ProxyCpu, "nginx", ["-c", Config("nginx-stream.conf", NginxFront)]));
        await WaitTcpAsync(NginxFront, FrontPort);
        Targets.Add(new Target("nginx stream", NginxFront, true, nginx));

        MultiVip = Track(await StartMultiVipAsync(maxConnections));
        Targets.Add(new Target("MultiVip", MultiVipVip, await MultiVipUdpAsync(), MultiVip));
    }

    private async Task<ManagedProcess> StartMultiVipAsync(int maxConnections)
    {
        var dataDir = Path.Combine(Run, "multivip");
        var process = ManagedProcess.Start("multivip", ProxyCpu, "dotnet",
        [
            Path.Combine(Repo, "artifacts", "multivip", "multivip.dll"), "serve",
            "--data-dir", dataDir, "--api", "http://127.0.0.1:0", "--dns", "off", "--vip-pool", $"{MultiVipVip}-{MultiVipVip}",
            "--max-connections-per-listener", maxConnections.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ]);
        var endpointFile = Path.Combine(dataDir, "endpoint");
        for (var i = 0; !File.Exists(endpointFile); i++)
        {
            if (process.HasExited || i > 600)
            {
                throw new InvalidOperationException("multivip serve did not start: " + process.Log);
            }

            await Task.Delay(100);
        }

        using var client = Client(dataDir);
        await client.CreateServiceAsync(new CreateServiceRequest { Name = "bench" });
        await client.AddVmAsync("bench", new AddVmRequest { Name = "backend", Address = Backend });
        await client.AddEndpointAsync("bench", "backend", new EndpointRequest { Name = "web", Protocol = "tcp", LocalPort = BackendPort, PublicPort = FrontPort });
        await client.AddEndpointAsync("bench", "backend", new EndpointRequest { Name = "bulk", Protocol = "tcp", LocalPort = 5201, PublicPort = 5201 });
        await client.AddEndpointAsync("bench", "backend", new EndpointRequest { Name = "bulk-udp", Protocol = "udp", LocalPort = 5201, PublicPort = 5201 });
        await WaitTcpAsync(MultiVipVip, FrontPort);
        return process;
    }

    /// <summary>UDP counts as supported when a datagram through the VIP gets iperf3's reply path working.</summary>
    private static async Task<bool> MultiVipUdpAsync()
    {
        try
        {
            await Measurements.IperfUdpAsync(MultiVipVip, TimeSpan.FromSeconds(1));
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    public static MultiVipClient Client(string dataDir) =>
        new(ClientConnection.Resolve(null, null, dataDir));

    private string Config(string name, string front)
    {
        var text = File.ReadAllText(Path.Combine(Repo, "bench", "configs", name))
            .Replace("{{RUN}}", Run, StringComparison.Ordinal)
            .Replace("{{BACKEND}}", Backend, StringComparison.Ordinal)
            .Replace("{{FRONT}}", front, StringComparison.Ordinal)
            .Replace("{{FRONT_PORT}}", FrontPort.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{{BACKEND_PORT}}", BackendPort.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        var path = Path.Combine(Run, name);
        File.WriteAllText(path, text);
        return path;
    }

    private ManagedProcess Track(ManagedProcess process)
    {
        _processes.Add(process);
        return process;
    }

    public static async Task WaitTcpAsync(string address, int port)
    {
        for (var i = 0; ; i++)
        {
            try
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(IPAddress.Parse(address), port);
                return;
            }
            catch (SocketException) when (i < 300)
            {
                await Task.Delay(100);
            }
        }
    }

    public void Dispose()
    {
        foreach (var process in Enumerable.Reverse(_processes))
        {
            process.Dispose();
        }
    }
}
