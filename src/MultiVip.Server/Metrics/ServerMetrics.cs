using System.Globalization;
using MultiVip.Control;
using MultiVip.DataPlane.Contract;
using MultiVip.Model.Operations;
using MultiVip.Model.Services;
using Prometheus;

namespace MultiVip.Server.Metrics;

/// <summary>
/// The Prometheus metrics of one server, in its own registry (tests run several servers in one
/// process). Traffic metrics are copied from the data plane's counters when scraped, so forwarding
/// never calls into the metrics library; only operation latency is observed as it happens.
/// </summary>
internal sealed class ServerMetrics : IDisposable
{
    private static readonly string[] ListenerLabels = ["service", "vip", "protocol", "port", "lb_set"];
    private static readonly string[] BackendLabels = ["service", "vip", "protocol", "port", "vm", "endpoint"];
    private static readonly string[] UdpLabels = ["service", "vip", "port"];

    private readonly ControlPlane _control;
    private readonly ITrafficSource _dataPlane;
    private readonly IReadOnlyList<IUdpSessionSource> _udp;
    private readonly Lock _scrapeGate = new();
    private readonly Histogram _operationDuration;
    private readonly Family<Gauge.Child> _listenerActive;
    private readonly Family<Counter.Child> _listenerForwarded;
    private readonly Family<Counter.Child> _listenerRetries;
    private readonly Family<Counter.Child> _listenerFailures;
    private readonly Family<Counter.Child> _listenerRejected;
    private readonly Family<Counter.Child> _listenerClosed;
    private readonly Family<Counter.Child> _listenerAcceptFailures;
    private readonly Family<Gauge.Child> _backendActive;
    private readonly Family<Counter.Child> _backendTotal;
    private readonly Family<Counter.Child> _backendBytesIn;
    private readonly Family<Counter.Child> _backendBytesOut;
    private readonly Family<Counter.Child> _backendFailures;
    private readonly Family<Counter.Child> _backendRetries;
    private readonly Family<Gauge.Child> _backendHealth;
    private readonly Family<Gauge.Child> _backendInRotation;
    private readonly Family<Counter.Child> _probes;
    private readonly Family<Counter.Child> _probeFailures;
    private readonly Family<Gauge.Child> _probeLatency;
    private readonly Family<Gauge.Child> _udpSessions;
    private readonly Family<Counter.Child> _udpDatagramsIn;
    private readonly Family<Counter.Child> _udpDatagramsOut;
    private readonly Family<Counter.Child> _udpDatagramsDropped;
    private readonly Family<Counter.Child> _udpSessionsCreated;
    private readonly Family<Counter.Child> _udpSessionsClosed;
    private readonly Family<Counter.Child> _udpBytesIn;
    private readonly Family<Counter.Child> _udpBytesOut;
    private readonly Family<Gauge.Child> _vipInfo;
    private readonly Family<Gauge.Child> _addressHeld;
    private readonly Family<Gauge.Child> _addressHeldSince;
    private readonly Family<Gauge.Child> _addressLastError;
    private readonly Family<Counter.Child> _ownershipChanges;
    private readonly Family<Gauge.Child> _owner;
    private readonly IAddressAnnouncer _announcer;
    private readonly Family<Gauge.Child> _nodeUp;
    private readonly Family<Gauge.Child> _nodeState;
    private readonly Family<Gauge.Child> _nodeApplied;
    private readonly Family<Gauge.Child> _nodeHeartbeatAge;
    private readonly Family<Gauge.Child> _nodeFaults;
    private readonly MultiVip.Control.Nodes.NodeHeartbeat? _nodes;
    private readonly Gauge _poolSize;
    private readonly Gauge _poolInUse;
    private readonly MultiVip.DataPlane.Logging.AccessLogWriter? _accessLog;
    private readonly Counter? _accessLogLines;
    private readonly Counter? _accessLogDropped;
    private readonly Counter _apiRequests;
    private readonly Histogram _apiRequestDuration;

