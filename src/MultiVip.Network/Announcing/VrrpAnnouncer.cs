using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Logging;
using MultiVip.DataPlane.Contract;
using MultiVip.Model.Errors;
using MultiVip.Network.Linux;

namespace MultiVip.Network.Announcing;

/// <summary>
/// Where the other nodes of a VRRP group are: the repeatable --vrrp-peer option
/// (<see cref="StaticPeers"/>), or on a shared store the node registry, in which case the
/// announcer rewrites keepalived's configuration and reloads it when the answer changes.
/// </summary>
internal interface IPeerSource
{
    IReadOnlyList<IPAddress> Peers();

    /// <summary>Raised when <see cref="Peers"/> would answer differently (a node joined, or its address changed): the announcer rewrites and reloads at once.</summary>
    event Action? Changed;

    /// <summary>
    /// True: adverts are unicast even while <see cref="Peers"/> is empty. keepalived takes a reload
    /// that switches between multicast (no unicast_peer) and unicast for a new instance: a master
    /// sends priority 0, drops the addresses and restarts as BACKUP (FAULT, then BACKUP on its FIFO),
    /// so with nopreempt another node keeps the VIPs. A peer set that changes within unicast
    /// reloads without any transition (docs/network.md#vrrp-peers-from-the-node-registry).
    /// </summary>
    bool AlwaysUnicast { get; }

    /// <summary>Completes (with the reason, for the log) when keepalived may start: the peers are known, and know this node.</summary>
    Task<string> Ready { get; }
}

internal sealed class StaticPeers(IReadOnlyList<IPAddress> peers) : IPeerSource
{
    public IReadOnlyList<IPAddress> Peers() => peers;

    // The option's peers never change while the server runs.
    public event Action? Changed
    {
        add { }
        remove { }
    }

    // None given: multicast, for good.
    public bool AlwaysUnicast => false;

    public Task<string> Ready { get; } = Task.FromResult("--vrrp-peer");
}

/// <summary>Settings of the <c>vrrp</c> announcer (--vrrp-*).</summary>
internal sealed record VrrpOptions
{
    public required string Interface { get; init; }

    public required string DataDir { get; init; }

    /// <summary>VRRP's virtual router id (1-255): the same on every node of the group, different per group on one segment.</summary>
    public int RouterId { get; init; } = 51;

    /// <summary>1-254; the highest wins an election. With nopreempt (the default) a running master keeps the addresses.</summary>
    public int Priority { get; init; } = 100;

    /// <summary>False (default): `nopreempt`, a node that comes back does not take the addresses back (no second failover).</summary>
    public bool Preempt { get; init; }

    public TimeSpan AdvertInterval { get; init; } = TimeSpan.FromSeconds(1);

    public IPeerSource Peers { get; init; } = new StaticPeers([]);

    /// <summary>How ownership names this node (--node-name); null: its source address.</summary>
    public string? NodeName { get; init; }

    public string Executable { get; init; } = "keepalived";

    /// <summary>The process keepalived's track script checks (MultiVip itself).</summary>
    public int WatchedPid { get; init; } = Environment.ProcessId;
}

/// <summary>
/// `--announce vrrp`: keepalived (Debian's) holds the VIP addresses on one L2 segment, one VRRP
/// instance with every address this node serves. MultiVip writes keepalived's configuration into the
/// data dir (0600), reloads it with SIGHUP when the set changes, reads keepalived's state
/// (MASTER/BACKUP/FAULT) back from its notify FIFO, and makes sure keepalived never outlives MultiVip:
/// a watchdog stops it when MultiVip's pipe closes (<see cref="SupervisedDaemon"/>), and a track script
/// checking MultiVip's PID (fall 1) puts the instance into FAULT should the watchdog itself be gone.
/// </summary>
internal sealed partial class VrrpAnnouncer : IAddressAnnouncer, INodeFailover
{
    public const string InstanceName = "multivip";

