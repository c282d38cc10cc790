using System.Net;
using Microsoft.Extensions.Logging;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Health;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Routing;

/// <summary>
/// The routing state of one listener, TCP or UDP alike: its backends (kept across reconfigurations
/// while their traffic identity is unchanged), the probe loops of a load-balanced set and the
/// published <see cref="RouteTable"/>. Both transports share it so balancing and health behave the
/// same whatever the protocol.
/// </summary>
internal sealed partial class RouteController
{
    private readonly ListenerKey _key;
    private readonly TimeProvider _timeProvider;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly Action<ProbeObservation> _onProbe;
    private readonly Action<RouteTable>? _onRouteChanged;
    private readonly Lock _configGate = new();
    private RouteTable _route;
    private HealthMonitor? _health;

    /// <param name="onRouteChanged">
    /// Called with every new table after a health transition or an update, while no other change can
    /// interleave. UDP uses it to drop sessions bound to members that left rotation.
    /// </param>
    public RouteController(
        ListenerSpec spec,
        TimeProvider timeProvider,
        ILoggerFactory loggerFactory,
        Action<ProbeObservation> onProbe,
        Action<RouteTable>? onRouteChanged = null)
    {
        _key = spec.Key;
        _timeProvider = timeProvider;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<RouteController>();
        _onProbe = onProbe;
        _onRouteChanged = onRouteChanged;

        var backends = new BackendState[spec.Backends.Count];
        for (var i = 0; i < backends.Length; i++)
        {
            backends[i] = new BackendState(spec.Backends[i], spec.Probe is not null);
        }

        _route = new RouteTable(spec, AclCompiler.Compile(spec.Acl), backends);
    }

    /// <summary>The table in force; read once per connection or session so one decision uses one configuration.</summary>
    public RouteTable Current => Volatile.Read(ref _route);

    /// <summary>Starts probing (separate from construction so the owner is fully built before callbacks arrive).</summary>
    public void Start()
    {
        lock (_configGate)
        {
            var spec = _route.Spec;
            if (spec.Probe is null)
            {
                return;
            }

            _health = NewMonitor(spec.Probe);
            foreach (var backend in _route.Backends)
            {
                _health.Start(backend);
            }
        }
    }

    /// <summary>
    /// Swaps in a new spec for the same key. Backends whose traffic identity is unchanged keep their
    /// health and traffic; removed ones are retired (out of rotation now) and returned.
    /// </summary>
    public IReadOnlyList<BackendState> Update(ListenerSpec spec)
    {
        lock (_configGate)
        {
            var old = _route;
            var probeChanged = !Equals(old.Spec.Probe, spec.Probe);
            var previous = new Dictionary<(string, string, IPEndPoint), BackendState>(old.Backends.Length);
            foreach (var backend in old.Backends)
            {
                previous.TryAdd(BackendState.TrafficIdentity(backend.Spec), backend);
            }

            var next = new BackendState[spec.Backends.Count];
            var fresh = new List<BackendState>();
            var reprobe = new List<BackendState>();
            for (var i = 0; i < next.Length; i++)
            {
                if (previous.Remove(BackendState.TrafficIdentity(spec.Backends[i]), out var kept))
                {
                    if (kept.Spec != spec.Backends[i])
                    {
                        // Same member, same traffic: a new probe target needs a new probe loop;
                        // draining on or off only changes rotation (the table built below).
                        var probeMoved = !Equals(kept.Spec.ProbeTarget, spec.Backends[i].ProbeTarget);
                        kept.Spec = spec.Backends[i];
                        if (probeMoved)
                        {
                            reprobe.Add(kept);
                        }
                    }

                    next[i] = kept;
                }
                else
                {
                    next[i] = new BackendState(spec.Backends[i], spec.Probe is not null);
                    fresh.Add(next[i]);
                }
            }

            var removed = new List<BackendState>(previous.Values);
            foreach (var backend in removed)
            {
                backend.Retire();
                _health?.Stop(backend);
            }

            if (probeChanged)
            {
                // Old verdicts came from another probe: every member starts over as a new one.
                _health?.StopAll();
                _health = spec.Probe is null ? null : NewMonitor(spec.Probe);
                foreach (var backend in next)
                {
                    backend.ResetHealth(spec.Probe is not null);
                    _health?.Start(backend);
                }
            }
            else if (_health is not null)
            {
                foreach (var backend in reprobe)
                {
                    _health.Stop(backend);
                    backend.ResetHealth(probed: true);
                    _health.Start(backend);
                }

                foreach (var backend in fresh)
                {
                    _health.Start(backend);
                }
            }

            Publish(new RouteTable(spec, AclCompiler.Compile(spec.Acl), next));
            return removed;
        }
    }

    /// <summary>Stops every probe loop; the table stays readable (connections being drained still use it).</summary>
    public void StopProbing()
    {
        lock (_configGate)
        {
            _health?.StopAll();
            _health = null;
        }
    }

    public IEnumerable<BackendHealth> GetHealth()
    {
        var route = Current;
        foreach (var backend in route.Backends)
        {
            yield return backend.ToHealth(_key, route.Spec.ServiceName);
        }
    }

    private HealthMonitor NewMonitor(Model.Services.LoadBalancerProbe probe) =>
        new(_key, probe, _timeProvider, _loggerFactory, OnHealthChanged, _onProbe);

    private void OnHealthChanged(BackendState backend, HealthState state, string? error)
    {
        Log.BackendHealthChanged(_logger, _key, backend.Spec.VmName, backend.Spec.EndpointName, state, error);
        lock (_configGate)
        {
            var route = _route;
            if (Array.IndexOf(route.Backends, backend) >= 0)
            {
                Publish(new RouteTable(route.Spec, route.Acl, route.Backends));
            }
        }
    }

    /// <summary>Caller holds the config gate: table swaps and their notifications stay in order.</summary>
    private void Publish(RouteTable next)
    {
        Volatile.Write(ref _route, next);
        _onRouteChanged?.Invoke(next);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 20, EventName = "BackendHealthChanged", Level = LogLevel.Information,
            Message = "{Key}: backend {VmName}/{EndpointName} is now {State} ({Error})")]
        public static partial void BackendHealthChanged(ILogger logger, ListenerKey key, string vmName, string endpointName, HealthState state, string? error);
    }
}