    public ServerMetrics(ControlPlane control, ITrafficSource dataPlane, IEnumerable<IUdpSessionSource> udp, IAddressAnnouncer announcer, MultiVip.Control.Nodes.NodeHeartbeat? nodes = null, MultiVip.DataPlane.Logging.AccessLogWriter? accessLog = null)
    {
        _nodes = nodes;
        _accessLog = accessLog;
        _announcer = announcer;
        _control = control;
        _dataPlane = dataPlane;
        _udp = [.. udp];
        Registry = Prometheus.Metrics.NewCustomRegistry();
        var factory = Prometheus.Metrics.WithCustomRegistry(Registry);

        _listenerActive = new(factory.CreateGauge("multivip_listener_connections_active", "Connections a listener (VIP, protocol, public port) carries now.", ListenerLabels));
        _listenerForwarded = new(factory.CreateCounter("multivip_listener_connections_total", "Connections a listener handed to a backend.", ListenerLabels));
        _listenerRetries = new(factory.CreateCounter("multivip_listener_connect_retries_total", "Backend connect attempts made after an earlier candidate failed.", ListenerLabels));
        _listenerFailures = new(factory.CreateCounter("multivip_listener_connect_failures_total", "Backend connect attempts that failed.", ListenerLabels));
        _listenerRejected = new(factory.CreateCounter("multivip_listener_connections_rejected_total", "Client connections reset without reaching a backend, by reason.", [.. ListenerLabels, "reason"]));
        _listenerClosed = new(factory.CreateCounter("multivip_listener_connections_closed_total", "Connections MultiVip ended itself, by reason: idle_timeout (closed), drain_timeout (a removed backend's connection still open after the drain timeout: reset).", [.. ListenerLabels, "reason"]));
        _listenerAcceptFailures = new(factory.CreateCounter("multivip_listener_accept_failures_total", "accept() calls on the listening socket that failed (mostly out of descriptors; the listener backs off and goes on).", ListenerLabels));
        _backendActive = new(factory.CreateGauge("multivip_backend_connections_active", "Connections a backend (VM endpoint) carries now.", BackendLabels));
        _backendTotal = new(factory.CreateCounter("multivip_backend_connections_total", "Connections forwarded to a backend.", BackendLabels));
        _backendBytesIn = new(factory.CreateCounter("multivip_backend_bytes_in_total", "Bytes read from clients and sent to the backend.", BackendLabels));
        _backendBytesOut = new(factory.CreateCounter("multivip_backend_bytes_out_total", "Bytes read from the backend and sent to clients.", BackendLabels));
        _backendFailures = new(factory.CreateCounter("multivip_backend_connect_failures_total", "Connect attempts to the backend that failed.", BackendLabels));
        _backendRetries = new(factory.CreateCounter("multivip_backend_connect_retries_total", "Connect attempts to the backend made after another candidate failed.", BackendLabels));
        _backendHealth = new(factory.CreateGauge("multivip_backend_health", "1 for the backend's current probe state (Unknown, Healthy, Unhealthy, NotProbed), 0 otherwise.", [.. BackendLabels, "state"]));
        _backendInRotation = new(factory.CreateGauge("multivip_backend_in_rotation", "1 when the backend receives new connections, 0 when its probe took it out.", BackendLabels));
        _probes = new(factory.CreateCounter("multivip_probe_attempts_total", "Health probe attempts.", BackendLabels));
        _probeFailures = new(factory.CreateCounter("multivip_probe_failures_total", "Health probe attempts that failed.", BackendLabels));
        _probeLatency = new(factory.CreateGauge("multivip_probe_latency_seconds", "Duration of the last health probe attempt.", BackendLabels));
        _udpSessions = new(factory.CreateGauge("multivip_udp_sessions_active", "Live UDP sessions of a listener.", UdpLabels));
        _udpDatagramsIn = new(factory.CreateCounter("multivip_udp_datagrams_in_total", "Datagrams a UDP listener received from clients (dropped ones included).", UdpLabels));
        _udpDatagramsOut = new(factory.CreateCounter("multivip_udp_datagrams_out_total", "Backend replies a UDP listener sent back to clients.", UdpLabels));
        _udpDatagramsDropped = new(factory.CreateCounter("multivip_udp_datagrams_dropped_total", "Client datagrams not forwarded, by reason: acl, no_healthy_backend, send_failed, session_limit (a new client while --max-udp-sessions are held and none could be evicted).", [.. UdpLabels, "reason"]));
        _udpSessionsCreated = new(factory.CreateCounter("multivip_udp_sessions_created_total", "UDP sessions (client address and port to a backend) created.", UdpLabels));
        _udpSessionsClosed = new(factory.CreateCounter("multivip_udp_sessions_closed_total", "UDP sessions closed, by reason: idle_timeout, evicted (table at --max-udp-sessions-per-listener), moved (backend left rotation).", [.. UdpLabels, "reason"]));
        _udpBytesIn = new(factory.CreateCounter("multivip_udp_bytes_in_total", "Payload bytes a UDP listener forwarded from clients to backends.", UdpLabels));
        _udpBytesOut = new(factory.CreateCounter("multivip_udp_bytes_out_total", "Payload bytes of backend replies a UDP listener sent back to clients.", UdpLabels));
        _vipInfo = new(factory.CreateGauge("multivip_virtual_ip_info", "One series per virtual IP; value 1. Address is empty until an endpoint uses the VIP.", ["service", "vip", "address", "dns_programmed", "reserved_ip"]));
        string[] addressLabels = ["service", "vip", "address", "family", "announcer"];
        _addressHeld = new(factory.CreateGauge("multivip_vip_address_held", "1 while this node holds the VIP's address on the network (--vip-interface, or the host's own address without it), 0 otherwise.", addressLabels));
        _addressHeldSince = new(factory.CreateGauge("multivip_vip_address_held_since_seconds", "Unix time since which this node holds the VIP's address.", addressLabels));
        _addressLastError = new(factory.CreateGauge("multivip_vip_address_last_error_timestamp_seconds", "Unix time of the last error adding or announcing the VIP's address (the message is in deployment show).", addressLabels));
        // Every node as this one last read the registry (docs/operations.md#nodes); one series per node.
        _nodeUp = new(factory.CreateGauge("multivip_node_up", "1 while the node's heartbeat is fresh (Ready or Lagging), 0 when it is Down (none for --node-down-after).", ["node"]));
        _nodeState = new(factory.CreateGauge("multivip_node_state", "1 for the node's current state (Ready, Lagging, Down), 0 otherwise.", ["node", "state"]));
        _nodeApplied = new(factory.CreateGauge("multivip_node_applied_generation", "The generation of the desired state the node's data plane applied last.", ["node"]));
        _nodeHeartbeatAge = new(factory.CreateGauge("multivip_node_heartbeat_age_seconds", "Seconds since the node's last heartbeat, by this node's clock.", ["node"]));
        _nodeFaults = new(factory.CreateGauge("multivip_node_listener_faults", "Listeners the node's last apply could not start.", ["node"]));
        string[] ownerLabels = ["service", "vip", "address", "node", "announcer"];
        _ownershipChanges = new(factory.CreateCounter("multivip_vip_ownership_changes_total", "Changes of this node's role for the VIP's address (--announce vrrp: MASTER/BACKUP/FAULT/STOPPED; bgp: announced/withdrawn).", ownerLabels));
        _owner = new(factory.CreateGauge("multivip_vip_owner", "1 while this node holds (VRRP MASTER) or announces (BGP) the VIP's address, 0 otherwise; the state label is the engine's.", [.. ownerLabels, "state"]));
        _poolSize = factory.CreateGauge("multivip_vip_pool_addresses", "Addresses in the VIP pool (--vip-pool).");
        _poolInUse = factory.CreateGauge("multivip_vip_pool_addresses_in_use", "Pool addresses held by a VIP or a reserved IP.");
        _operationDuration = factory.CreateHistogram(
            "multivip_operation_duration_seconds",
            "Time from an operation's commit to the data plane applying it (Succeeded or Failed).",
            new HistogramConfiguration
            {
                LabelNames = ["operation", "status"],
                // 1 ms to ~16 s: applies take milliseconds; the tail shows listener bind retries.
                Buckets = Histogram.ExponentialBuckets(0.001, 2, 15),
            });

        // Process and runtime: CPU seconds, resident and virtual memory, open descriptors
        // (process_open_handles), threads, start time, GC collections and heap size.
        DotNetStats.Register(Registry);
        factory.CreateGauge("multivip_build_info", "Always 1; the labels say what runs: version, git commit, .NET runtime.", ["version", "commit", "runtime"])
            .WithLabels(BuildInfo.Version, BuildInfo.Commit, BuildInfo.Runtime).Set(1);
        _apiRequests = factory.CreateCounter("multivip_api_requests_total", "HTTP requests answered (API, dashboard, /metrics), by route template, method and status.", ["route", "method", "status"]);
        _apiRequestDuration = factory.CreateHistogram(
            "multivip_api_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            new HistogramConfiguration
            {
                LabelNames = ["route"],
                // 0.5 ms to ~16 s: reads take well under a millisecond, changes wait up to 500 ms for the data plane.
                Buckets = Histogram.ExponentialBuckets(0.0005, 2, 16),
            });

        if (accessLog is not null)
        {
            _accessLogLines = factory.CreateCounter("multivip_access_log_lines_total", "Lines written to the access log (--access-log).");
            _accessLogDropped = factory.CreateCounter("multivip_access_log_dropped_total", "Connections not written to the access log: its queue was full (the writer fell behind) or the write failed. Traffic is never slowed for the log.");
        }

        Registry.AddBeforeCollectCallback(Collect);
        _control.OperationCompleted += OnOperationCompleted;
    }

