using System.Globalization;

namespace MultiVip.TestSupport.Network;

/// <summary>
/// Network namespaces a test owns, and everything in them: veth pairs, bridges, addresses, processes.
/// Dispose (await using) stops the processes it started and deletes every namespace, which also
/// deletes their interfaces, whether the test passed or not. Names are
/// <c>mvnet-PID-RANDOM-ROLE</c>, so runs in parallel never collide, and a run that died (kill -9,
/// a crashed test host) is recognised later by its dead PID and cleaned up by the next run.
/// Tests only ever put addresses inside these namespaces, never on the host's own interfaces.
/// </summary>
public sealed class NetworkNamespaces : IAsyncDisposable
{
    public const string Prefix = "mvnet-";

    private static readonly SemaphoreSlim LeftoverGate = new(1, 1);
    private static bool s_leftoversCleaned;

    private readonly List<NetworkNamespace> _namespaces = [];
    private readonly List<NamespaceProcess> _processes = [];
    private readonly Lock _gate = new();
    private readonly string _run;

    private NetworkNamespaces()
    {
        _run = $"{Prefix}{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}-{Random.Shared.Next(0x100000, 0xFFFFFF):x6}";
    }

    /// <summary>
    /// Checks that namespaces can be made here (root, iproute2) with a message that says what is
    /// missing, and removes leftovers of dead earlier runs once per test process (unless
    /// <paramref name="cleanLeftovers"/> is false: the benchmark, which stops only what it started).
    /// </summary>
    public static async Task<NetworkNamespaces> CreateAsync(bool cleanLeftovers = true)
    {
        if (Environment.UserName != "root" && !HasCapability(21 /* CAP_SYS_ADMIN */))
        {
            throw new InvalidOperationException("Network namespace tests need root (CAP_SYS_ADMIN and CAP_NET_ADMIN): run them as root, as ./test.sh does in CI.");
        }

        var ip = await Command.TryRunAsync("ip", ["-V"]);
        if (!ip.Succeeded)
        {
            throw new InvalidOperationException("Network namespace tests need iproute2's `ip` (apt-get install iproute2).");
        }

        if (cleanLeftovers)
        {
            await CleanLeftoversAsync();
        }

        return new NetworkNamespaces();
    }

    /// <summary>Creates a namespace named after its role in the test ("client", "lb"), with lo up.</summary>
    public async Task<NetworkNamespace> AddAsync(string role)
    {
        var ns = new NetworkNamespace(this, $"{_run}-{role}");
        lock (_gate)
        {
            _namespaces.Add(ns);
        }

        await Command.RunAsync("ip", "netns", "add", ns.Name);
        await ns.SetUpAsync("lo");
        return ns;
    }

    /// <summary>
    /// A veth pair between two namespaces (<paramref name="aDevice"/> in <paramref name="a"/>,
    /// <paramref name="bDevice"/> in <paramref name="b"/>), both ends up. Device names: at most 15 characters.
    /// </summary>
    public async Task LinkAsync(NetworkNamespace a, string aDevice, NetworkNamespace b, string bDevice)
    {
        await a.IpAsync("link", "add", aDevice, "type", "veth", "peer", "name", bDevice, "netns", b.Name);
        await a.SetUpAsync(aDevice);
        await b.SetUpAsync(bDevice);
    }

    /// <summary>
    /// A bridge named <paramref name="bridge"/> in <paramref name="host"/>, with each member's device
    /// plugged into it by a veth pair (the bridge-side ends are named BRIDGE-pN).
    /// </summary>
    public async Task BridgeAsync(NetworkNamespace host, string bridge, params (NetworkNamespace Ns, string Device)[] members)
    {
        await host.IpAsync("link", "add", bridge, "type", "bridge");
        await host.SetUpAsync(bridge);
        for (var i = 0; i < members.Length; i++)
        {
            var port = $"{bridge}-p{i}";
            await host.IpAsync("link", "add", port, "type", "veth", "peer", "name", members[i].Device, "netns", members[i].Ns.Name);
            await host.IpAsync("link", "set", port, "master", bridge);
            await host.SetUpAsync(port);
            await members[i].Ns.SetUpAsync(members[i].Device);
        }
    }

    internal void Track(NamespaceProcess process)
    {
        lock (_gate)
        {
            _processes.Add(process);
        }
    }

    public async ValueTask DisposeAsync()
    {
        NamespaceProcess[] processes;
        NetworkNamespace[] namespaces;
        lock (_gate)
        {
            processes = [.. _processes];
            namespaces = [.. _namespaces];
        }

        // Processes first: a namespace with a process in it outlives `ip netns del`.
        foreach (var process in processes)
        {
            process.Dispose();
        }

        foreach (var ns in namespaces)
        {
            await Command.TryRunAsync("ip", ["netns", "del", ns.Name]);
        }
    }

    /// <summary>
    /// Deletes namespaces with our prefix that a dead run left behind: their PID no longer runs (or
    /// is now another process, started after the namespace was made) and they are older than this
    /// test process. Processes still inside them were started by that run and are killed first.
    /// Namespaces of runs that are still alive are never touched.
    /// </summary>
    public static async Task CleanLeftoversAsync()
    {
        await LeftoverGate.WaitAsync();
        try
        {
            if (s_leftoversCleaned)
            {
                return;
            }

            s_leftoversCleaned = true;
            await CleanLeftoversAsync(System.Diagnostics.Process.GetCurrentProcess().StartTime.ToUniversalTime());
        }
        finally
        {
            LeftoverGate.Release();
        }
    }

    /// <summary>As <see cref="CleanLeftoversAsync()"/>, for namespaces made before <paramref name="ourStart"/> (tests of the helper).</summary>
    public static async Task CleanLeftoversAsync(DateTime ourStart)
    {
        if (!Directory.Exists("/run/netns"))
        {
            return;
        }

        {
            foreach (var path in Directory.GetFiles("/run/netns", Prefix + "*"))
            {
                var name = System.IO.Path.GetFileName(path);
                var created = File.GetLastWriteTimeUtc(path);
                if (created >= ourStart || !IsOrphan(name, created))
                {
                    continue;
                }

                var pids = await Command.TryRunAsync("ip", ["netns", "pids", name]);
                foreach (var line in pids.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    if (int.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
                    {
                        _ = Native.kill(pid, 9);
                    }
                }

                await Command.TryRunAsync("ip", ["netns", "del", name]);
            }
        }
    }

    private static bool IsOrphan(string name, DateTime created)
    {
        var parts = name[Prefix.Length..].Split('-');
        if (parts.Length < 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
        {
            return false; // not made by this helper: not ours to judge
        }

        var proc = $"/proc/{pid.ToString(CultureInfo.InvariantCulture)}";
        if (!Directory.Exists(proc))
        {
            return true;
        }

        // The PID was reused by a process that started after the namespace was made.
        return Directory.GetLastWriteTimeUtc(proc) > created;
    }

    private static bool HasCapability(int bit)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("CapEff:", StringComparison.Ordinal))
            {
                var mask = ulong.Parse(line["CapEff:".Length..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                return (mask & (1UL << bit)) != 0;
            }
        }

        return false;
    }
}
