using System.Net;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Health;
using MultiVip.DataPlane.Routing;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Nftables;

/// <summary>Settings of the kernel plane (serve: --data-plane nftables, --kernel-snat).</summary>
public sealed record NftablesOptions
{
    /// <summary>Masquerade forwarded connections to the node's address (default); false keeps clients' addresses (backends route via the node).</summary>
    public bool Masquerade { get; init; } = true;

    /// <summary>The nft executable found on PATH: with it (and <see cref="InProcess"/>) commits go through libnftables instead.</summary>
    public const string DefaultNft = "nft";

    /// <summary>The nft executable (tests may point it elsewhere; any other value than <see cref="DefaultNft"/> commits through that executable).</summary>
    public string Nft { get; init; } = DefaultNft;

    /// <summary>
    /// Commit through libnftables.so.1 in this process (default) rather than one <c>nft -f -</c> process per
    /// change; without the library the plane falls back to the executable on its own (bench/kernel-scale --nft-process measures both).
    /// </summary>
    public bool InProcess { get; init; } = true;

    public string Conntrack { get; init; } = "conntrack";
}

/// <summary>
/// The kernel <see cref="IHostedDataPlane"/>: every listener that needs no user space is rendered into the
/// nftables table <c>inet multivip</c> (<see cref="NftRuleset"/>) and carried by netfilter (DNAT,
/// conntrack) without a context switch per packet; listeners with the PROXY protocol stay on the
/// user-space plane (<paramref name="userSpace"/>) in the same server, one plane per listener.
/// Balancing and health are the user-space plane's own (<see cref="RouteController"/>: Maglev over the
/// members in rotation, probes per backend); a probe verdict re-renders only that listener's slots.
/// <see cref="ApplyAsync"/> returns after nft committed, so operations succeed only once the kernel has the rules.
/// </summary>
public sealed partial class NftablesDataPlane : IHostedDataPlane
{
    private static readonly TimeSpan CounterCacheAge = TimeSpan.FromSeconds(1);

    /// <summary>Empty slot maps kept ready (a change adding more load-balanced listeners than this writes the rest through nft).</summary>
    private const int SpareSlotMaps = 4;

    private readonly IHostedDataPlane _userSpace;
    private readonly List<Task> _flowDeletes = [];
    private readonly NftCommand _nft;
    private readonly NftSetElements? _elements;
    private readonly Queue<int> _spares = new();
    private readonly string _conntrack;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _commit = new(1, 1);
    private readonly Dictionary<ListenerKey, Entry> _listeners = [];

    /// <summary>The wanted kernel listeners of the ApplyAsync under way (under <see cref="_commit"/>), kept so no change allocates one.</summary>
    private readonly Dictionary<ListenerKey, ListenerSpec> _wanted = [];
    private readonly Lock _gate = new();
    private readonly Channel<ListenerKey> _routeChanges = Channel.CreateUnbounded<ListenerKey>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _routeLoop;
    private readonly Dictionary<(string, string), (long In, long Out)> _retiredBytes = new(VipComparer.Instance);
    private KernelRenderOptions _render;
    private HashSet<string> _timeouts = new(StringComparer.Ordinal);
    private bool _tableReady;
    private int _nextListenerId;
    private int _nextBackendId;
    private (DateTimeOffset At, IReadOnlyDictionary<string, (long Packets, long Bytes)> Values)? _counters;

    public NftablesDataPlane(NftablesOptions options, IHostedDataPlane userSpace, ILoggerFactory loggerFactory, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(userSpace);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        if (!NetAdminCapability.IsEffective())
        {
            throw new InvalidOperationException(
                "--data-plane nftables needs CAP_NET_ADMIN to write the nftables table 'inet multivip': run multivip serve as root, "
                + "or grant it (systemd: AmbientCapabilities=CAP_NET_ADMIN; setcap cap_net_admin+ep on the binary), or use --data-plane userspace.");
        }

        _userSpace = userSpace;
        _nft = new NftCommand(options.Nft, options.Conntrack, options.InProcess);
        _conntrack = options.Conntrack;
        _time = timeProvider;
        _loggers = loggerFactory;
        _logger = loggerFactory.CreateLogger<NftablesDataPlane>();
        _render = new KernelRenderOptions(options.Masquerade, ConntrackTimeouts: true);
        _routeLoop = Task.Run(RouteLoopAsync);
        if (_nft.InProcess)
        {
            Log.CommitsInProcess(_logger);

            // Only beside libnftables: with an nft executable (--nft-process, or a test's stand-in) every
            // element goes through that executable, as before.
            _elements = NftSetElements.TryOpen(out var problem);
            if (problem is not null)
            {
                Log.NoNetlinkElements(_logger, problem);
            }
        }
        else
        {
            Log.CommitsThroughExecutable(_logger, options.Nft);
        }
    }

