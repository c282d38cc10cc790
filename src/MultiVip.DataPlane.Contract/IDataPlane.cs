namespace MultiVip.Model.DesiredState;

/// <summary>
/// The seam between the control plane and whatever carries traffic. The control plane calls
/// <see cref="ApplyAsync"/> with each new snapshot, one call at a time, and completes the operations
/// of that generation when it returns.
/// </summary>
public interface IDataPlane
{
    /// <summary>
    /// Makes the running listeners match <paramref name="desired"/>. Returns when every listener that
    /// could be applied is live; listeners that could not (an address that cannot be bound, say) are
    /// reported as faults and retried with the next snapshot.
    /// </summary>
    Task<ApplyResult> ApplyAsync(DesiredState desired, CancellationToken cancellationToken);

    /// <summary>
    /// Probe state of every backend, for deployment show and the API; with <paramref name="serviceName"/>
    /// only that service's listeners are read, so the cost does not grow with the other services.
    /// </summary>
    IReadOnlyList<BackendHealth> GetHealth(string? serviceName = null);
}

public sealed record ApplyResult(long Generation, IReadOnlyList<ListenerFault> Faults)
{
    public static ApplyResult Ok(long generation) => new(generation, []);
}

/// <summary>A listener the data plane could not start, and why.</summary>
public sealed record ListenerFault(ListenerKey Key, string ServiceName, string Message);

public enum HealthState
{
    /// <summary>Not probed yet (a new member starts in rotation, as Azure's do).</summary>
    [System.Text.Json.Serialization.JsonStringEnumMemberName("Unknown")]
    Unknown,
    [System.Text.Json.Serialization.JsonStringEnumMemberName("Healthy")]
    Healthy,
    [System.Text.Json.Serialization.JsonStringEnumMemberName("Unhealthy")]
    Unhealthy,

    /// <summary>The endpoint has no probe: it always receives traffic.</summary>
    [System.Text.Json.Serialization.JsonStringEnumMemberName("NotProbed")]
    NotProbed,
}

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
}
