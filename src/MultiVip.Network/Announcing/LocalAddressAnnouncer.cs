using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using MultiVip.DataPlane.Contract;
using MultiVip.Model.Errors;
using MultiVip.Network.Linux;

namespace MultiVip.Network.Announcing;

/// <summary>Settings of the <c>local</c> announcer.</summary>
internal sealed record LocalAnnouncerOptions
{
    /// <summary>
    /// The mark on every address MultiVip adds: the address's metric (IFA_RT_PRIORITY). It is stored
    /// by the kernel with the address itself, so it survives kill -9 with nothing to go stale; it works
    /// for IPv4 and IPv6 alike (labels are IPv4-only and 15 characters; iproute2 6.1 cannot set an
    /// address protocol); `ip addr` shows it. 19798 is 0x4D56, "MV". Addresses without it are never touched.
    /// </summary>
    public const int DefaultMetric = 19798;

    public required string Interface { get; init; }

    public int Metric { get; init; } = DefaultMetric;

    /// <summary>Announcements of a newly held address: one at once, then one per interval for this long (MetalLB: 5 s).</summary>
    public TimeSpan AnnounceFor { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan AnnounceInterval { get; init; } = TimeSpan.FromSeconds(1);

    public string IpExecutable { get; init; } = "ip";

    /// <summary>
    /// False for addresses that live on the node itself and are routed to it (BGP: on lo), where
    /// ARP/NDP announcements mean nothing.
    /// </summary>
    public bool Announce { get; init; } = true;
}

/// <summary>
/// Holds VIP addresses on one interface of this host: each as a /32 or /128 with MultiVip's mark,
/// announced by gratuitous ARP or an unsolicited neighbour advertisement right away and repeatedly
/// for a few seconds. Only marked addresses are ever removed, so an address an operator added by
/// hand stays, even when it is a VIP's (it then counts as held, and is announced, but never deleted).
/// At start the first verified <see cref="HoldAsync"/> adopts marked addresses that are still wanted
/// and removes the stale ones a killed predecessor left.
/// </summary>
internal sealed partial class LocalAddressAnnouncer : IAddressAnnouncer
{
    private readonly LocalAnnouncerOptions _options;
    private readonly IpRoute _ip;
    private readonly IAnnouncementSender _sender;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Lock _statusGate = new();
    private readonly Dictionary<IPAddress, CancellationTokenSource> _bursts = [];
    private readonly CancellationTokenSource _disposing = new();
    private Dictionary<IPAddress, AddressStatus> _status = [];
    private HashSet<IPAddress> _target = [];
    private bool _verifiedOnce;

    private LocalAddressAnnouncer(LocalAnnouncerOptions options, IpRoute ip, IAnnouncementSender sender, TimeProvider time, ILogger logger)
    {
        _options = options;
        _ip = ip;
        _sender = sender;
        _time = time;
        _logger = logger;
    }

    public string Name => "local";

    public bool ManagesAddresses => true;

    public string Interface => _options.Interface;

    /// <summary>
    /// Checks everything that would make holding addresses fail for all of them — the capability, the
    /// `ip` program, the interface — and refuses with a sentence saying what to do.
    /// </summary>
    public static async Task<LocalAddressAnnouncer> StartAsync(LocalAnnouncerOptions options, TimeProvider time, ILogger logger, CancellationToken cancellationToken, Func<LinkInfo, IAnnouncementSender>? sender = null)
    {
        var device = options.Interface;
        if (device.Length is 0 or > 15 || !device.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or '@'))
        {
            throw MultiVipException.BadRequest($"'{device}' is not an interface name (--vip-interface): use the name `ip link` shows, such as eth0.");
        }

        foreach (var (capability, name) in new[] { (Capabilities.NetAdmin, "CAP_NET_ADMIN"), (Capabilities.NetRaw, "CAP_NET_RAW") })
        {
            if (!Capabilities.Has(capability))
            {
                throw new InvalidOperationException(
                    $"--vip-interface {device} needs the CAP_NET_ADMIN and CAP_NET_RAW capabilities (to add VIP addresses to {device} and announce them by ARP/NDP), and this process lacks {name}. "
                    + "Run multivip serve as root, or from a systemd unit with AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW; or leave out --vip-interface and add the VIP addresses yourself.");
            }
        }

        var ip = new IpRoute(options.IpExecutable);
        LinkInfo? link;
        try
        {
            link = await ip.GetLinkAsync(device, cancellationToken);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new InvalidOperationException($"--vip-interface needs iproute2's `{options.IpExecutable}` command, which is not installed (apt-get install iproute2).");
        }

        if (link is null)
        {
            throw MultiVipException.BadRequest($"The interface '{device}' given to --vip-interface does not exist on this host; `ip link` lists the interfaces.");
        }