    public CollectorRegistry Registry { get; }

    public void Dispose() => _control.OperationCompleted -= OnOperationCompleted;

    /// <summary>One answered request (see <see cref="ApiRequestMetrics"/>): labels are templates and known methods only.</summary>
    public void ObserveRequest(string route, string method, string status, double seconds)
    {
        _apiRequests.WithLabels(route, method, status).Inc();
        _apiRequestDuration.WithLabels(route).Observe(seconds);
    }

    private void OnOperationCompleted(Operation operation)
    {
        if (operation.CompletedAt is not { } completed)
        {
            return;
        }

        var seconds = Math.Max(0, (completed - operation.CreatedAt).TotalSeconds);
        _operationDuration.WithLabels(operation.OperationDescription, operation.OperationStatus.ToString()).Observe(seconds);
    }

    private void Collect()
    {
        // Two scrapes at once would interleave their sweeps of stale series.
        lock (_scrapeGate)
        {
            foreach (var listener in _dataPlane.GetTraffic())
            {
                CollectListener(listener);
            }

            foreach (var source in _udp)
            {
                foreach (var udp in source.GetUdpSessions())
                {
                    CollectUdp(udp);
                }
            }

            var world = _control.Current;
            foreach (var service in world.Services.Values)
            {
                foreach (var vip in service.Deployment?.VirtualIps ?? [])
                {
                    _vipInfo.Get(service.Name, vip.Name, vip.Address ?? "", vip.IsDnsProgrammed ? "true" : "false", vip.ReservedIpName ?? "").Set(1);
                    CollectAddress(service, vip);
                }
            }

            if (_accessLog is not null)
            {
                _accessLogLines!.IncTo(_accessLog.Written);
                _accessLogDropped!.IncTo(_accessLog.Dropped);
            }

            var pool = _control.Options.Pool;
            _poolSize.Set((double)pool.Size);
            _poolInUse.Set(world.Addresses.Keys.Count(pool.Contains));

            foreach (var node in _nodes?.Snapshot() ?? [])
            {
                CollectNode(node);
            }

            foreach (var family in Families())
            {
                family.Sweep();
            }
        }
    }

