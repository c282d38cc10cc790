using System.Threading.Channels;
using MultiVip.DataPlane.Contract;

namespace MultiVip.Control.Tests.Support;

/// <summary>
/// A data plane that records every snapshot it is given and can be held busy in the middle of an
/// apply. Why not the real <c>DataPlaneHost</c>: these tests are about the control plane's side of
/// the contract — which generations it publishes, how often, and when operations complete — and
/// the real one applies a snapshot without listeners in microseconds, with no way to keep it busy
/// while more generations arrive. What the real data plane does with a snapshot is DataPlane.Tests'
/// subject; <see cref="ConcurrentChangeTests"/> still run the control plane on the real one.
/// </summary>
internal sealed class RecordingDataPlane : IDataPlane
{
    private readonly Lock _gate = new();
    private readonly List<long> _applied = [];
    private readonly Channel<long> _started = Channel.CreateUnbounded<long>();
    private readonly Channel<long> _finished = Channel.CreateUnbounded<long>();
    private TaskCompletionSource? _hold;

    /// <summary>Generations applied, in order.</summary>
    public IReadOnlyList<long> Applied
    {
        get
        {
            lock (_gate)
            {
                return [.. _applied];
            }
        }
    }

    /// <summary>Faults the next applies report (a listener that cannot bind, say).</summary>
    public IReadOnlyList<ListenerFault> Faults { get; set; } = [];

    /// <summary>Applies from now on wait inside <see cref="ApplyAsync"/> until <see cref="Release"/>.</summary>
    public void Hold()
    {
        lock (_gate)
        {
            _hold ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    public void Release()
    {
        TaskCompletionSource? hold;
        lock (_gate)
        {
            hold = _hold;
            _hold = null;
        }

        hold?.TrySetResult();
    }

    /// <summary>The generation of the next apply that starts (in order of starting).</summary>
    public ValueTask<long> NextStartedAsync(CancellationToken cancellationToken = default) =>
        _started.Reader.ReadAsync(cancellationToken);

    /// <summary>Waits until an apply of <paramref name="generation"/> or later has finished.</summary>
    public async Task WaitAppliedAsync(long generation, CancellationToken cancellationToken = default)
    {
        while (await _finished.Reader.ReadAsync(cancellationToken) < generation)
        {
        }
    }

    public async Task<ApplyResult> ApplyAsync(DesiredState desired, CancellationToken cancellationToken)
    {
        Task hold;
        lock (_gate)
        {
            hold = _hold?.Task ?? Task.CompletedTask;
        }

        _started.Writer.TryWrite(desired.Generation);
        await hold.WaitAsync(cancellationToken);
        lock (_gate)
        {
            _applied.Add(desired.Generation);
        }

        _finished.Writer.TryWrite(desired.Generation);
        return new ApplyResult(desired.Generation, Faults);
    }

    public IReadOnlyList<BackendHealth> GetHealth(string? serviceName = null) => [];
}