    private readonly VrrpOptions _options;
    private readonly string _directory;
    private readonly IPAddress _source;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly OwnershipLedger _ledger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Lock _stateGate = new();
    private SupervisedDaemon? _daemon;
    private Task? _reader;
    private HashSet<IPAddress> _addresses = [];
    private IReadOnlyList<IPAddress> _peers = [];
    private string _state = "STOPPED";
    private string? _lastError;
    private DateTimeOffset? _lastErrorAt;
    private readonly CancellationTokenSource _launchStopping = new();
    private Task? _launch;
    private volatile bool _waitingForPeers;
    private bool _released;
    private bool _written;

    private VrrpAnnouncer(VrrpOptions options, string directory, IPAddress source, TimeProvider time, ILogger logger)
    {
        _options = options;
        _directory = directory;
        _source = source;
        _time = time;
        _logger = logger;
        Node = options.NodeName ?? source.ToString();
        _ledger = new OwnershipLedger(Node, "vrrp", time);
    }

    public string Name => "vrrp";

    public bool ManagesAddresses => true;

    public string Node { get; }

    public string? AnnounceAddress => _source.ToString();

    public string ConfigPath => Path.Combine(_directory, "keepalived.conf");

    public string FifoPath => Path.Combine(_directory, "keepalived.fifo");

    /// <summary>keepalived's view of this node: MASTER, BACKUP, FAULT, or STOPPED while it is not running.</summary>
    public string State
    {
        get
        {
            lock (_stateGate)
            {
                return _state;
            }
        }
    }

    public int DaemonPid => _daemon?.Pid ?? 0;

    public static async Task<VrrpAnnouncer> StartAsync(VrrpOptions options, TimeProvider time, ILogger logger, CancellationToken cancellationToken)
    {
        var device = options.Interface;
        if (device.Length is 0 or > 15 || !device.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or '@'))
        {
            throw MultiVipException.BadRequest($"'{device}' is not an interface name (--vrrp-interface): use the name `ip link` shows, such as eth0.");
        }

        if (options.RouterId is < 1 or > 255)
        {
            throw MultiVipException.BadRequest($"--vrrp-router-id must be 1-255 (VRRP's virtual router id, the same on every node of the group), not {options.RouterId}.");
        }

        if (options.Priority is < 1 or > 254)
        {
            throw MultiVipException.BadRequest($"--vrrp-priority must be 1-254 (the highest wins an election), not {options.Priority}.");
        }

        if (!Capabilities.Has(Capabilities.NetAdmin) || !Capabilities.Has(Capabilities.NetRaw))
        {
            throw new InvalidOperationException(
                "--announce vrrp runs keepalived, which needs the CAP_NET_ADMIN and CAP_NET_RAW capabilities (to add the VIP addresses and send VRRP adverts), and this process lacks them. "
                + "Run multivip serve as root, or from a systemd unit with AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW.");
        }

        var executable = Executables.Find(options.Executable)
            ?? throw new InvalidOperationException($"--announce vrrp needs keepalived ('{options.Executable}' is not installed or not on PATH): apt-get install keepalived.");
        var ip = new IpRoute();
        var link = await ip.GetLinkAsync(device, cancellationToken)
            ?? throw MultiVipException.BadRequest($"The interface '{device}' given to --vrrp-interface does not exist on this host; `ip link` lists the interfaces.");
        var peers = options.Peers.Peers();
        var family = peers.Count > 0 ? peers[0].AddressFamily : AddressFamily.InterNetwork;
        if (peers.Any(p => p.AddressFamily != family))
        {
            throw MultiVipException.BadRequest("The --vrrp-peer addresses must all be IPv4 or all IPv6 (VRRP adverts go in one family; IPv6 VIPs ride along in an IPv4 group).");
        }

        var addresses = await ip.GetAddressesAsync(link.Name, cancellationToken);
        var source = addresses.FirstOrDefault(a => a.Address.AddressFamily == family && !a.IsHostRoute && !a.Address.IsIPv6LinkLocal)?.Address
            ?? throw MultiVipException.BadRequest($"The interface '{device}' has no {(family == AddressFamily.InterNetwork ? "IPv4" : "IPv6")} address of its own to send VRRP adverts from; give it one (the node's address on that segment).");