    private void CollectNode(MultiVip.Control.Nodes.NodeStatus node)
    {
        var name = node.Record.Name;
        _nodeUp.Get(name).Set(node.State == MultiVip.Control.Nodes.NodeState.Down ? 0 : 1);
        foreach (var state in Enum.GetValues<MultiVip.Control.Nodes.NodeState>())
        {
            _nodeState.Get(name, state.ToString()).Set(state == node.State ? 1 : 0);
        }

        _nodeApplied.Get(name).Set(node.Record.AppliedGeneration);
        _nodeHeartbeatAge.Get(name).Set(node.HeartbeatAgeSeconds);
        _nodeFaults.Get(name).Set(node.Record.Faults.Count);
    }

    private void CollectAddress(CloudService service, VirtualIp vip)
    {
        if (vip.Address is null)
        {
            return;
        }

        var view = Api.NetworkViews.For(vip, _announcer);
        string[] labels = [service.Name, vip.Name, vip.Address, view.AddressFamily.ToLowerInvariant(), view.Announcer];
        _addressHeld.Get(labels).Set(view.Held ? 1 : 0);
        if (view.HeldSince is { } since)
        {
            _addressHeldSince.Get(labels).Set(since.ToUnixTimeMilliseconds() / 1000.0);
        }

        if (view.LastErrorAt is { } at)
        {
            _addressLastError.Get(labels).Set(at.ToUnixTimeMilliseconds() / 1000.0);
        }

        if (view.State is { } state)
        {
            string[] owner = [service.Name, vip.Name, vip.Address, view.Node ?? "", view.Announcer];
            _ownershipChanges.SetCounter(owner, view.OwnershipChanges);
            _owner.Get([.. owner, state]).Set(view.Held ? 1 : 0);
        }
    }

