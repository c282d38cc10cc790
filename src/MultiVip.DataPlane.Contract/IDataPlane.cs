using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Contract;

/// <summary>
/// The seam between the control plane and whatever carries traffic. The control plane calls
/// <see cref="ApplyAsync"/> with each new snapshot, one call at a time, and completes the operations
/// of that generation when it returns.
/// </summary>
public interface IDataPlane : IBackendHealthSource
{
    /// <summary>
    /// Makes the running listeners match <paramref name="desired"/>. Returns when every listener that
    /// could be applied is live; listeners that could not (an address that cannot be bound, say) are
    /// reported as faults and retried with the next snapshot.
    /// </summary>
    Task<ApplyResult> ApplyAsync(DesiredState desired, CancellationToken cancellationToken);
}

/// <summary>Probe state of backends, read by the API (deployment show) and the dashboard.</summary>
public interface IBackendHealthSource
{
    /// <summary>
    /// Probe state of every backend, for deployment show and the API; with <paramref name="serviceName"/>
    /// only that service's listeners are read, so the cost does not grow with the other services.
    /// </summary>
    IReadOnlyList<BackendHealth> GetHealth(string? serviceName = null);
}

/// <summary>
/// Everything a host holds of its data plane, in one reference: the control plane's seam, the
/// read-backs for metrics and the dashboard (health, traffic, UDP sessions), the addresses still
/// draining (so an announcer withdraws a VIP only after its connections end) and the drain on
/// SIGTERM. The server is written against this, so a second data plane (a kernel one) is another
/// implementation rather than a change to the server.
/// </summary>
public interface IHostedDataPlane : IDataPlane, ITrafficSource, IUdpSessionSource, IDrainingAddresses, IListeningSocketSource, IAsyncDisposable
{
    /// <summary>
    /// Graceful stop: stops accepting, lets connections finish for up to the data plane's drain
    /// timeout (or until <paramref name="cancellationToken"/>), then resets the rest.
    /// </summary>
    Task DrainAndStopAsync(CancellationToken cancellationToken);
}

public sealed record ApplyResult(long Generation, IReadOnlyList<ListenerFault> Faults)
{
    public static ApplyResult Ok(long generation) => new(generation, []);
}

/// <summary>A listener the data plane could not start, and why.</summary>
public sealed record ListenerFault(ListenerKey Key, string ServiceName, string Message);

/// <summary>Health of one backend as the data plane sees it.</summary>
public sealed record BackendHealth(
    ListenerKey Listener,
    string ServiceName,
    string VmName,
    string EndpointName,
    HealthState State,
    DateTimeOffset? LastProbeAt,
    string? LastError)
{
    public long ActiveConnections { get; init; }

    public long TotalConnections { get; init; }

    /// <summary>The backend's VM is draining: out of rotation whatever its probe says.</summary>
    public bool Draining { get; init; }
    /// <summary>Which plane carries the listener: <see cref="Planes.UserSpace"/> or <see cref="Planes.Nftables"/>.</summary>
    public string Plane { get; init; } = Planes.UserSpace;
}

/// <summary>The names of the data planes, as `serve --data-plane` takes them and views show them.</summary>
public static class Planes
{
    public const string UserSpace = "userspace";

    public const string Nftables = "nftables";
}