    /// <summary>Raised after a route change (a probe verdict) was committed, with how long the nft commit took (bench/kernel-scale).</summary>
    internal event Action<ListenerKey, TimeSpan>? RouteCommitted;

    /// <summary>Raised after each ApplyAsync with where its time went (bench/kernel-scale --breakdown); measured only while someone listens.</summary>
    internal event Action<CommitCost>? ChangeCommitted;

    /// <summary>The meter of the ApplyAsync under way (under <see cref="_commit"/>), or null when nobody listens to <see cref="ChangeCommitted"/>.</summary>
    private CommitCostMeter? _meter;

    public IReadOnlySet<IPAddress> DrainingAddresses() => _userSpace.DrainingAddresses();

    /// <summary>Only the user-space listeners (PROXY protocol) have sockets to hand over; kernel listeners are rules, re-rendered by the successor.</summary>
    public IReadOnlyList<ListeningSocket> ListeningSockets() => _userSpace.ListeningSockets();

    public event Action? DrainCompleted
    {
        add => _userSpace.DrainCompleted += value;
        remove => _userSpace.DrainCompleted -= value;
    }

    /// <summary>Whether the listener is carried by the kernel: any listener that needs no user space.</summary>
    internal static bool IsKernel(ListenerSpec spec) => spec.ProxyProtocol == ProxyProtocolVersion.None;

    public async Task<ApplyResult> ApplyAsync(DesiredState desired, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(desired);
        var began = _time.GetTimestamp();
        var userResult = await _userSpace.ApplyAsync(desired with { Listeners = [.. desired.Listeners.Where(l => !IsKernel(l))] }, cancellationToken).ConfigureAwait(false);
        var faults = new List<ListenerFault>(userResult.Faults);
        var waiting = _time.GetTimestamp();
        await _commit.WaitAsync(cancellationToken).ConfigureAwait(false);
        var lockWait = _time.GetElapsedTime(waiting);
        var meter = _meter = ChangeCommitted is null ? null : new CommitCostMeter(nftOnThisThread: _nft.InProcess);
        try
        {
            await ApplyKernelAsync(desired.Listeners, faults, cancellationToken).ConfigureAwait(false);
            Task[] deleting;
            lock (_gate)
            {
                deleting = [.. _flowDeletes];
                _flowDeletes.Clear();
            }

            // DeleteUdpFlowsAsync logs its own failures and never throws.
            await Task.WhenAll(deleting).ConfigureAwait(false);
        }
        finally
        {
            _meter = null;
            _commit.Release();
        }

        if (meter is not null)
        {
            ChangeCommitted?.Invoke(meter.Cost(_time.GetElapsedTime(began), lockWait));
        }

        return new ApplyResult(desired.Generation, faults);
    }