    private void CollectListener(ListenerTraffic listener)
    {
        string[] labels = [listener.ServiceName, listener.VirtualIpName, listener.Key.Protocol.ToWire(), Port(listener.Key), listener.LoadBalancedSetName ?? ""];
        _listenerActive.Get(labels).Set(listener.ActiveConnections);
        _listenerForwarded.SetCounter(labels, listener.Forwarded);
        _listenerRetries.SetCounter(labels, listener.ConnectRetries);
        _listenerFailures.SetCounter(labels, listener.ConnectFailures);
        _listenerRejected.SetCounter([.. labels, "acl"], listener.DeniedByAcl);
        _listenerRejected.SetCounter([.. labels, "over_limit"], listener.RefusedOverLimit);
        _listenerRejected.SetCounter([.. labels, "no_healthy_backend"], listener.NoHealthyBackend);
        _listenerRejected.SetCounter([.. labels, "connect_exhausted"], listener.ConnectExhausted);
        _listenerClosed.SetCounter([.. labels, "idle_timeout"], listener.IdleClosed);
        _listenerClosed.SetCounter([.. labels, "drain_timeout"], listener.DrainReset);
        _listenerAcceptFailures.SetCounter(labels, listener.AcceptFailures);

        foreach (var backend in listener.Backends)
        {
            string[] b = [listener.ServiceName, listener.VirtualIpName, listener.Key.Protocol.ToWire(), Port(listener.Key), backend.VmName, backend.EndpointName];
            _backendActive.Get(b).Set(backend.ActiveConnections);
            _backendTotal.SetCounter(b, backend.TotalConnections);
            _backendBytesIn.SetCounter(b, backend.BytesIn);
            _backendBytesOut.SetCounter(b, backend.BytesOut);
            _backendFailures.SetCounter(b, backend.ConnectFailures);
            _backendRetries.SetCounter(b, backend.ConnectRetries);
            foreach (var state in Enum.GetValues<HealthState>())
            {
                _backendHealth.Get([.. b, state.ToString()]).Set(state == backend.State ? 1 : 0);
            }

            _backendInRotation.Get(b).Set(backend.State == HealthState.Unhealthy ? 0 : 1);
            if (backend.State != HealthState.NotProbed)
            {
                _probes.SetCounter(b, backend.Probes);
                _probeFailures.SetCounter(b, backend.ProbeFailures);
                if (backend.LastProbeLatency is { } latency)
                {
                    _probeLatency.Get(b).Set(latency.TotalSeconds);
                }
            }
        }
    }

