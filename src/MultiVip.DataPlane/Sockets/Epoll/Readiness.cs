using System.Threading.Tasks.Sources;

namespace MultiVip.DataPlane.Sockets.Epoll;

/// <summary>
/// One direction's readiness of an edge-triggered descriptor: the loop records an edge, the one
/// consumer of that direction awaits the next one. The consumer clears the flag right before each
/// system call, so an edge older than the call (which the call saw) never causes a wasted retry,
/// and an edge during or after it is kept. The wait completes inline on the thread that signals (the
/// loop), except when the socket is closed under it (a sweep, a drain): then on the thread pool, so
/// a closing thread never runs a copy loop.
/// Result: true when ready, false when the socket was closed or the wait cancelled.
/// </summary>
internal sealed class Readiness : IValueTaskSource<bool>
{
    private readonly Lock _gate = new();
    private ManualResetValueTaskSourceCore<bool> _core;
    private bool _ready;
    private bool _waiting;
    private bool _ended;

    public bool IsEnded => Volatile.Read(ref _ended);

    /// <summary>Called right before the system call this readiness is for.</summary>
    public void Clear() => Volatile.Write(ref _ready, false);

    public ValueTask<bool> WaitAsync()
    {
        lock (_gate)
        {
            if (_ended)
            {
                return new ValueTask<bool>(false);
            }

            if (_ready)
            {
                _ready = false;
                return new ValueTask<bool>(true);
            }

            _core.Reset();
            _core.RunContinuationsAsynchronously = false;
            _waiting = true;
            return new ValueTask<bool>(this, _core.Version);
        }
    }

    /// <summary>An edge from the loop.</summary>
    public void Signal()
    {
        lock (_gate)
        {
            if (!_waiting)
            {
                _ready = true;
                return;
            }

            _waiting = false;
        }

        _core.SetResult(true);
    }

    /// <summary>Ends every present and future wait with false (the socket is closing, or a connect gave up).</summary>
    public void End()
    {
        lock (_gate)
        {
            _ended = true;
            if (!_waiting)
            {
                return;
            }

            _waiting = false;
            _core.RunContinuationsAsynchronously = true;
        }

        _core.SetResult(false);
    }

    bool IValueTaskSource<bool>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
