using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using MultiVip.DataPlane.Contract;
using MultiVip.Model.Errors;
using MultiVip.Model.Services;

namespace MultiVip.Network.Announcing;

/// <summary>A BGP neighbour: its address and AS (ours for iBGP).</summary>
internal sealed record BgpPeer(IPAddress Address, long Asn)
{
    /// <summary>ADDR, ADDR:ASN, [V6ADDR]:ASN or V6ADDR; without an ASN the neighbour is in <paramref name="localAsn"/>.</summary>
    public static BgpPeer Parse(string text, long localAsn)
    {
        var value = text.Trim();
        string address = value;
        string? asn = null;
        if (value.StartsWith('['))
        {
            var close = value.IndexOf(']', StringComparison.Ordinal);
            if (close > 0)
            {
                address = value[1..close];
                asn = value.Length > close + 2 && value[close + 1] == ':' ? value[(close + 2)..] : null;
            }
        }
        else if (value.Count(c => c == ':') == 1)
        {
            address = value[..value.IndexOf(':', StringComparison.Ordinal)];
            asn = value[(value.IndexOf(':', StringComparison.Ordinal) + 1)..];
        }

        if (!IPAddress.TryParse(address, out var ip))
        {
            throw MultiVipException.BadRequest($"'{text}' is not a BGP neighbour (--bgp-peer): use ADDR or ADDR:ASN, such as 192.0.2.1:65000 or [2001:db8::1]:65000.");
        }

        var peerAsn = localAsn;
        if (asn is not null && (!long.TryParse(asn, NumberStyles.None, CultureInfo.InvariantCulture, out peerAsn) || peerAsn is < 1 or > uint.MaxValue))
        {
            throw MultiVipException.BadRequest($"'{asn}' in --bgp-peer {text} is not an AS number (1-4294967295).");
        }

        return new BgpPeer(ip, peerAsn);
    }
}

/// <summary>Settings of the <c>bgp</c> announcer (--bgp-*).</summary>
internal sealed record BgpOptions
{
    public required long Asn { get; init; }

    public required IReadOnlyList<BgpPeer> Peers { get; init; }

    public required string DataDir { get; init; }

    public string? RouterId { get; init; }

    /// <summary>How ownership names this node (--node-name); null: the router id, else the host name.</summary>
    public string? NodeName { get; init; }

    public bool Bfd { get; init; }

    public int HoldTime { get; init; } = 90;

    /// <summary>Where the VIP addresses are put so the kernel accepts traffic routed to them (not announced by ARP).</summary>
    public string AddressInterface { get; init; } = "lo";

    public string Bird { get; init; } = "bird";

    public string Birdc { get; init; } = "birdc";

    /// <summary>How often health and the sessions are re-read (a backend going unhealthy withdraws its address within this).</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// `--announce bgp`: BIRD 2 announces a /32 or /128 for every VIP address this node serves to the
/// configured neighbours (a router with ECMP spreads flows over every node announcing it). The
/// addresses themselves go on lo (marked, as the local announcer does, never announced by ARP), so
/// the kernel accepts what the router sends. An address is announced while it is held, this node is
/// not stopping, and at least one listener on it has a backend in rotation; otherwise it is
/// withdrawn. MultiVip writes bird.conf in the data dir (0600) and reconfigures BIRD through its
/// control socket there (`birdc -s SOCK configure`); BIRD runs under <see cref="SupervisedDaemon"/>,
/// so it closes its sessions (and the router withdraws at once) when MultiVip dies.
/// </summary>
internal sealed partial class BgpAnnouncer : IAddressAnnouncer, INodeFailover
{
    private readonly BgpOptions _options;
    private readonly string _directory;
    private readonly LocalAddressAnnouncer _local;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly OwnershipLedger _ledger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private SupervisedDaemon? _daemon;
    private Task? _loop;
    private IBackendHealthSource? _health;
    private HashSet<IPAddress> _held = [];
    private HashSet<IPAddress> _announced = [];
    private IReadOnlyDictionary<string, string> _sessions = new Dictionary<string, string>();
    private string? _lastError;
    private DateTimeOffset? _lastErrorAt;
    private bool _released;
    private bool _configured;

    private BgpAnnouncer(BgpOptions options, string directory, LocalAddressAnnouncer local, TimeProvider time, ILogger logger)
    {
        _options = options;
        _directory = directory;
        _local = local;
        _time = time;
        _logger = logger;
        Node = options.NodeName ?? options.RouterId ?? Environment.MachineName;
        _ledger = new OwnershipLedger(Node, "bgp", time);
    }

    public string Name => "bgp";

    public bool ManagesAddresses => true;