    /// <summary><paramref name="specs"/>: the whole desired state; only its kernel listeners (<see cref="IsKernel"/>) are looked at.</summary>
    private async Task ApplyKernelAsync(IReadOnlyList<ListenerSpec> specs, List<ListenerFault> faults, CancellationToken cancellationToken)
    {
        // One pass over the wanted and the current listeners, in collections kept for the plane's life:
        // at 10,000 listeners a fresh dictionary and key set per change were ~1 MB on the large-object
        // heap, whose budget sets off a blocking gen2 collection every few changes (bench/kernel-scale --breakdown).
        var diffing = _meter?.Begin() ?? default;
        var wanted = _wanted;
        wanted.Clear();
        foreach (var spec in specs)
        {
            if (!IsKernel(spec))
            {
                continue;
            }

            if (FloatingIpProblem(spec) is { } problem)
            {
                faults.Add(new ListenerFault(spec.Key, spec.ServiceName, problem));
                continue;
            }

            wanted[spec.Key] = spec;
        }

        // Changed listeners are removed and added again in the same transaction, under new numbers.
        var removed = new List<(Entry Entry, ListenerSpec? Next)>();
        var added = new List<ListenerSpec>();
        lock (_gate)
        {
            foreach (var entry in _listeners.Values)
            {
                var found = wanted.TryGetValue(entry.Rendered.Spec.Key, out var next);
                if (!found || !next!.IsEquivalentTo(entry.Rendered.Spec))
                {
                    removed.Add((entry, next));
                }
            }

            foreach (var spec in wanted.Values)
            {
                if (!_listeners.ContainsKey(spec.Key))
                {
                    added.Add(spec);
                }
            }
        }

        var changes = new List<Change>(removed.Count + added.Count);
        foreach (var (entry, next) in removed)
        {
            changes.Add(new Change(entry, next is null ? null : Prepare(next, entry.Controller)));
        }

        foreach (var spec in added)
        {
            changes.Add(new Change(null, Prepare(spec, null)));
        }

        if (!_tableReady)
        {
            await ReplaceTableAsync(changes, faults, cancellationToken).ConfigureAwait(false);
            return;
        }

        _meter?.End(CommitCostMeter.Section.Diff, diffing);
        if (changes.Count == 0)
        {
            return;
        }

        var declared = new HashSet<string>(_timeouts, StringComparer.Ordinal);
        var (filled, used) = FillSpareSlotMaps(changes);
        var rendering = _meter?.Begin() ?? default;
        var (refill, spares) = NewSpares();
        var all = string.Concat(filled.Select(c => Transaction(c, declared))) + refill;
        _meter?.End(CommitCostMeter.Section.Render, rendering);
        try
        {
            var committing = _meter?.Begin() ?? default;
            await _nft.CommitAsync(all, cancellationToken).ConfigureAwait(false);
            _meter?.End(CommitCostMeter.Section.Nft, committing);
            var finishing = _meter?.Begin() ?? default;
            _timeouts = declared;
            foreach (var spare in spares)
            {
                _spares.Enqueue(spare);
            }

            foreach (var change in filled)
            {
                Finish(change);
            }

            _meter?.End(CommitCostMeter.Section.Finish, finishing);
            return;
        }
        catch (NftException e) when (changes.Count > 1)
        {
            Log.BatchRefused(_logger, changes.Count, e.Message);
            await ReturnSparesAsync(used, cancellationToken).ConfigureAwait(false);
        }
        catch (NftException e)
        {
            await ReturnSparesAsync(used, cancellationToken).ConfigureAwait(false);
            Fail(changes[0], e.Message, faults);
            return;
        }

        // One listener's bad rules must not keep the others out: commit them one by one.
        foreach (var change in changes)
        {
            try
            {
                var declaredOne = new HashSet<string>(_timeouts, StringComparer.Ordinal);
                await _nft.CommitAsync(Transaction(change, declaredOne), cancellationToken).ConfigureAwait(false);
                _timeouts = declaredOne;
                Finish(change);
            }
            catch (NftException e)
            {
                Fail(change, e.Message, faults);
            }
        }
    }

    private async Task ReplaceTableAsync(List<Change> changes, List<ListenerFault> faults, CancellationToken cancellationToken)
    {
        var listeners = changes.Where(c => c.Next is not null).Select(c => c.Next!).ToList();
        try
        {
            await CommitReplaceAsync(listeners, cancellationToken).ConfigureAwait(false);
        }
        catch (NftException e) when (_render.ConntrackTimeouts && e.Message.Contains("timeout", StringComparison.OrdinalIgnoreCase))
        {
            // A kernel without nf_conntrack_timeout: listeners run on conntrack's default timeouts.
            Log.NoConntrackTimeouts(_logger, e.Message);
            _render = _render with { ConntrackTimeouts = false };
            try
            {
                await CommitReplaceAsync(listeners, cancellationToken).ConfigureAwait(false);
            }
            catch (NftException again)
            {
                FailAll(changes, again.Message, faults);
                return;
            }
        }
        catch (NftException e)
        {
            FailAll(changes, e.Message, faults);
            return;
        }

        _tableReady = true;
        foreach (var change in changes)
        {
            Finish(change);
        }
    }

    private async Task CommitReplaceAsync(List<Prepared> listeners, CancellationToken cancellationToken)
    {
        var declared = new HashSet<string>(StringComparer.Ordinal);
        _spares.Clear(); // the table is replaced, its spares with it
        var (refill, spares) = NewSpares();
        await _nft.CommitAsync(NftRuleset.Replace(_render, listeners.Select(p => p.Listener), declared) + refill, cancellationToken).ConfigureAwait(false);
        _timeouts = declared;
        foreach (var spare in spares)
        {
            _spares.Enqueue(spare);
        }

        Log.TableRendered(_logger, listeners.Count);
    }

