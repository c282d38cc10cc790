using System.Reflection;
using Microsoft.Extensions.Logging;
using MultiVip.DataPlane.Contract;

namespace MultiVip.Control.Nodes;

/// <summary>
/// Keeps this node's record in the registry fresh and learns the other nodes' progress from it.
/// Every <see cref="Interval"/> it writes its record (name, API address, applied generation,
/// faults, version) and reads everyone's; right after a local apply it writes at once when another
/// live node exists, so the others learn the new generation without waiting a second. While
/// operations wait for other nodes it reads as soon as the registry says another node wrote its
/// record (<see cref="INodeRegistry.RecordWritten"/>: PostgreSQL's NOTIFY), so they complete when
/// the last node applied; every <see cref="PollInterval"/> besides, for a notice that was missed. A registry that cannot be reached is logged, not fatal:
/// traffic and the API do not depend on it, and the next beat tries again.
/// </summary>
public sealed partial class NodeHeartbeat : IAsyncDisposable
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(1);

    public static readonly TimeSpan DefaultPollInterval = TimeSpan.FromMilliseconds(250);

    private readonly ControlPlane _control;
    private readonly INodeRegistry _registry;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // 1 when the wake-up is a local apply (write this node's record); a wake-up without it only reads.
    private int _writeWanted;
    private Task _loop = Task.CompletedTask;
    private string _apiAddress = "";
    private DateTimeOffset _lastBeat;
    private bool _failing;
    private bool _stopped;
    private DateTimeOffset? _stoppedAt;

    public NodeHeartbeat(ControlPlane control, INodeRegistry registry, TimeProvider time, ILogger logger)
    {
        _control = control;
        _registry = registry;
        _time = time;
        _logger = logger;
        StartedAt = time.GetUtcNow();
        _lastBeat = StartedAt;
    }

    public TimeSpan Interval { get; init; } = DefaultInterval;

    public TimeSpan PollInterval { get; init; } = DefaultPollInterval;

    /// <summary>With --announce vrrp or bgp: where the record's announce address and held VIPs come from.</summary>
    public IAddressAnnouncer? Announcer { get; init; }

    public DateTimeOffset StartedAt { get; }

    public string NodeName => _control.Nodes.LocalName;

    /// <summary>This build's version, as each node reports it.</summary>
    public static string Version { get; } =
        typeof(NodeHeartbeat).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(NodeHeartbeat).Assembly.GetName().Version?.ToString()
        ?? "unknown";

    /// <summary>Writes the first record and reads the others' (so the node is listed as soon as the API answers), then beats on in the background.</summary>
    public async Task StartAsync(string apiAddress, CancellationToken cancellationToken)
    {
        _apiAddress = apiAddress;
        await BeatAsync(write: true, cancellationToken);
        _control.Nodes.LocalChanged += OnLocalChanged;
        _registry.RecordWritten += OnRecordWritten;
        _loop = Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
    }

    /// <summary>This node's record as it stands now (from memory, newer than the registry's copy).</summary>
    public NodeRecord LocalRecord() => new()
    {
        Name = _control.Nodes.LocalName,
        ApiAddress = _apiAddress,
        StartedAt = StartedAt,
        LastHeartbeat = _lastBeat,
        AppliedGeneration = _control.Nodes.LocalApplied,
        Faults = _control.Nodes.LocalFaults,
        Version = Version,
        StoppedAt = _stoppedAt,
        AnnounceAddress = (Announcer as INodeFailover)?.AnnounceAddress,
        VipPool = _control.Options.Pool.Canonical,
        Holds = Announcer is INodeFailover
            ? [.. Announcer.GetStatus().Where(s => s.State is not null).Select(s => new NodeHold(s.Address.ToString(), s.State!)).OrderBy(h => h.Address, StringComparer.Ordinal)]
            : [],
    };

    /// <summary>Every node with its state now, from the last registry read (no I/O: for /metrics).</summary>
    public IReadOnlyList<NodeStatus> Snapshot()
    {
        var now = _time.GetUtcNow();
        var current = _control.Current.Generation;
        var downAfter = _control.Nodes.DownAfter;
        var local = LocalRecord();
        return
        [
            .. new[] { local }.Concat(_control.Nodes.Others)
                .OrderBy(n => n.Name, StringComparer.OrdinalIgnoreCase)
                .Select(n => new NodeStatus(n, NodeStates.Of(n, current, now, downAfter), NodeStates.HeartbeatAgeSeconds(n, now), ReferenceEquals(n, local))),
        ];
    }

    /// <summary>Reads the registry now, then answers as <see cref="Snapshot"/>; an unreachable registry answers from the last read.</summary>
    public async Task<IReadOnlyList<NodeStatus>> ListAsync(CancellationToken cancellationToken)
    {
        try
        {
            await ReadAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The heartbeat logs registry trouble once per outage; a listing still answers.
        }

        return Snapshot();
    }

    private void OnLocalChanged()
    {
        // Alone, nobody waits for this node's record; the next beat is soon enough.
        if (_control.Nodes.AnyOtherLive())
        {
            Volatile.Write(ref _writeWanted, 1);
            Volatile.Read(ref _wake).TrySetResult();
        }
    }

    private void OnRecordWritten(string writer)
    {
        // Only a waiting operation needs the news now; this node's own write is no news.
        if (_control.HasPendingOperations && !string.Equals(writer, _control.Nodes.LocalName, StringComparison.OrdinalIgnoreCase))
        {
            Volatile.Read(ref _wake).TrySetResult();
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var nextBeat = _time.GetUtcNow() + Interval;
        while (!cancellationToken.IsCancellationRequested)
        {
            var wake = Volatile.Read(ref _wake);
            var untilBeat = nextBeat - _time.GetUtcNow();
            var wait = _control.HasPendingOperations && _control.Nodes.AnyOtherLive() && PollInterval < untilBeat ? PollInterval : untilBeat;
            var woken = false;
            if (wait > TimeSpan.Zero)
            {
                using var delay = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var first = await Task.WhenAny(wake.Task, Task.Delay(wait, _time, delay.Token));
                await delay.CancelAsync();
                woken = first == wake.Task;
            }

            if (cancellationToken.IsCancellationRequested)
            {
                return;
            }

            if (woken)
            {
                // Replaced before the state is read: a local apply from here on wakes the next round.
                Volatile.Write(ref _wake, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            }

            var beat = (woken && Interlocked.Exchange(ref _writeWanted, 0) == 1) || _time.GetUtcNow() >= nextBeat;
            await BeatAsync(write: beat, cancellationToken);
            if (beat)
            {
                nextBeat = _time.GetUtcNow() + Interval;
            }
        }
    }

    /// <summary>Writes this node's record (when <paramref name="write"/>), reads everyone's, and completes what that settles.</summary>
    private async Task BeatAsync(bool write, CancellationToken cancellationToken)
    {
        try
        {
            if (write)
            {
                var record = LocalRecord() with { LastHeartbeat = _time.GetUtcNow() };
                await _registry.HeartbeatAsync(record, cancellationToken);
                _lastBeat = record.LastHeartbeat;
            }

            await ReadAsync(cancellationToken);
            await _control.CompleteFromNodesAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            // Once per outage, not once a second.
            if (!_failing)
            {
                _failing = true;
                Log.RegistryFailed(_logger, _control.Nodes.LocalName, ex);
            }

            return;
        }

        if (_failing)
        {
            _failing = false;
            Log.RegistryBack(_logger, _control.Nodes.LocalName);
        }
    }

    private async Task ReadAsync(CancellationToken cancellationToken)
    {
        var records = await _registry.ListAsync(cancellationToken);
        var before = _control.Nodes.Others;
        _control.Nodes.OthersRead(records);
        foreach (var node in _control.Nodes.Others)
        {
            if (!before.Any(b => string.Equals(b.Name, node.Name, StringComparison.OrdinalIgnoreCase)))
            {
                Log.NodeSeen(_logger, node.Name, node.ApiAddress, node.AppliedGeneration);
            }
        }
    }

    /// <summary>
    /// Stops beating and writes a last record saying so (SIGTERM, before the drain): the other nodes
    /// count this one Down at once instead of waiting --node-down-after for it. Idempotent.
    /// </summary>
    public async Task StopAsync()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        _control.Nodes.LocalChanged -= OnLocalChanged;
        _registry.RecordWritten -= OnRecordWritten;
        await _stopping.CancelAsync();
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (_apiAddress.Length == 0)
        {
            // Never started: there is no record to close.
            return;
        }

        var now = _time.GetUtcNow();
        try
        {
            using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _registry.HeartbeatAsync(LocalRecord() with { LastHeartbeat = now, StoppedAt = now }, bounded.Token);
            _lastBeat = now;
            _stoppedAt = now;
        }
        catch (Exception ex)
        {
            // The others then find it Down by its old heartbeat, --node-down-after later.
            Log.RegistryFailed(_logger, _control.Nodes.LocalName, ex);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stopping.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5100, EventName = "NodeRegistryFailed", Level = LogLevel.Warning, Message = "Node {Node} could not write or read the node registry; traffic and the API go on, operations wait only for nodes last seen alive, and the next heartbeat tries again")]
        public static partial void RegistryFailed(ILogger logger, string node, Exception exception);

        [LoggerMessage(EventId = 5101, EventName = "NodeRegistryBack", Level = LogLevel.Information, Message = "Node {Node} reaches the node registry again")]
        public static partial void RegistryBack(ILogger logger, string node);

        [LoggerMessage(EventId = 5102, EventName = "NodeSeen", Level = LogLevel.Information, Message = "Node {Node} ({Api}) is in the node registry, applied generation {Generation}")]
        public static partial void NodeSeen(ILogger logger, string node, string api, long generation);
    }
}

/// <summary>One node as listed: its record, its state now, its heartbeat's age, and whether it is the node answering.</summary>
public sealed record NodeStatus(NodeRecord Record, NodeState State, double HeartbeatAgeSeconds, bool IsLocal);