    public string Node { get; }

    public string? AnnounceAddress => _options.RouterId;

    public string ConfigPath => Path.Combine(_directory, "bird.conf");

    public string SocketPath => Path.Combine(_directory, "bird.ctl");

    /// <summary>Each neighbour's session state as BIRD reports it (Established, Active, Connect, …).</summary>
    public IReadOnlyDictionary<string, string> Sessions => Volatile.Read(ref _sessions);

    /// <summary>The addresses BIRD is told to announce now.</summary>
    public IReadOnlySet<IPAddress> Announced => Volatile.Read(ref _announced);

    public static async Task<BgpAnnouncer> StartAsync(BgpOptions options, TimeProvider time, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        if (options.Asn is < 1 or > uint.MaxValue)
        {
            throw MultiVipException.BadRequest($"--bgp-asn must be an AS number, 1-4294967295, not {options.Asn}.");
        }

        if (options.Peers.Count == 0)
        {
            throw MultiVipException.BadRequest("--announce bgp needs at least one --bgp-peer ADDR[:ASN] (the router that spreads the VIPs' traffic over the nodes).");
        }

        if (options.RouterId is { } id && (!IPAddress.TryParse(id, out var parsed) || parsed.AddressFamily != AddressFamily.InterNetwork))
        {
            throw MultiVipException.BadRequest($"--bgp-router-id must be an IPv4 address (BGP's router id, unique per node), not '{id}'.");
        }

        if (options.HoldTime is not 0 and < 3)
        {
            throw MultiVipException.BadRequest($"--bgp-hold-time must be 0 or at least 3 seconds (RFC 4271), not {options.HoldTime}.");
        }

        var bird = Executables.Find(options.Bird)
            ?? throw new InvalidOperationException($"--announce bgp needs BIRD 2 ('{options.Bird}' is not installed or not on PATH): apt-get install bird2.");
        var birdc = Executables.Find(options.Birdc)
            ?? throw new InvalidOperationException($"--announce bgp needs BIRD's birdc ('{options.Birdc}' is not on PATH): apt-get install bird2.");
        var local = await LocalAddressAnnouncer.StartAsync(
            new LocalAnnouncerOptions { Interface = options.AddressInterface, Announce = false },
            time,
            loggers.CreateLogger<LocalAddressAnnouncer>(),
            cancellationToken);
        var directory = Path.Combine(options.DataDir, "bird");
        Directory.CreateDirectory(directory);
        File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var announcer = new BgpAnnouncer(options with { Bird = bird, Birdc = birdc }, directory, local, time, loggers.CreateLogger<BgpAnnouncer>());
        try
        {
            await announcer.StartDaemonAsync(cancellationToken);
        }
        catch
        {
            await announcer.DisposeAsync();
            throw;
        }

        return announcer;
    }

    /// <summary>The data plane's health: an address none of whose listeners has a backend in rotation is withdrawn.</summary>
    public void UseHealth(IBackendHealthSource health) => _health = health;

    private async Task StartDaemonAsync(CancellationToken cancellationToken)
    {
        WriteConfig(new HashSet<IPAddress>());
        File.Delete(SocketPath);
        _daemon = new SupervisedDaemon(
            "bird",
            _options.Bird,
            () => ["-f", "-c", ConfigPath, "-s", SocketPath, "-P", Path.Combine(_directory, "bird.pid")],
            Path.Combine(_directory, "bird.log"),
            _time,
            _logger);
        _daemon.Started += () => _configured = false; // a restarted BIRD read the file; re-check it matches
        await _daemon.StartAsync(cancellationToken);
        _loop = Task.Run(() => PollAsync(_stopping.Token), CancellationToken.None);
        var peers = string.Join(", ", _options.Peers.Select(p => $"{p.Address} (AS {p.Asn})"));
        Log.Started(_logger, _options.Asn, peers, _options.HoldTime, _options.Bfd ? "on" : "off");
    }

    public async Task HoldAsync(IReadOnlySet<IPAddress> addresses, bool verify, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            await _local.HoldAsync(addresses, verify, cancellationToken);
            foreach (var gone in _held.Where(a => !addresses.Contains(a)))
            {
                _ledger.Forget(gone);
            }

            _held = [.. addresses];
            await ReconcileLockedAsync(cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task PollAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_options.PollInterval, _time, cancellationToken);
                await _gate.WaitAsync(cancellationToken);
                try
                {
                    await ReconcileLockedAsync(cancellationToken);
                }
                finally
                {
                    _gate.Release();
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                SetError(e.Message);
            }
        }
    }