    /// <summary>
    /// A new load-balanced NAT listener's Maglev map is its one big write (5,003 elements, ~25 ms of nft
    /// parsing): it goes through netlink (<see cref="NftSetElements"/>) into a spare map no rule uses yet,
    /// and the listener's transaction then names that map and writes no element of it. Traffic meets the
    /// map only when that transaction commits, so it is never seen half filled. Returns the changes as
    /// they are to be committed and the spares they took.
    /// </summary>
    private (List<Change> Changes, List<int> Used) FillSpareSlotMaps(List<Change> changes)
    {
        var used = new List<int>();
        if (_elements is null)
        {
            return (changes, used);
        }

        var filled = new List<Change>(changes.Count);
        foreach (var change in changes)
        {
            if (change.Next is { Listener: { HasSlotMap: true, Spec.DirectServerReturn: false, Route.Slots: { } slots } listener } next
                && _spares.TryDequeue(out var spare))
            {
                try
                {
                    var writing = _meter?.Begin() ?? default;
                    _elements.AddSlots($"slots-{spare}", NftRuleset.SlotMarks(slots));
                    _meter?.End(CommitCostMeter.Section.Netlink, writing);
                    used.Add(spare);
                    filled.Add(change with { Next = next with { Listener = listener with { SpareSlotMap = spare } } });
                    continue;
                }
                catch (NftException e)
                {
                    // The batch is atomic: the spare is still empty. nft writes this map instead.
                    Log.NetlinkElementsRefused(_logger, listener.Spec.Key, e.Message);
                    _spares.Enqueue(spare);
                }
            }

            filled.Add(change);
        }

        return (filled, used);
    }

    /// <summary>The text that tops the spares up to <see cref="SpareSlotMaps"/>, and their numbers (kept only if it commits).</summary>
    private (string Text, List<int> Numbers) NewSpares()
    {
        var numbers = new List<int>();
        if (_elements is null)
        {
            return ("", numbers);
        }

        var text = new System.Text.StringBuilder();
        for (var i = _spares.Count; i < SpareSlotMaps; i++)
        {
            var number = Interlocked.Increment(ref _nextListenerId);
            numbers.Add(number);
            text.Append(NftRuleset.SpareSlotMap(number));
        }

        return (text.ToString(), numbers);
    }

    /// <summary>Spares filled for a transaction the kernel refused: emptied and kept (or forgotten if even that fails: they cost only their name).</summary>
    private async Task ReturnSparesAsync(List<int> used, CancellationToken cancellationToken)
    {
        if (used.Count == 0)
        {
            return;
        }

        try
        {
            await _nft.CommitAsync(string.Concat(used.Select(NftRuleset.FlushSlotMap)), cancellationToken).ConfigureAwait(false);
            foreach (var spare in used)
            {
                _spares.Enqueue(spare);
            }
        }
        catch (NftException e)
        {
            Log.SparesLost(_logger, used.Count, e.Message);
        }
    }

    private void FailAll(List<Change> changes, string message, List<ListenerFault> faults)
    {
        foreach (var change in changes)
        {
            Fail(change, message, faults);
        }
    }

    /// <summary>One change as nft text; <paramref name="declared"/>: the idle-timeout policies committed or declared earlier in this transaction (kept only if it commits).</summary>
    private string Transaction(Change change, ISet<string> declared) =>
        (change.Old is { } old ? NftRuleset.Remove(old.Rendered, _render) : "")
        + (change.Next is { } next ? NftRuleset.Add(next.Listener, _render, declared) : "");

    /// <summary>A listener whose rules the kernel refused: a fault with nft's message, retried with the next snapshot.</summary>
    private void Fail(Change change, string message, List<ListenerFault> faults)
    {
        if (change.Next is { } next)
        {
            faults.Add(new ListenerFault(next.Listener.Spec.Key, next.Listener.Spec.ServiceName, $"nft refused the rules of {next.Listener.Spec.Key}: {message}"));
            Log.ListenerRefused(_logger, next.Listener.Spec.Key, message);
            if (change.Old is null)
            {
                next.Controller.StopProbing();
            }
        }
        else if (change.Old is { } old)
        {
            faults.Add(new ListenerFault(old.Rendered.Spec.Key, old.Rendered.Spec.ServiceName, $"nft refused removing {old.Rendered.Spec.Key}: {message}"));
        }
    }

    /// <summary>A committed change: the old listener's state goes (its UDP flows with it), the new one's probes start.</summary>
    private void Finish(Change change)
    {
        if (change.Old is { } old)
        {
            lock (_gate)
            {
                _listeners.Remove(old.Rendered.Spec.Key);
            }

            if (change.Next is null)
            {
                old.Controller.StopProbing();
            }

            RetireCounters(old.Rendered);
            ForgetUdpFlows(old.Rendered, change.Next?.Listener);
        }

        if (change.Next is { } next)
        {
            var entry = new Entry(next.Listener, next.Controller, next.MemberIds);
            lock (_gate)
            {
                _listeners[next.Listener.Spec.Key] = entry;
            }

            if (change.Old is null)
            {
                next.Controller.Start();
            }

            // Health may have moved while the transaction ran: look again.
            _routeChanges.Writer.TryWrite(next.Listener.Spec.Key);
        }
    }

