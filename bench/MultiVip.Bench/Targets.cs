using System.Net;
using System.Net.Sockets;
using MultiVip.Client;
using MultiVip.Contracts;

namespace MultiVip.Bench;

/// <summary>Where a measurement sends its load, and which process's memory counts for it.</summary>
/// <param name="Extra">Measured for requests/s, latency and connections/s only (the two-core and
/// other-engine rows), not for bulk, UDP or idle memory.</param>
internal sealed record Target(string Name, string Address, bool SupportsUdp, ManagedProcess? Proxy, bool Extra = false);

/// <summary>Starts the backend and the proxies, each with its config from bench/configs.</summary>
internal sealed class Lab : IDisposable
{
    public const string Backend = "127.0.0.200";
    public const string HaproxyFront = "127.0.0.201";
    public const string NginxFront = "127.0.0.202";
    public const string MultiVipVip = "127.0.0.203";
    public const string MultiVipDotnetVip = "127.0.0.204";
    public const string Haproxy2Front = "127.0.0.205";
    public const string Nginx2Front = "127.0.0.206";
    public const string MultiVip2Vip = "127.0.0.207";
    public const string MultiVipCompareVip = "127.0.0.208";

    /// <summary>The second and later --compare builds: 127.134.0.1, .2, ... (the runtime settings' A/B range).</summary>
    public const string MoreCompareVipPrefix = "127.134.0.";

    /// <summary>The --compare builds' two-core rows: 127.134.2.1, .2, ...</summary>
    public const string Compare2CoreVipPrefix = "127.134.2.";

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

    /// <summary>The two-core rows: the proxy may run on both cores (sharing them with the load side).</summary>
    public const string BothCpus = "0,1";

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