    /// <summary>Works out what to announce, tells BIRD when that changed, and reads the sessions back.</summary>
    private async Task ReconcileLockedAsync(CancellationToken cancellationToken)
    {
        var serving = Serving();
        var announce = _released
            ? []
            : _held.Where(a => _local.GetStatus(a) is { Held: true } && serving.Contains(a)).ToHashSet();
        if (!_configured || !announce.SetEquals(_announced))
        {
            WriteConfig(announce);
            if (_daemon is { IsRunning: true })
            {
                var (ok, output) = await BirdcAsync(["configure"], cancellationToken);
                _configured = ok && (output.Contains("Reconfigured", StringComparison.Ordinal) || output.Contains("Reconfiguration in progress", StringComparison.Ordinal));
                if (!_configured)
                {
                    SetError($"BIRD did not take the new configuration: {output.Trim()}");
                }
            }

            Volatile.Write(ref _announced, announce);

            // BIRD withdrew what left the configuration the moment it took it: the node says so now,
            // not after the session read below, so its view never trails what the router was told.
            RecordStates(announce, established: null);
        }

        var sessions = _daemon is { IsRunning: true } ? await ReadSessionsAsync(cancellationToken) : new Dictionary<string, string>();
        Volatile.Write(ref _sessions, sessions);
        RecordStates(announce, sessions.Values.Any(s => s == "Established"));
    }

    /// <summary>Records each held address's route state; with <paramref name="established"/> unknown, only the withdrawn ones.</summary>
    private void RecordStates(HashSet<IPAddress> announce, bool? established)
    {
        foreach (var address in _held)
        {
            if (established is null && announce.Contains(address))
            {
                continue;
            }

            var (state, reason) = announce.Contains(address)
                ? established == true ? ("announced", "BGP session established, route exported") : ("withdrawn", "no BGP session is established")
                : _released ? ("withdrawn", "the node is stopping")
                : _local.GetStatus(address) is not { Held: true } ? ("withdrawn", "the address is not on " + _options.AddressInterface)
                : ("withdrawn", "no listener on the address has a backend in rotation");
            if (_ledger.Set(address, state, reason))
            {
                Log.RouteChanged(_logger, address, state, reason);
            }
        }
    }

    /// <summary>Addresses with at least one listener whose backends include one in rotation (not Unhealthy).</summary>
    private HashSet<IPAddress> Serving()
    {
        var health = _health?.GetHealth() ?? [];
        return health.Where(h => h.State != HealthState.Unhealthy).Select(h => h.Listener.Address).ToHashSet();
    }

    private void WriteConfig(IReadOnlySet<IPAddress> announce)
    {
        var text = RenderConfig(_options, announce);
        var temporary = ConfigPath + ".tmp";
        File.WriteAllText(temporary, text);
        File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.Move(temporary, ConfigPath, overwrite: true);
    }

    internal static string RenderConfig(BgpOptions options, IReadOnlySet<IPAddress> announce)
    {
        var i = CultureInfo.InvariantCulture;
        var c = new StringBuilder();
        c.AppendLine("# Written by MultiVip (--announce bgp) and rewritten whenever the announced set changes: do not edit.");
        if (options.RouterId is { } id)
        {
            c.AppendLine(i, $"router id {id};");
        }

        c.AppendLine("log stderr all;");
        c.AppendLine("protocol device {}");
        foreach (var (family, bits, name) in new[] { (AddressFamily.InterNetwork, 32, "ipv4"), (AddressFamily.InterNetworkV6, 128, "ipv6") })
        {
            // Blackhole: the route exists only in BIRD (no kernel protocol), as the thing to export.
            c.AppendLine(i, $"protocol static multivip_{name} {{");
            c.AppendLine(i, $"    {name};");
            foreach (var address in announce.Where(a => a.AddressFamily == family).OrderBy(a => a.ToString(), StringComparer.Ordinal))
            {
                c.AppendLine(i, $"    route {address}/{bits} blackhole;");
            }

            c.AppendLine("}");
        }

        if (options.Bfd)
        {
            c.AppendLine("protocol bfd multivip_bfd {");
            c.AppendLine("    interface \"*\" { interval 100 ms; multiplier 3; };");
            c.AppendLine("}");
        }

        for (var n = 0; n < options.Peers.Count; n++)
        {
            var peer = options.Peers[n];
            var name = peer.Address.AddressFamily == AddressFamily.InterNetwork ? "ipv4" : "ipv6";
            c.AppendLine(i, $"protocol bgp multivip_peer{n + 1} {{");
            c.AppendLine(i, $"    local as {options.Asn};");
            c.AppendLine(i, $"    neighbor {peer.Address} as {peer.Asn};");
            if (options.HoldTime > 0)
            {
                c.AppendLine(i, $"    hold time {options.HoldTime};");
                c.AppendLine(i, $"    keepalive time {Math.Max(1, options.HoldTime / 3)};");
            }

            if (peer.Asn == options.Asn)
            {
                // iBGP would be multihop by default (and BFD then needs a local address): the
                // router is on the node's segment, as it is for eBGP.
                c.AppendLine("    direct;");
            }

            c.AppendLine("    connect retry time 5;");
            c.AppendLine("    error wait time 1, 30;");
            if (options.Bfd)
            {
                c.AppendLine("    bfd on;");
            }

            c.AppendLine(i, $"    {name} {{ import none; export where proto = \"multivip_{name}\"; }};");
            c.AppendLine("}");
        }

        return c.ToString();
    }