    /// <summary>Numbers the listener and its backends and computes the route from the controller's table.</summary>
    private Prepared Prepare(ListenerSpec spec, RouteController? existing)
    {
        var controller = existing ?? new RouteController(spec, _time, _loggers, _ => { }, route => _routeChanges.Writer.TryWrite(route.Spec.Key));
        if (existing is not null)
        {
            _ = existing.Update(spec);
        }

        var id = Interlocked.Increment(ref _nextListenerId);
        var route = controller.Current;
        var backends = new List<KernelBackend>(route.Backends.Length);
        var ids = new Dictionary<BackendState, int>();
        foreach (var backend in route.Backends)
        {
            var backendId = Interlocked.Increment(ref _nextBackendId) & NftRuleset.MaxBackendId;
            backends.Add(new KernelBackend(backendId, backend.Spec));
            ids[backend] = backendId;
        }

        var listener = new KernelListener(id, spec, backends, RouteOf(route, ids, null));
        return new Prepared(listener, controller, ids);
    }

    /// <summary>
    /// The members in rotation as backend ids; with none, the last targets stay and new connections are
    /// rejected. <paramref name="mapped"/> is what the slot map holds now: a listener down to one member
    /// dispatches straight to it and leaves the map as it is, so returning members rewrite only slots that change.
    /// </summary>
    private static KernelRoute RouteOf(RouteTable route, IReadOnlyDictionary<BackendState, int> ids, int[]? mapped)
    {
        var reject = route.Members.Length == 0;
        var members = reject ? route.Backends : route.Members;
        if (members.Length == 1)
        {
            return new KernelRoute(ids[members[0]], mapped, reject);
        }

        var table = reject ? new MaglevTable([.. members.Select(m => m.Name)]) : route.Maglev!;
        var map = new int[table.Size];
        for (var slot = 0; slot < map.Length; slot++)
        {
            map[slot] = ids[members[table.MemberAt(slot)]];
        }

        return new KernelRoute(null, map, reject);
    }

