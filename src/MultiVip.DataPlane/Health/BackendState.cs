using MultiVip.DataPlane.Contract;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Health;

/// <summary>
/// Runtime state of one backend of one listener: probe verdict and connection counters. The
/// connections it carries are the listener's (each knows its backend), so a new connection is
/// entered in one table, not two. Kept across reconfigurations
/// while the backend's spec is unchanged, so a config change does not reset health or counters.
/// </summary>
internal sealed class BackendState
{
    private readonly Lock _gate = new();
    private int _state;
    private int _consecutiveFailures;
    private int _consecutiveSuccesses;
    private DateTimeOffset? _lastProbeAt;
    private string? _lastError;
    private long _active;
    private long _total;
    private int _retired;
    private BackendSpec _spec;

    public BackendState(BackendSpec spec, bool probed)
    {
        _spec = spec;
        Name = MemberName(spec);
        _state = (int)(probed ? HealthState.Unknown : HealthState.NotProbed);
    }

    /// <summary>
    /// Replaced only when the probe target changes; the traffic identity (VM, endpoint, target) never does,
    /// so a new probe port does not drain a member's connections.
    /// </summary>
    public BackendSpec Spec { get => Volatile.Read(ref _spec); set => Volatile.Write(ref _spec, value); }

    /// <summary>What identifies a backend for traffic: connections to it survive a change of anything else.</summary>
    public static (string VmName, string EndpointName, System.Net.IPEndPoint Target) TrafficIdentity(BackendSpec spec) =>
        (spec.VmName, spec.EndpointName, spec.Target);

    /// <summary>Stable identity for consistent hashing: the same on every node and after restarts.</summary>
    public string Name { get; }

    public HealthState State => (HealthState)Volatile.Read(ref _state);

    /// <summary>Unknown (never probed yet) counts as in rotation, as new Azure members do; a draining one never does.</summary>
    public bool InRotation => State != HealthState.Unhealthy && !Spec.Draining;

    public long ActiveConnections => Interlocked.Read(ref _active);

    /// <summary>Bytes, connect failures and probe timings, for metrics (see <see cref="BackendCounters"/>).</summary>
    public BackendCounters Counters { get; } = new();

    public long TotalConnections => Interlocked.Read(ref _total);

    /// <summary>Removed from its listener; connections that race past the drain snapshot are reset.</summary>
    public bool IsRetired => Volatile.Read(ref _retired) != 0;

    public void Retire() => Volatile.Write(ref _retired, 1);

    public static string MemberName(BackendSpec spec) => $"{spec.VmName}/{spec.EndpointName}/{spec.Target}";

    /// <summary>A connection to this backend started forwarding (its listener holds it; see <see cref="Tcp.VipListener"/>).</summary>
    public void Attach()
    {
        Interlocked.Increment(ref _active);
        Interlocked.Increment(ref _total);
    }

    /// <summary>A UDP session bound to this backend: counted like a connection so health views show the load.</summary>
    public void AttachSession()
    {
        Interlocked.Increment(ref _active);
        Interlocked.Increment(ref _total);
    }

    public void DetachSession() => Interlocked.Decrement(ref _active);

    /// <summary>The end of a connection <see cref="Attach"/> counted (called exactly once per Attach).</summary>
    public void Detach() => Interlocked.Decrement(ref _active);

    /// <summary>
    /// Applies one probe result. Leaves rotation after <paramref name="threshold"/> consecutive
    /// failures and returns after as many consecutive successes; an Unknown member that answers
    /// becomes Healthy at once because it was in rotation already.
    /// </summary>
    /// <returns>The new state when it changed, otherwise null.</returns>
    public HealthState? RecordProbe(bool success, string? error, DateTimeOffset at, int threshold)
    {
        lock (_gate)
        {
            _lastProbeAt = at;
            _lastError = success ? null : error;
            var before = (HealthState)_state;
            var after = before;
            if (success)
            {
                _consecutiveFailures = 0;
                _consecutiveSuccesses++;
                if (before == HealthState.Unknown
                    || (before == HealthState.Unhealthy && _consecutiveSuccesses >= threshold))
                {
                    after = HealthState.Healthy;
                }
            }
            else
            {
                _consecutiveSuccesses = 0;
                _consecutiveFailures++;
                if (before != HealthState.Unhealthy && _consecutiveFailures >= threshold)
                {
                    after = HealthState.Unhealthy;
                }
            }

            if (after == before)
            {
                return null;
            }

            Volatile.Write(ref _state, (int)after);
            return after;
        }
    }

    /// <summary>A new probe definition makes old verdicts meaningless: start over as a new member.</summary>
    public void ResetHealth(bool probed)
    {
        lock (_gate)
        {
            _consecutiveFailures = 0;
            _consecutiveSuccesses = 0;
            _lastError = null;
            _lastProbeAt = null;
            Volatile.Write(ref _state, (int)(probed ? HealthState.Unknown : HealthState.NotProbed));
        }
    }

    public BackendHealth ToHealth(ListenerKey key, string serviceName)
    {
        lock (_gate)
        {
            return new BackendHealth(key, serviceName, Spec.VmName, Spec.EndpointName, (HealthState)_state, _lastProbeAt, _lastError)
            {
                ActiveConnections = ActiveConnections,
                TotalConnections = TotalConnections,
                Draining = Spec.Draining,
            };
        }
    }

    /// <summary>Counters and probe state of this backend at one moment, for metrics and the dashboard.</summary>
    public BackendTraffic ToTraffic()
    {
        var c = Counters;
        var latency = Volatile.Read(ref c.LastProbeLatencyTicks);
        return new BackendTraffic
        {
            VmName = Spec.VmName,
            EndpointName = Spec.EndpointName,
            State = State,
            ActiveConnections = ActiveConnections,
            TotalConnections = TotalConnections,
            BytesIn = Interlocked.Read(ref c.BytesIn),
            BytesOut = Interlocked.Read(ref c.BytesOut),
            ConnectFailures = Interlocked.Read(ref c.ConnectFailures),
            ConnectRetries = Interlocked.Read(ref c.ConnectRetries),
            Probes = Interlocked.Read(ref c.Probes),
            ProbeFailures = Interlocked.Read(ref c.ProbeFailures),
            LastProbeLatency = latency < 0 ? null : TimeSpan.FromTicks(latency),
        };
    }
}
