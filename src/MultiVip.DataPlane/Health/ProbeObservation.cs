using MultiVip.DataPlane.Contract;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Health;

/// <summary>One finished probe attempt. Raised after the next attempt's delay is scheduled, so a test
/// driving a fake clock can advance it as soon as it sees this.</summary>
internal sealed record ProbeObservation(ListenerKey Listener, BackendSpec Backend, bool Success, HealthState State, string? Error);
