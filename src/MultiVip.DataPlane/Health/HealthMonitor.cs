using System.Net;
using Microsoft.Extensions.Logging;
using MultiVip.DataPlane.Contract;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Health;

/// <summary>
/// Probe loops of one listener's backends: each backend is probed as soon as it appears, then every
/// interval, all timing on the injected <see cref="TimeProvider"/> so tests can drive it.
/// </summary>
internal sealed partial class HealthMonitor
{
    private readonly ListenerKey _key;
    private readonly LoadBalancerProbe _probe;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly Action<BackendState, HealthState, string?> _onTransition;
    private readonly Action<ProbeObservation> _onProbe;
    private readonly Dictionary<BackendState, CancellationTokenSource> _loops = [];
    private readonly Lock _gate = new();

    public HealthMonitor(
        ListenerKey key,
        LoadBalancerProbe probe,
        TimeProvider timeProvider,
        ILoggerFactory loggerFactory,
        Action<BackendState, HealthState, string?> onTransition,
        Action<ProbeObservation> onProbe)
    {
        _key = key;
        _probe = probe;
        _timeProvider = timeProvider;
        _logger = loggerFactory.CreateLogger<HealthMonitor>();
        _onTransition = onTransition;
        _onProbe = onProbe;
    }

    /// <summary>
    /// Each attempt must finish within one interval so attempts never overlap. Azure's
    /// TimeoutInSeconds is the window to declare a member dead (it sets Threshold = timeout/interval),
    /// not the per-attempt limit, so the attempt gets min(timeout, interval).
    /// </summary>
    public TimeSpan AttemptTimeout => TimeSpan.FromSeconds(Math.Max(1, Math.Min(_probe.TimeoutInSeconds, _probe.IntervalInSeconds)));

    public TimeSpan Interval => TimeSpan.FromSeconds(Math.Max(1, _probe.IntervalInSeconds));

    public void Start(BackendState backend)
    {
        var cts = new CancellationTokenSource();
        lock (_gate)
        {
            if (_loops.ContainsKey(backend))
            {
                cts.Dispose();
                return;
            }

            _loops[backend] = cts;
        }

        _ = Task.Run(() => RunAsync(backend, cts.Token));
    }

    public void Stop(BackendState backend)
    {
        CancellationTokenSource? cts;
        lock (_gate)
        {
            if (!_loops.Remove(backend, out cts))
            {
                return;
            }
        }

        cts.Cancel();
        cts.Dispose();
    }

    public void StopAll()
    {
        CancellationTokenSource[] all;
        lock (_gate)
        {
            all = [.. _loops.Values];
            _loops.Clear();
        }

        foreach (var cts in all)
        {
            cts.Cancel();
            cts.Dispose();
        }
    }

    private IPEndPoint TargetOf(BackendSpec spec) =>
        spec.ProbeTarget ?? new IPEndPoint(spec.Target.Address, _probe.Port != 0 ? _probe.Port : spec.Target.Port);

    private async Task RunAsync(BackendState backend, CancellationToken cancellationToken)
    {
        var target = TargetOf(backend.Spec);
        var threshold = _probe.Threshold;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var started = _timeProvider.GetTimestamp();
                var error = await Probes.ProbeOnceAsync(_probe, target, AttemptTimeout, _timeProvider, cancellationToken).ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
                backend.Counters.RecordProbe(error is null, _timeProvider.GetElapsedTime(started));
                if (error is not null)
                {
                    Log.ProbeFailed(_logger, _key, target, error);
                }

                var changed = backend.RecordProbe(error is null, error, _timeProvider.GetUtcNow(), threshold);
                if (changed is { } state)
                {
                    _onTransition(backend, state, error);
                }

                // Schedule the next attempt before announcing this one (see ProbeObservation).
                var delay = Task.Delay(Interval, _timeProvider, cancellationToken);
                _onProbe(new ProbeObservation(_key, backend.Spec, error is null, backend.State, error));
                await delay.ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // Backend or listener removed.
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 21, EventName = "ProbeFailed", Level = LogLevel.Debug,
            Message = "{Key}: probe of {Target} failed: {Error}")]
        public static partial void ProbeFailed(ILogger logger, ListenerKey key, IPEndPoint target, string error);
    }
}