    private void CollectUdp(UdpSessionCount udp)
    {
        string[] labels = [udp.ServiceName, udp.VirtualIpName, Port(udp.Key)];
        _udpSessions.Get(labels).Set(udp.ActiveSessions);
        _udpDatagramsIn.SetCounter(labels, udp.DatagramsIn);
        _udpDatagramsOut.SetCounter(labels, udp.DatagramsOut);
        _udpDatagramsDropped.SetCounter([.. labels, "acl"], udp.DeniedByAcl);
        _udpDatagramsDropped.SetCounter([.. labels, "no_healthy_backend"], udp.NoHealthyBackend);
        _udpDatagramsDropped.SetCounter([.. labels, "send_failed"], udp.SendFailures);
        _udpDatagramsDropped.SetCounter([.. labels, "session_limit"], udp.SessionsRefused);
        _udpBytesIn.SetCounter(labels, udp.BytesIn);
        _udpBytesOut.SetCounter(labels, udp.BytesOut);
        _udpSessionsCreated.SetCounter(labels, udp.SessionsCreated);
        _udpSessionsClosed.SetCounter([.. labels, "idle_timeout"], udp.SessionsExpired);
        _udpSessionsClosed.SetCounter([.. labels, "evicted"], udp.SessionsEvicted);
        _udpSessionsClosed.SetCounter([.. labels, "moved"], udp.SessionsMoved);
    }

    private IEnumerable<IFamily> Families() =>
    [
        _listenerActive, _listenerForwarded, _listenerRetries, _listenerFailures, _listenerRejected, _listenerClosed, _listenerAcceptFailures,
        _backendActive, _backendTotal, _backendBytesIn, _backendBytesOut, _backendFailures, _backendRetries,
        _backendHealth, _backendInRotation, _probes, _probeFailures, _probeLatency, _vipInfo,
        _udpSessions, _udpDatagramsIn, _udpDatagramsOut, _udpDatagramsDropped, _udpSessionsCreated, _udpSessionsClosed, _udpBytesIn, _udpBytesOut,
        _addressHeld, _addressHeldSince, _addressLastError, _ownershipChanges, _owner,
        _nodeUp, _nodeState, _nodeApplied, _nodeHeartbeatAge, _nodeFaults,
    ];

    private static string Port(ListenerKey key) => key.Port.ToString(CultureInfo.InvariantCulture);

    private interface IFamily
    {
        void Sweep();
    }

    /// <summary>
    /// A labelled metric whose series mirror what exists now: series not touched during a scrape
    /// (a removed listener, backend or VIP) are dropped instead of reporting stale values forever.
    /// </summary>
    private sealed class Family<TChild>(Collector<TChild> metric) : IFamily
        where TChild : ChildBase
    {
        private readonly HashSet<string> _seen = [];

        public TChild Get(params string[] labels)
        {
            _seen.Add(Key(labels));
            return metric.WithLabels(labels);
        }

        public void Sweep()
        {
            foreach (var labels in metric.GetAllLabelValues().ToList())
            {
                if (!_seen.Contains(Key(labels)))
                {
                    metric.RemoveLabelled(labels);
                }
            }

            _seen.Clear();
        }

        private static string Key(string[] labels) => string.Join('\u001f', labels);

        /// <summary>
        /// Mirrors a data-plane counter. A lower value means the counted object was recreated between
        /// scrapes: the series restarts from zero, which Prometheus reads as a counter reset.
        /// </summary>
        public void SetCounter(string[] labels, long value)
        {
            if (Get(labels) is not Counter.Child counter)
            {
                throw new InvalidOperationException("SetCounter is for counters.");
            }

            if (counter.Value > value)
            {
                metric.RemoveLabelled(labels);
                counter = (Counter.Child)(object)metric.WithLabels(labels);
            }

            counter.IncTo(value);
        }
    }
}