    private async Task<Dictionary<string, string>> ReadSessionsAsync(CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, string>();
        var (ok, output) = await BirdcAsync(["show", "protocols"], cancellationToken);
        if (!ok)
        {
            return result;
        }

        // Name       Proto      Table      State  Since         Info
        // multivip_peer1 BGP    ---        up     10:00:00.000  Established
        foreach (var line in output.Split('\n'))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length >= 4 && parts[1] == "BGP")
            {
                var index = int.TryParse(parts[0].AsSpan("multivip_peer".Length), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n - 1 : -1;
                var peer = index >= 0 && index < _options.Peers.Count ? _options.Peers[index].Address.ToString() : parts[0];
                result[peer] = parts.Length >= 6 ? parts[^1] : parts[3];
            }
        }

        return result;
    }

    private async Task<(bool Ok, string Output)> BirdcAsync(IReadOnlyList<string> command, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(_options.Birdc)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-s");
        start.ArgumentList.Add(SocketPath);
        foreach (var part in command)
        {
            start.ArgumentList.Add(part);
        }

        using var process = Process.Start(start) ?? throw new IOException($"could not start {_options.Birdc}");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw;
        }

        return (process.ExitCode == 0, await stdout + await stderr);
    }

    private void SetError(string message)
    {
        _lastError = message;
        _lastErrorAt = _time.GetUtcNow();
        Log.Problem(_logger, message);
    }

    public IReadOnlyList<AddressStatus> GetStatus() => [.. Volatile.Read(ref _held).Select(a => GetStatus(a)!)];

    public AddressStatus? GetStatus(IPAddress address)
    {
        if (!Volatile.Read(ref _held).Contains(address))
        {
            return null;
        }

        var entry = _ledger.Get(address);
        var local = _local.GetStatus(address);
        var announced = entry?.State == "announced";
        return new AddressStatus(address, announced, announced ? entry!.Since : null, local?.LastError ?? _lastError, local?.LastErrorAt ?? _lastErrorAt)
        {
            State = entry?.State ?? "withdrawn",
            StateSince = entry?.Since,
            StateChanges = entry?.Changes ?? 0,
        };
    }

    public IReadOnlyList<OwnershipChange> History() => _ledger.History();

    /// <summary>Clean stop: every route is withdrawn now (the sessions stay up), so the router sends new flows elsewhere while this node drains.</summary>
    public async Task ReleaseAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            _released = true;
            await ReconcileLockedAsync(cancellationToken);
            Log.Released(_logger);
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        if (_daemon is not null)
        {
            await _daemon.DisposeAsync();
        }

        // The addresses on lo go with the node (the local announcer removes only marked ones).
        await _local.HoldAsync(new HashSet<IPAddress>(), verify: true, CancellationToken.None);
        await _local.DisposeAsync();
        _stopping.Dispose();
        _gate.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5230, EventName = "BgpStarted", Level = LogLevel.Information, Message = "BGP: BIRD announces the VIP addresses as AS {Asn} to {Peers} (hold time {HoldTime} s, BFD {Bfd})")]
        public static partial void Started(ILogger logger, long asn, string peers, int holdTime, string bfd);

        [LoggerMessage(EventId = 5231, EventName = "BgpRouteChanged", Level = LogLevel.Warning, Message = "BGP: {Address} is now {State}: {Reason}")]
        public static partial void RouteChanged(ILogger logger, IPAddress address, string state, string reason);

        [LoggerMessage(EventId = 5232, EventName = "BgpProblem", Level = LogLevel.Warning, Message = "BGP: {Message}")]
        public static partial void Problem(ILogger logger, string message);

        [LoggerMessage(EventId = 5233, EventName = "BgpReleased", Level = LogLevel.Information, Message = "BGP: stopping; every VIP route is withdrawn so the router sends new flows to the other nodes")]
        public static partial void Released(ILogger logger);
    }
}