    public async Task StartAsync(int maxConnections, bool extraRows, IReadOnlyList<string> compareBuilds)
    {
        Directory.CreateDirectory(Path.Combine(Run, "tmp"));
        Track(ManagedProcess.Start("backend", BackendCpu, "nginx", ["-c", Config("backend-nginx.conf", HaproxyFront, 1)]));
        Track(ManagedProcess.Start("iperf3", BackendCpu, "iperf3", ["-s", "-B", Backend, "-p", "5201"]));
        await WaitTcpAsync(Backend, BackendPort);
        await WaitTcpAsync(Backend, 5201);
        Targets.Add(new Target("direct", Backend, true, null));

        var haproxy = Track(ManagedProcess.Start("haproxy", ProxyCpu, "haproxy", ["-db", "-f", Config("haproxy.cfg", HaproxyFront, 1)]));
        await WaitTcpAsync(HaproxyFront, FrontPort);
        Targets.Add(new Target("HAProxy", HaproxyFront, false, haproxy));

        var nginx = Track(ManagedProcess.Start("nginx-stream", ProxyCpu, "nginx", ["-c", Config("nginx-stream.conf", NginxFront, 1)]));
        await WaitTcpAsync(NginxFront, FrontPort);
        Targets.Add(new Target("nginx stream", NginxFront, true, nginx));

        MultiVip = Track(await StartMultiVipAsync(maxConnections, MultiVipVip, ProxyCpu, "epoll"));
        Targets.Add(new Target("MultiVip", MultiVipVip, await MultiVipUdpAsync(), MultiVip));
        for (var i = 0; i < compareBuilds.Count; i++)
        {
            // --compare DIR: another build of multivip (e.g. the data plane before a change, or the same
            // build with other runtime settings), on the same core and in the same rounds, so an A/B of
            // CPU per connection sees the same neighbours. Several: an A/B/C..., each row named by its directory.
            var vip = i == 0 ? MultiVipCompareVip : MoreCompareVipPrefix + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var compare = Track(await StartMultiVipAsync(maxConnections, vip, ProxyCpu, "epoll", compareBuilds[i]));
            Targets.Add(new Target($"MultiVip ({ComparedName(i)})", vip, false, compare, Extra: true));
        }

        if (!extraRows)
        {
            return;
        }

        // The same MultiVip on the runtime's System.Net.Sockets: what the epoll engine changes.
        MultiVipDotnet = Track(await StartMultiVipAsync(maxConnections, MultiVipDotnetVip, ProxyCpu, "dotnet"));
        Targets.Add(new Target("MultiVip (dotnet engine)", MultiVipDotnetVip, false, MultiVipDotnet, Extra: true));

        // Two cores each: HAProxy nbthread 2, nginx 2 workers, MultiVip unpinned (one epoll loop per core).
        var haproxy2 = Track(ManagedProcess.Start("haproxy-2", BothCpus, "haproxy", ["-db", "-f", Config("haproxy.cfg", Haproxy2Front, 2)]));
        await WaitTcpAsync(Haproxy2Front, FrontPort);
        Targets.Add(new Target("HAProxy, 2 cores", Haproxy2Front, false, haproxy2, Extra: true));
        var nginx2 = Track(ManagedProcess.Start("nginx-stream-2", BothCpus, "nginx", ["-c", Config("nginx-stream.conf", Nginx2Front, 2)]));
        await WaitTcpAsync(Nginx2Front, FrontPort);
        Targets.Add(new Target("nginx stream, 2 cores", Nginx2Front, false, nginx2, Extra: true));
        var multivip2 = Track(await StartMultiVipAsync(maxConnections, MultiVip2Vip, BothCpus, "epoll"));
        Targets.Add(new Target("MultiVip, 2 cores", MultiVip2Vip, false, multivip2, Extra: true));
        for (var i = 0; i < compareBuilds.Count; i++)
        {
            // Each --compare build on both cores too: runtime settings that only matter when the
            // proxy shares a core with the load side (thread-pool spinning) show only in this row.
            var vip = Compare2CoreVipPrefix + (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var compare = Track(await StartMultiVipAsync(maxConnections, vip, BothCpus, "epoll", compareBuilds[i]));
            Targets.Add(new Target($"MultiVip ({ComparedName(i)}), 2 cores", vip, false, compare, Extra: true));
        }

        // A row's name for a --compare build: one is "compared build", several are named by directory.
        string ComparedName(int i) => compareBuilds.Count == 1 ? "compared build" : Path.GetFileName(compareBuilds[i].TrimEnd('/'));
    }

    public ManagedProcess? MultiVipDotnet { get; private set; }

    private async Task<ManagedProcess> StartMultiVipAsync(int maxConnections, string vip, string cpus, string engine, string? build = null)
    {
        var dataDir = Path.Combine(Run, "multivip-" + vip);
        var process = ManagedProcess.Start("multivip-" + vip, cpus, "dotnet",
        [
            Path.Combine(build ?? Path.Combine(Repo, "artifacts", "multivip"), "multivip.dll"), "serve",
            "--data-dir", dataDir, "--api", "http://127.0.0.1:0", "--dns", "off", "--vip-pool", $"{vip}-{vip}",
            "--max-connections-per-listener", maxConnections.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--socket-engine", engine,
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
        await WaitTcpAsync(vip, FrontPort);
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

    private string Config(string name, string front, int threads)
    {
        var text = File.ReadAllText(Path.Combine(Repo, "bench", "configs", name))
            .Replace("{{RUN}}", Run, StringComparison.Ordinal)
            .Replace("{{BACKEND}}", Backend, StringComparison.Ordinal)
            .Replace("{{FRONT}}", front, StringComparison.Ordinal)
            .Replace("{{THREADS}}", threads.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{{FRONT_PORT}}", FrontPort.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{{BACKEND_PORT}}", BackendPort.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        var path = Path.Combine(Run, $"{threads}-{name}");
        File.WriteAllText(path, text);
        return path;
    }

    private ManagedProcess Track(ManagedProcess process)
    {
        _processes.Add(process);
        return process;
    }

    /// <summary>The one-worker nginx backend (bench/configs/backend-nginx.conf) on <paramref name="address"/>:8080, on both cores, answering.</summary>
    public static async Task<ManagedProcess> StartBothCpuBackendAsync(string repo, string run, string address)
    {
        var config = File.ReadAllText(Path.Combine(repo, "bench", "configs", "backend-nginx.conf"))
            .Replace("{{RUN}}", run, StringComparison.Ordinal)
            .Replace("{{BACKEND}}", address, StringComparison.Ordinal)
            .Replace("{{BACKEND_PORT}}", "8080", StringComparison.Ordinal);
        var configPath = Path.Combine(run, "backend-nginx.conf");
        File.WriteAllText(configPath, config);
        var process = ManagedProcess.Start("backend", BothCpus, "nginx", ["-c", configPath]);
        await WaitTcpAsync(address, 8080);
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