        if (options.Announce && link.MacAddress.Length != 6)
        {
            throw MultiVipException.BadRequest($"The interface '{device}' has no Ethernet address, so VIPs on it cannot be announced by ARP/NDP. Give an Ethernet interface (or bridge) to --vip-interface.");
        }

        var announcer = new LocalAddressAnnouncer(options, ip, (sender ?? (l => options.Announce ? new PacketSender(l) : new SilentSender()))(link), time, logger);
        var mac = Convert.ToHexString(link.MacAddress);
        Log.Started(logger, device, link.Index, mac, options.Metric);
        return announcer;
    }

    public async Task HoldAsync(IReadOnlySet<IPAddress> addresses, bool verify, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            verify |= !_verifiedOnce;
            if (!verify && _target.SetEquals(addresses))
            {
                return;
            }

            await ReconcileAsync(addresses, cancellationToken);
            _verifiedOnce = true;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task ReconcileAsync(IReadOnlySet<IPAddress> wanted, CancellationToken cancellationToken)
    {
        var device = _options.Interface;
        var now = _time.GetUtcNow();
        IReadOnlyList<InterfaceAddress> present;
        try
        {
            present = await _ip.GetAddressesAsync(device, cancellationToken);
        }
        catch (IOException e)
        {
            // The interface went away (or ip failed): nothing is held, and every address says why.
            Log.ReadFailed(_logger, device, e.Message);
            Publish(wanted, [], [], e.Message, now);
            return;
        }

        var commands = new List<string>();
        var presentSet = present.Select(a => a.Address).ToHashSet();
        var presentBefore = presentSet;
        foreach (var address in wanted)
        {
            if (!presentSet.Contains(address))
            {
                var v6 = address.AddressFamily == AddressFamily.InterNetworkV6;
                // nodad: the address is ours to use at once; duplicate detection would keep it
                // "tentative" (unusable, not answered) for a second or more.
                commands.Add(string.Create(CultureInfo.InvariantCulture, $"addr add {address}/{(v6 ? 128 : 32)} dev {device} metric {_options.Metric}{(v6 ? " nodad" : "")}"));
            }
        }

        var stale = present.Where(a => a.Metric == _options.Metric && a.IsHostRoute && !wanted.Contains(a.Address)).ToList();
        foreach (var address in stale)
        {
            commands.Add(string.Create(CultureInfo.InvariantCulture, $"addr del {address.Address}/{address.PrefixLength} dev {device}"));
        }

        var batchError = "";
        if (commands.Count > 0)
        {
            batchError = await _ip.BatchAsync(commands, cancellationToken);
            try
            {
                present = await _ip.GetAddressesAsync(device, cancellationToken);
            }
            catch (IOException e)
            {
                batchError = e.Message;
                present = [];
            }

            presentSet = present.Select(a => a.Address).ToHashSet();
        }

        foreach (var address in stale)
        {
            if (presentSet.Contains(address.Address))
            {
                Log.RemoveFailed(_logger, address.Address, device, batchError);
            }
            else
            {
                Log.Removed(_logger, address.Address, device);
            }
        }

        Publish(wanted, presentSet, presentBefore, batchError, now);
        _target = [.. wanted];
    }

    /// <summary>Updates the status of every wanted address and starts or stops announcement bursts.</summary>
    private void Publish(IReadOnlySet<IPAddress> wanted, HashSet<IPAddress> present, HashSet<IPAddress> presentBefore, string error, DateTimeOffset now)
    {
        Dictionary<IPAddress, AddressStatus> previous;
        lock (_statusGate)
        {
            previous = _status;
        }

        var next = new Dictionary<IPAddress, AddressStatus>(wanted.Count);
        foreach (var address in wanted)
        {
            previous.TryGetValue(address, out var before);
            if (present.Contains(address))
            {
                // Also when it was held before but someone removed it and this round put it back:
                // neighbours may have moved on, so it is announced (and held) anew.
                var newlyHeld = before is not { Held: true } || !presentBefore.Contains(address);
                next[address] = new AddressStatus(address, true, newlyHeld ? now : before!.HeldSince, before?.LastError, before?.LastErrorAt);
                if (newlyHeld)
                {
                    if (before is null && presentBefore.Contains(address))
                    {
                        // On the interface before we asked: left by an earlier run (or added by hand).
                        Log.Adopted(_logger, address, _options.Interface);
                    }
                    else
                    {
                        Log.Added(_logger, address, _options.Interface);
                    }

                    StartBurst(address);
                }
            }
            else
            {
                var reason = error.Length > 0 ? error : "the address was not on the interface after adding it";
                var message = $"cannot add {address} to {_options.Interface}: {reason}";
                next[address] = new AddressStatus(address, false, null, message, now);
                if (before?.LastError != message)
                {
                    Log.AddFailed(_logger, address, _options.Interface, reason);
                }

                StopBurst(address);
            }
        }

        foreach (var address in previous.Keys)
        {
            if (!wanted.Contains(address))
            {
                StopBurst(address);
            }
        }

        lock (_statusGate)
        {
            _status = next;
        }
    }

    public AddressStatus? GetStatus(IPAddress address)
    {
        lock (_statusGate)
        {
            return _status.GetValueOrDefault(address);
        }
    }

    public IReadOnlyList<AddressStatus> GetStatus()
    {
        lock (_statusGate)
        {
            return [.. _status.Values];
        }
    }

    private void StartBurst(IPAddress address)
    {
        StopBurst(address);
        if (!_options.Announce)
        {
            return;
        }

        var cts = CancellationTokenSource.CreateLinkedTokenSource(_disposing.Token);
        lock (_bursts)
        {
            _bursts[address] = cts;
        }

        _ = Task.Run(() => BurstAsync(address, cts.Token), CancellationToken.None);
    }

    private void StopBurst(IPAddress address)
    {
        lock (_bursts)
        {
            if (_bursts.Remove(address, out var cts))
            {
                cts.Cancel();
                cts.Dispose();
            }
        }
    }

    /// <summary>Once now, then every interval until <see cref="LocalAnnouncerOptions.AnnounceFor"/> has passed.</summary>
    private async Task BurstAsync(IPAddress address, CancellationToken cancellationToken)
    {
        var sends = 1 + (int)(_options.AnnounceFor / _options.AnnounceInterval);
        for (var i = 0; i < sends && !cancellationToken.IsCancellationRequested; i++)
        {
            if (i > 0)
            {
                try
                {
                    await Task.Delay(_options.AnnounceInterval, _time, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }

            try
            {
                _sender.Announce(address);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                var message = $"announcing {address} on {_options.Interface} failed: {e.Message}";
                Log.AnnounceFailed(_logger, address, _options.Interface, e.Message);
                lock (_statusGate)
                {
                    if (_status.TryGetValue(address, out var status))
                    {
                        _status = new Dictionary<IPAddress, AddressStatus>(_status) { [address] = status with { LastError = message, LastErrorAt = _time.GetUtcNow() } };
                    }
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _disposing.CancelAsync();
        lock (_bursts)
        {
            foreach (var cts in _bursts.Values)
            {
                cts.Dispose();
            }

            _bursts.Clear();
        }

        _sender.Dispose();
        _disposing.Dispose();
        _gate.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1301, EventName = "AnnouncerStarted", Level = LogLevel.Information, Message = "VIP addresses are held on {Interface} (index {Index}, MAC {Mac}), marked with metric {Metric}")]
        public static partial void Started(ILogger logger, string @interface, int index, string mac, int metric);

        [LoggerMessage(EventId = 1302, EventName = "AddressAdded", Level = LogLevel.Information, Message = "Holding {Address} on {Interface}; announcing it")]
        public static partial void Added(ILogger logger, IPAddress address, string @interface);

        [LoggerMessage(EventId = 1303, EventName = "AddressAdopted", Level = LogLevel.Information, Message = "Adopted {Address} on {Interface} (left by an earlier run); announcing it")]
        public static partial void Adopted(ILogger logger, IPAddress address, string @interface);

        [LoggerMessage(EventId = 1304, EventName = "AddressRemoved", Level = LogLevel.Information, Message = "Withdrew {Address} from {Interface}")]
        public static partial void Removed(ILogger logger, IPAddress address, string @interface);

        [LoggerMessage(EventId = 1305, EventName = "AddressAddFailed", Level = LogLevel.Warning, Message = "Cannot hold {Address} on {Interface}: {Reason}; retrying")]
        public static partial void AddFailed(ILogger logger, IPAddress address, string @interface, string reason);

        [LoggerMessage(EventId = 1306, EventName = "AddressRemoveFailed", Level = LogLevel.Warning, Message = "Cannot withdraw {Address} from {Interface}: {Reason}; retrying")]
        public static partial void RemoveFailed(ILogger logger, IPAddress address, string @interface, string reason);

        [LoggerMessage(EventId = 1307, EventName = "AnnounceFailed", Level = LogLevel.Warning, Message = "Announcing {Address} on {Interface} failed: {Reason}")]
        public static partial void AnnounceFailed(ILogger logger, IPAddress address, string @interface, string reason);

        [LoggerMessage(EventId = 1308, EventName = "AddressReadFailed", Level = LogLevel.Warning, Message = "Cannot read the addresses of {Interface}: {Reason}; retrying")]
        public static partial void ReadFailed(ILogger logger, string @interface, string reason);
    }
}

/// <summary>For addresses that are never announced on a segment (BGP's, on lo).</summary>
internal sealed class SilentSender : IAnnouncementSender
{
    public void Announce(IPAddress address)
    {
    }

    public void Dispose()
    {
    }
}