        var directory = Path.Combine(options.DataDir, "keepalived");
        Directory.CreateDirectory(directory);
        File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var announcer = new VrrpAnnouncer(options with { Executable = executable }, directory, source, time, logger);
        await announcer.StartDaemonAsync(cancellationToken);
        return announcer;
    }

    private async Task StartDaemonAsync(CancellationToken cancellationToken)
    {
        // A new FIFO each start: what an earlier run left there (its keepalived is gone with it) is not ours to read.
        File.Delete(FifoPath);
        if (mkfifo(FifoPath, Convert.ToUInt32("600", 8)) != 0)
        {
            throw new IOException($"cannot create the FIFO {FifoPath} keepalived reports its state to (errno {Marshal.GetLastPInvokeError()})");
        }

        // Opened read-write: the open does not wait for keepalived, and a restarted keepalived
        // (a new writer) never makes the reader see end-of-file.
        var fifo = new FileStream(FifoPath, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, bufferSize: 1);
        _reader = Task.Factory.StartNew(() => ReadStates(fifo), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        _peers = CurrentPeers();
        WriteConfig(new HashSet<IPAddress>());
        _daemon = new SupervisedDaemon(
            "keepalived",
            _options.Executable,
            () => ["--dont-fork", "--log-console", "--vrrp", "--use-file", ConfigPath, "--pid", Path.Combine(_directory, "keepalived.pid"), "--vrrp_pid", Path.Combine(_directory, "vrrp.pid")],
            Path.Combine(_directory, "keepalived.log"),
            _time,
            _logger);
        _daemon.Exited += () => SetState("STOPPED", "keepalived exited");
        _options.Peers.Changed += OnPeersChanged;
        var ready = _options.Peers.Ready;
        if (ready.IsCompleted)
        {
            await LaunchAsync(await ready, cancellationToken);
            return;
        }

        // A node joining a shared registry: keepalived starts once the others advert to it (NodePeers.Ready).
        _waitingForPeers = true;
        Log.WaitingForPeers(_logger, _options.RouterId);
        _launch = Task.Run(
            async () =>
            {
                try
                {
                    await LaunchAsync(await ready.WaitAsync(_launchStopping.Token), _launchStopping.Token);
                }
                catch (OperationCanceledException)
                {
                    // Stopped before keepalived ever started.
                }
                catch (Exception e) when (e is IOException or InvalidOperationException or TimeoutException)
                {
                    lock (_stateGate)
                    {
                        _lastError = $"keepalived could not start: {e.Message}";
                        _lastErrorAt = _time.GetUtcNow();
                    }
                }
            },
            CancellationToken.None);
    }

    /// <summary>Starts keepalived with the peers and addresses known now.</summary>
    private async Task LaunchAsync(string reason, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_released)
            {
                return;
            }

            _peers = CurrentPeers();
            WriteConfig(_addresses);
            await _daemon!.StartAsync(cancellationToken);
            _waitingForPeers = false;
        }
        finally
        {
            _gate.Release();
        }

        var peers = string.Join(", ", _peers);
        Log.Started(_logger, _options.Interface, _options.RouterId, _options.Priority, _source, peers, _options.Preempt ? "preempt" : "nopreempt");
        Log.PeersReady(_logger, _options.RouterId, reason);
    }

    /// <summary>
    /// The unicast peers now: those of the source's family other than this node's own address (a
    /// registry can list a node whose address family differs, or an old record of this node).
    /// </summary>
    private List<IPAddress> CurrentPeers() =>
        [.. _options.Peers.Peers().Where(p => p.AddressFamily == _source.AddressFamily && !p.Equals(_source)).Distinct()];

    private void OnPeersChanged() =>
        _ = Task.Run(async () =>
        {
            try
            {
                // The same addresses: HoldAsync notices the new peers, rewrites and reloads.
                await HoldAsync(Volatile.Read(ref _addresses), verify: false, CancellationToken.None);
            }
            catch (ObjectDisposedException)
            {
                // Stopping: nothing to reload.
            }
        });

    public async Task HoldAsync(IReadOnlySet<IPAddress> addresses, bool verify, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_released)
            {
                return;
            }

            var peers = CurrentPeers();
            if (_addresses.SetEquals(addresses) && peers.SequenceEqual(_peers) && _written)
            {
                return;
            }

            if (!peers.SequenceEqual(_peers))
            {
                var from = string.Join(", ", _peers);
                var to = string.Join(", ", peers);
                Log.PeersChanged(_logger, from, to, _options.RouterId);
            }

            foreach (var gone in _addresses.Where(a => !addresses.Contains(a)))
            {
                _ledger.Forget(gone);
            }

            _addresses = [.. addresses];
            _peers = peers;
            WriteConfig(_addresses);
            if (_daemon is { IsRunning: true } daemon && !daemon.Signal(SupervisedDaemon.SigHup))
            {
                Log.ReloadFailed(_logger, Marshal.GetLastPInvokeError());
            }

            var state = State;
            foreach (var address in _addresses)
            {
                _ledger.Set(address, state, "address added to the VRRP instance");
            }
        }
        catch (IOException e)
        {
            lock (_stateGate)
            {
                _lastError = $"cannot write {ConfigPath}: {e.Message}";
                _lastErrorAt = _time.GetUtcNow();
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>"user group" of this process (keepalived runs its track script and writes the FIFO as them), from /etc/passwd and /etc/group.</summary>
    internal static string UserAndGroup()
    {
        var user = Environment.UserName;
        var group = user;
        try
        {
            var gid = File.ReadLines("/etc/passwd").Select(l => l.Split(':')).FirstOrDefault(f => f.Length > 3 && f[0] == user)?[3];
            group = File.ReadLines("/etc/group").Select(l => l.Split(':')).FirstOrDefault(f => f.Length > 2 && f[2] == gid)?[0] ?? user;
        }
        catch (IOException)
        {
        }

        return $"{user} {group}";
    }

    /// <summary>The configuration, written atomically (temporary file, then rename) with mode 0600.</summary>
    private void WriteConfig(IReadOnlySet<IPAddress> addresses)
    {
        var text = RenderConfig(_options, _source, _peers, addresses, FifoPath, UserAndGroup());
        var temporary = ConfigPath + ".tmp";
        File.WriteAllText(temporary, text);
        File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.Move(temporary, ConfigPath, overwrite: true);
        _written = true;
    }

    internal static string RenderConfig(VrrpOptions options, IPAddress source, IReadOnlyList<IPAddress> peers, IReadOnlySet<IPAddress> addresses, string fifo, string scriptUser)
    {
        var c = new StringBuilder();
        var i = CultureInfo.InvariantCulture;
        c.AppendLine("# Written by MultiVip (--announce vrrp) and rewritten whenever the VIP set changes: do not edit.");
        // The user and group are named on every line that runs or writes something: keepalived
        // 2.2.7 fails to look the default script user up again on a reload (SIGHUP) and then drops
        // the FIFO and the track script ("Unable to set default user keepalived_script").
        c.AppendLine("global_defs {");
        c.AppendLine(i, $"    router_id multivip-{source}");
        c.AppendLine(i, $"    script_user {scriptUser}");
        c.AppendLine("    enable_script_security");
        c.AppendLine(i, $"    vrrp_notify_fifo {fifo} {scriptUser}");
        c.AppendLine("    fifo_write_vrrp_states_on_reload");
        c.AppendLine("}");
        c.AppendLine();
        c.AppendLine("# The instance fails (FAULT, addresses released) within a second of MultiVip being gone,");
        c.AppendLine("# should the watchdog that stops keepalived with MultiVip be gone too.");
        c.AppendLine("vrrp_script multivip_alive {");
        c.AppendLine(i, $"    script \"/bin/kill -0 {options.WatchedPid}\"");
        c.AppendLine("    interval 1");
        c.AppendLine("    timeout 1");
        c.AppendLine("    fall 1");
        c.AppendLine("    rise 1");
        c.AppendLine(i, $"    user {scriptUser}");
        c.AppendLine("}");
        c.AppendLine();
        c.AppendLine(i, $"vrrp_instance {InstanceName} {{");
        c.AppendLine("    state BACKUP");
        c.AppendLine(i, $"    interface {options.Interface}");
        c.AppendLine(i, $"    virtual_router_id {options.RouterId}");
        c.AppendLine(i, $"    priority {options.Priority}");
        c.AppendLine(i, $"    advert_int {Math.Max(1, (int)options.AdvertInterval.TotalSeconds)}");
        if (!options.Preempt)
        {
            c.AppendLine("    nopreempt");
        }

        if (peers.Count > 0 || options.Peers.AlwaysUnicast)
        {
            c.AppendLine(i, $"    unicast_src_ip {source}");
            c.AppendLine("    unicast_peer {");
            foreach (var peer in peers)
            {
                c.AppendLine(i, $"        {peer}");
            }

            if (peers.Count == 0)
            {
                // No other node in the registry yet. An empty list would be multicast, and the
                // reload that adds the first peer would then make keepalived take the instance for a
                // new one (the master sends priority 0 and drops the VIPs). Loopback goes nowhere.
                c.AppendLine("        # placeholder: no other node yet; keeps the instance unicast across reloads");
                c.AppendLine(i, $"        {(source.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Loopback : IPAddress.IPv6Loopback)}");
            }

            c.AppendLine("    }");
        }

        // Excluded from the adverts: no limit of 20 addresses, and IPv6 VIPs in an IPv4 group.
        if (addresses.Count > 0)
        {
            c.AppendLine("    virtual_ipaddress_excluded {");
            foreach (var address in addresses.OrderBy(a => a.ToString(), StringComparer.Ordinal))
            {
                var bits = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
                c.AppendLine(i, $"        {address}/{bits} dev {options.Interface}");
            }

            c.AppendLine("    }");
        }

        c.AppendLine("    track_script {");
        c.AppendLine("        multivip_alive");
        c.AppendLine("    }");
        c.AppendLine("}");
        return c.ToString();
    }

    private void ReadStates(FileStream fifo)
    {
        using (fifo)
        using (var reader = new StreamReader(fifo, Encoding.ASCII))
        {
            while (reader.ReadLine() is { } line)
            {
                if (line == "MULTIVIP-STOP")
                {
                    return;
                }

                // INSTANCE "multivip" MASTER 100
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length >= 3 && parts[0] == "INSTANCE" && parts[1].Trim('"') == InstanceName)
                {
                    SetState(parts[2], "keepalived reported " + parts[2]);
                }
            }
        }
    }

    private void SetState(string state, string reason)
    {
        string before;
        lock (_stateGate)
        {
            before = _state;
            _state = state;
        }

        if (before != state)
        {
            Log.StateChanged(_logger, before, state, _options.RouterId);
        }

        foreach (var address in Snapshot())
        {
            _ledger.Set(address, state, reason);
        }
    }

    private IPAddress[] Snapshot()
    {
        // Read without the gate (the FIFO thread must never wait on a reload): a copy of the reference.
        var addresses = Volatile.Read(ref _addresses);
        return [.. addresses];
    }

    public IReadOnlyList<AddressStatus> GetStatus() => [.. Snapshot().Select(a => GetStatus(a)!)];

    public AddressStatus? GetStatus(IPAddress address)
    {
        if (!Volatile.Read(ref _addresses).Contains(address))
        {
            return null;
        }

        var entry = _ledger.Get(address);
        var state = entry?.State ?? State;
        var held = state == "MASTER";
        string? error;
        DateTimeOffset? errorAt;
        lock (_stateGate)
        {
            error = _lastError;
            errorAt = _lastErrorAt;
        }

        if (state == "STOPPED" && !_released && _waitingForPeers)
        {
            error ??= "keepalived starts once the other nodes have this node's address from the node registry";
            errorAt ??= entry?.Since;
        }
        else if (state == "STOPPED" && !_released)
        {
            error ??= "keepalived is not running; MultiVip restarts it (see the keepalived.log in the data dir)";
            errorAt ??= entry?.Since;
        }

        return new AddressStatus(address, held, held ? entry?.Since : null, error, errorAt)
        {
            State = state,
            StateSince = entry?.Since,
            StateChanges = entry?.Changes ?? 0,
        };
    }

    public IReadOnlyList<OwnershipChange> History() => _ledger.History();

    /// <summary>
    /// Clean stop: keepalived is stopped now (it sends a priority-0 advert, so a backup becomes
    /// master at once, and removes the addresses), before connections drain.
    /// </summary>
    public async Task ReleaseAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_released)
            {
                return;
            }

            _released = true;
            if (_daemon is not null)
            {
                await _daemon.StopAsync(TimeSpan.FromSeconds(10));
            }

            Log.Released(_logger, _options.RouterId);
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _options.Peers.Changed -= OnPeersChanged;
        await _launchStopping.CancelAsync();
        if (_launch is not null)
        {
            await _launch.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        _released = true;
        if (_daemon is not null)
        {
            await _daemon.DisposeAsync();
        }

        if (_reader is not null)
        {
            try
            {
                await using var writer = new FileStream(FifoPath, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 1);
                await writer.WriteAsync("MULTIVIP-STOP\n"u8.ToArray());
            }
            catch (IOException)
            {
            }

            await _reader.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        _gate.Dispose();
        _launchStopping.Dispose();
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int mkfifo([MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint mode);

    private static partial class Log
    {
        [LoggerMessage(EventId = 5210, EventName = "VrrpStarted", Level = LogLevel.Information, Message = "VRRP: keepalived holds the VIP addresses on {Interface} (virtual router {RouterId}, priority {Priority}, from {Source}, peers [{Peers}], {Preempt})")]
        public static partial void Started(ILogger logger, string @interface, int routerId, int priority, IPAddress source, string peers, string preempt);

        [LoggerMessage(EventId = 5211, EventName = "VrrpStateChanged", Level = LogLevel.Warning, Message = "VRRP: this node went from {From} to {To} (virtual router {RouterId})")]
        public static partial void StateChanged(ILogger logger, string from, string to, int routerId);

        [LoggerMessage(EventId = 5212, EventName = "VrrpReloadFailed", Level = LogLevel.Warning, Message = "VRRP: could not signal keepalived to reload (errno {Errno}); the next change retries")]
        public static partial void ReloadFailed(ILogger logger, int errno);

        [LoggerMessage(EventId = 5213, EventName = "VrrpReleased", Level = LogLevel.Information, Message = "VRRP: stopping; keepalived gave up the addresses of virtual router {RouterId} so a peer takes over")]
        public static partial void Released(ILogger logger, int routerId);

        [LoggerMessage(EventId = 5800, EventName = "VrrpPeersChanged", Level = LogLevel.Information, Message = "VRRP: unicast peers of virtual router {RouterId} went from [{From}] to [{To}]; keepalived reloads")]
        public static partial void PeersChanged(ILogger logger, string from, string to, int routerId);

        [LoggerMessage(EventId = 5801, EventName = "VrrpWaitingForPeers", Level = LogLevel.Information, Message = "VRRP: keepalived for virtual router {RouterId} starts once the other nodes have this node's address from the node registry (else it would elect itself next to the master)")]
        public static partial void WaitingForPeers(ILogger logger, int routerId);

        [LoggerMessage(EventId = 5802, EventName = "VrrpPeersReady", Level = LogLevel.Information, Message = "VRRP: keepalived for virtual router {RouterId} started: {Reason}")]
        public static partial void PeersReady(ILogger logger, int routerId, string reason);
    }
}

/// <summary>Finds a program the way a shell would, plus the sbin directories a non-root PATH may lack.</summary>
internal static class Executables
{
    public static string? Find(string name)
    {
        if (name.Contains('/', StringComparison.Ordinal))
        {
            return File.Exists(name) ? name : null;
        }

        var path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries);
        foreach (var directory in path.Concat(["/usr/sbin", "/sbin", "/usr/local/sbin"]))
        {
            var candidate = Path.Combine(directory, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