    private async Task RouteLoopAsync()
    {
        var reader = _routeChanges.Reader;
        try
        {
            while (await reader.WaitToReadAsync(_stopping.Token).ConfigureAwait(false))
            {
                var keys = new HashSet<ListenerKey>();
                while (reader.TryRead(out var key))
                {
                    keys.Add(key);
                }

                await _commit.WaitAsync(_stopping.Token).ConfigureAwait(false);
                try
                {
                    await CommitRoutesAsync(keys, _stopping.Token).ConfigureAwait(false);
                }
                finally
                {
                    _commit.Release();
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task CommitRoutesAsync(HashSet<ListenerKey> keys, CancellationToken cancellationToken)
    {
        foreach (var key in keys)
        {
            Entry? entry;
            lock (_gate)
            {
                _listeners.TryGetValue(key, out entry);
            }

            if (entry is null)
            {
                continue;
            }

            var route = entry.Controller.Current;
            if (!ReferenceEquals(route.Spec, entry.Rendered.Spec) && !route.Spec.IsEquivalentTo(entry.Rendered.Spec))
            {
                continue; // a change is on its way through ApplyAsync
            }

            var next = entry.Rendered with { Route = RouteOf(route, entry.MemberIds, entry.Rendered.Route.Slots) };
            if (next.Route.Reject && entry.Rendered.Spec.DirectServerReturn)
            {
                // DSR is stateless on the node: an established flow follows the slots, so with no member
                // left the last members keep them (only new connections are refused), where NAT flows
                // would be pinned by conntrack whatever the slots say.
                next = next with { Route = entry.Rendered.Route with { Reject = true } };
            }

            if (next.Route.Reject == entry.Rendered.Route.Reject && next.Route.SameTargets(entry.Rendered.Route))
            {
                continue;
            }

            var text = NftRuleset.UpdateRoute(entry.Rendered, next, _render);
            try
            {
                var started = _time.GetTimestamp();
                if (text.Length > 0)
                {
                    await _nft.CommitAsync(text, cancellationToken).ConfigureAwait(false);
                }

                var took = _time.GetElapsedTime(started);

                Log.RouteCommitted(_logger, key, next.Route);
                var left = entry.Rendered.Backends.Where(b => InTargets(entry.Rendered.Route, b.Id) && !(InTargets(next.Route, b.Id) && !next.Route.Reject)).ToList();
                var updated = entry with { Rendered = next };
                lock (_gate)
                {
                    if (_listeners.TryGetValue(key, out var still) && ReferenceEquals(still, entry))
                    {
                        _listeners[key] = updated;
                    }
                }

                if (key.Protocol == TransportProtocol.Udp)
                {
                    await DeleteUdpFlowsAsync(key, left.Select(b => b.Spec.Target), cancellationToken).ConfigureAwait(false);
                }

                RouteCommitted?.Invoke(key, took);
            }
            catch (NftException e)
            {
                Log.RouteRefused(_logger, key, e.Message);
            }
        }
    }

    private static bool InTargets(KernelRoute route, int backendId) =>
        route.Direct == backendId || (route.Direct is null && route.Slots is { } slots && Array.IndexOf(slots, backendId) >= 0);

    /// <summary>UDP flows to backends a change removed are deleted at once; TCP flows drain on their conntrack entries.</summary>
    private void ForgetUdpFlows(KernelListener old, KernelListener? next)
    {
        if (old.Spec.Key.Protocol != TransportProtocol.Udp)
        {
            return;
        }

        var kept = next?.Backends.Select(b => b.Spec.Target).ToHashSet() ?? [];
        var gone = old.Backends.Select(b => b.Spec.Target).Where(t => !kept.Contains(t)).ToList();
        if (gone.Count > 0)
        {
            // Awaited by ApplyAsync before it returns: the operation is Succeeded only once the stale
            // flows are gone, so no datagram after it still reaches the removed backend.
            var deleting = DeleteUdpFlowsAsync(old.Spec.Key, gone, CancellationToken.None);
            lock (_gate)
            {
                _flowDeletes.Add(deleting);
            }
        }
    }

    private async Task DeleteUdpFlowsAsync(ListenerKey key, IEnumerable<IPEndPoint> backends, CancellationToken cancellationToken)
    {
        foreach (var target in backends)
        {
            string? error;
            try
            {
                error = await _nft.DeleteUdpFlowsAsync(new IPEndPoint(key.Address, key.Port), target, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or IOException or InvalidOperationException or OperationCanceledException)
            {
                // conntrack missing or killed: the flows age out on their own; the apply goes on.
                error = ex.Message;
            }

            if (error is not null)
            {
                Log.ConntrackFailed(_logger, key, target, error);
            }
            else
            {
                Log.UdpFlowsDeleted(_logger, key, target);
            }
        }
    }

    /// <summary>
    /// Validation Azure does for floating IP: with DSR the VM sees VIP:public port, so the local port must be the same.
    /// A loop, not a lambda over <paramref name="spec"/>: its closure was allocated on every call, DSR or not, and the
    /// diff calls this for each of 10,000 listeners per change (240 KB a change, NftChangeCostTests).
    /// </summary>
    private static string? FloatingIpProblem(ListenerSpec spec)
    {
        if (!spec.DirectServerReturn)
        {
            return null;
        }

        foreach (var wrong in spec.Backends)
        {
            if (wrong.Target.Port != spec.Key.Port)
            {
                return $"The endpoint {wrong.EndpointName} of {wrong.VmName} has EnableDirectServerReturn (floating IP): its local port {wrong.Target.Port} must equal the public port {spec.Key.Port}. Set the local port to {spec.Key.Port}.";
            }
        }

        return null;
    }

    public IReadOnlyList<BackendHealth> GetHealth(string? serviceName = null)
    {
        var health = new List<BackendHealth>(_userSpace.GetHealth(serviceName));
        var counters = Counters();
        foreach (var entry in Entries())
        {
            var spec = entry.Rendered.Spec;
            if (serviceName is not null && !VipComparer.Instance.Equals((spec.ServiceName, ""), (serviceName, "")))
            {
                continue;
            }

            foreach (var (state, id) in entry.MemberIds)
            {
                health.Add(state.ToHealth(spec.Key, spec.ServiceName) with
                {
                    Plane = Planes.Nftables,
                    ActiveConnections = Active(id),
                    TotalConnections = Count(counters, $"backend-{id}-conns").Packets,
                });
            }
        }

        return health;
    }

    public IReadOnlyList<ListenerTraffic> GetTraffic()
    {
        var traffic = new List<ListenerTraffic>(_userSpace.GetTraffic());
        var counters = Counters();
        foreach (var entry in Entries())
        {
            var listener = entry.Rendered;
            var backends = entry.MemberIds.Select(pair =>
            {
                var (state, id) = pair;
                var basis = state.ToTraffic();
                return basis with
                {
                    ActiveConnections = Active(id),
                    TotalConnections = Count(counters, $"backend-{id}-conns").Packets,
                    BytesIn = Count(counters, $"backend-{id}-in").Bytes,
                    BytesOut = Count(counters, $"backend-{id}-out").Bytes,
                };
            }).ToList();
            traffic.Add(new ListenerTraffic
            {
                Key = listener.Spec.Key,
                ServiceName = listener.Spec.ServiceName,
                VirtualIpName = listener.Spec.VirtualIpName,
                LoadBalancedSetName = listener.Spec.LoadBalancedSetName,
                ActiveConnections = backends.Sum(b => b.ActiveConnections),
                Forwarded = backends.Sum(b => b.TotalConnections),
                DeniedByAcl = Count(counters, $"listener-{listener.Id}-denied").Packets,
                NoHealthyBackend = Count(counters, NftRuleset.NoBackendCounter(listener)).Packets,
                Backends = backends,
            });
        }

        return traffic;
    }

    public IReadOnlyList<VipBytes> GetVipBytes()
    {
        var totals = new Dictionary<(string, string), (long In, long Out)>(VipComparer.Instance);
        foreach (var bytes in _userSpace.GetVipBytes())
        {
            Add(totals, (bytes.ServiceName, bytes.VirtualIpName), bytes.BytesIn, bytes.BytesOut);
        }

        lock (_gate)
        {
            foreach (var (key, (bytesIn, bytesOut)) in _retiredBytes)
            {
                Add(totals, key, bytesIn, bytesOut);
            }
        }

        var counters = Counters();
        foreach (var entry in Entries())
        {
            foreach (var backend in entry.Rendered.Backends)
            {
                Add(totals, (entry.Rendered.Spec.ServiceName, entry.Rendered.Spec.VirtualIpName), Count(counters, $"backend-{backend.Id}-in").Bytes, Count(counters, $"backend-{backend.Id}-out").Bytes);
            }
        }

        return [.. totals.Select(t => new VipBytes(t.Key.Item1, t.Key.Item2, t.Value.In, t.Value.Out))];
    }

    public IReadOnlyList<UdpSessionCount> GetUdpSessions() => _userSpace.GetUdpSessions();

    /// <summary>SIGTERM: the table goes (in one transaction); connections already NATed keep their conntrack entries.</summary>
    public async Task DrainAndStopAsync(CancellationToken cancellationToken)
    {
        await StopKernelAsync().ConfigureAwait(false);
        await _userSpace.DrainAndStopAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopKernelAsync().ConfigureAwait(false);
        await _userSpace.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
        _commit.Dispose();
        _nft.Dispose();
        _elements?.Dispose();
    }

    private async Task StopKernelAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _routeLoop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        foreach (var entry in Entries())
        {
            entry.Controller.StopProbing();
        }

        if (_tableReady)
        {
            try
            {
                await _nft.CommitAsync(NftRuleset.DeleteAll(), CancellationToken.None).ConfigureAwait(false);
            }
            catch (NftException e)
            {
                Log.RouteRefused(_logger, default, e.Message);
            }
        }
    }

    private Entry[] Entries()
    {
        lock (_gate)
        {
            return [.. _listeners.Values];
        }
    }

    /// <summary>Counters read at most once a second whatever the number of readers (scrape, dashboard, usage).</summary>
    private IReadOnlyDictionary<string, (long Packets, long Bytes)> Counters()
    {
        var now = _time.GetUtcNow();
        if (_counters is { } cached && now - cached.At < CounterCacheAge)
        {
            return cached.Values;
        }

        if (!_tableReady)
        {
            return new Dictionary<string, (long, long)>();
        }

        try
        {
            var values = _nft.Counters(named: Entries().Any(e => e.Rendered.HasAcl || e.Rendered.Spec.DirectServerReturn));
            _counters = (now, values);
            return values;
        }
        catch (Exception e) when (e is NftException or System.Text.Json.JsonException)
        {
            return _counters?.Values ?? new Dictionary<string, (long, long)>();
        }
    }

    private static (long Packets, long Bytes) Count(IReadOnlyDictionary<string, (long Packets, long Bytes)> counters, string name) =>
        counters.TryGetValue(name, out var value) ? value : (0, 0);

    /// <summary>A removed listener's bytes keep counting in its VIP's total (the last values read: no I/O here, this runs inside a commit).</summary>
    private void RetireCounters(KernelListener old)
    {
        var counters = _counters?.Values ?? new Dictionary<string, (long, long)>();
        long bytesIn = 0, bytesOut = 0;
        foreach (var backend in old.Backends)
        {
            bytesIn += Count(counters, $"backend-{backend.Id}-in").Bytes;
            bytesOut += Count(counters, $"backend-{backend.Id}-out").Bytes;
        }

        lock (_gate)
        {
            Add(_retiredBytes, (old.Spec.ServiceName, old.Spec.VirtualIpName), bytesIn, bytesOut);
        }

        _counters = null;
    }

    private static void Add(Dictionary<(string, string), (long In, long Out)> totals, (string, string) key, long bytesIn, long bytesOut) =>
        totals[key] = totals.TryGetValue(key, out var seen) ? (seen.In + bytesIn, seen.Out + bytesOut) : (bytesIn, bytesOut);

    private sealed record Entry(KernelListener Rendered, RouteController Controller, IReadOnlyDictionary<BackendState, int> MemberIds);

    private sealed record Prepared(KernelListener Listener, RouteController Controller, IReadOnlyDictionary<BackendState, int> MemberIds);

    private sealed record Change(Entry? Old, Prepared? Next);

    private sealed class VipComparer : IEqualityComparer<(string, string)>
    {
        public static readonly VipComparer Instance = new();

        public bool Equals((string, string) x, (string, string) y) =>
            string.Equals(x.Item1, y.Item1, StringComparison.OrdinalIgnoreCase) && string.Equals(x.Item2, y.Item2, StringComparison.OrdinalIgnoreCase);

        public int GetHashCode((string, string) obj) =>
            HashCode.Combine(StringComparer.OrdinalIgnoreCase.GetHashCode(obj.Item1), StringComparer.OrdinalIgnoreCase.GetHashCode(obj.Item2));
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5300, EventName = "NftTableRendered", Level = LogLevel.Information,
            Message = "nftables: table inet multivip rendered with {Count} listeners")]
        public static partial void TableRendered(ILogger logger, int count);

        [LoggerMessage(EventId = 5301, EventName = "NftListenerRefused", Level = LogLevel.Error,
            Message = "nftables: the rules of {Key} were refused: {Error}")]
        public static partial void ListenerRefused(ILogger logger, ListenerKey key, string error);

        [LoggerMessage(EventId = 5302, EventName = "NftBatchRefused", Level = LogLevel.Warning,
            Message = "nftables: a transaction of {Count} listener changes was refused ({Error}); committing them one by one")]
        public static partial void BatchRefused(ILogger logger, int count, string error);

        [LoggerMessage(EventId = 5303, EventName = "NftRouteCommitted", Level = LogLevel.Information,
            Message = "nftables: {Key} now routes to {Route}")]
        public static partial void RouteCommitted(ILogger logger, ListenerKey key, KernelRoute route);

        [LoggerMessage(EventId = 5304, EventName = "NftRouteRefused", Level = LogLevel.Error,
            Message = "nftables: a change of {Key} was refused: {Error}")]
        public static partial void RouteRefused(ILogger logger, ListenerKey key, string error);

        [LoggerMessage(EventId = 5305, EventName = "NftNoConntrackTimeouts", Level = LogLevel.Warning,
            Message = "nftables: this kernel refused conntrack timeout policies ({Error}); idle timeouts fall back to conntrack's defaults")]
        public static partial void NoConntrackTimeouts(ILogger logger, string error);

        [LoggerMessage(EventId = 5306, EventName = "NftConntrackFailed", Level = LogLevel.Warning,
            Message = "nftables: deleting the UDP flows of {Key} to {Backend} failed: {Error}")]
        public static partial void ConntrackFailed(ILogger logger, ListenerKey key, IPEndPoint backend, string error);

        [LoggerMessage(EventId = 5307, EventName = "NftUdpFlowsDeleted", Level = LogLevel.Debug,
            Message = "nftables: UDP flows of {Key} to {Backend} deleted")]
        public static partial void UdpFlowsDeleted(ILogger logger, ListenerKey key, IPEndPoint backend);

        [LoggerMessage(EventId = 6100, EventName = "NftCommitsInProcess", Level = LogLevel.Information,
            Message = "nftables: changes are committed through libnftables.so.1 in this process")]
        public static partial void CommitsInProcess(ILogger logger);

        [LoggerMessage(EventId = 6101, EventName = "NftCommitsThroughExecutable", Level = LogLevel.Information,
            Message = "nftables: changes are committed through the executable {Nft} (nft -f -, one process per commit)")]
        public static partial void CommitsThroughExecutable(ILogger logger, string nft);

        [LoggerMessage(EventId = 6700, EventName = "NftNoNetlinkElements", Level = LogLevel.Warning,
            Message = "nftables: cannot write slot maps through netlink ({Problem}); nft writes them (a new load-balanced listener then costs ~25 ms more)")]
        public static partial void NoNetlinkElements(ILogger logger, string problem);

        [LoggerMessage(EventId = 6701, EventName = "NftNetlinkElementsRefused", Level = LogLevel.Warning,
            Message = "nftables: the slot map of {Key} could not be written through netlink ({Error}); nft writes it instead")]
        public static partial void NetlinkElementsRefused(ILogger logger, ListenerKey key, string error);

        [LoggerMessage(EventId = 6702, EventName = "NftSparesLost", Level = LogLevel.Warning,
            Message = "nftables: {Count} spare slot maps of a refused transaction could not be emptied ({Error}); new ones are made")]
        public static partial void SparesLost(ILogger logger, int count, string error);
    }
}
