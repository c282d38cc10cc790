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
/// One int of state changed by compare-and-swap (no lock object per direction: two fewer objects
/// per socket, and no lock taken per edge on the new-connection path).
/// </summary>
internal sealed class Readiness : IValueTaskSource<bool>
{
    private const int Idle = 0;
    private const int Ready = 1;
    private const int Waiting = 2;
    private const int Ended = 3;

    private ManualResetValueTaskSourceCore<bool> _core;
    private int _state;

    public bool IsEnded => Volatile.Read(ref _state) == Ended;

    /// <summary>Called right before the system call this readiness is for.</summary>
    public void Clear() => Interlocked.CompareExchange(ref _state, Idle, Ready);

    public ValueTask<bool> WaitAsync()
    {
        while (true)
        {
            switch (Volatile.Read(ref _state))
            {
                case Ended:
                    return new ValueTask<bool>(false);
                case Ready:
                    if (Interlocked.CompareExchange(ref _state, Idle, Ready) == Ready)
                    {
                        return new ValueTask<bool>(true);
                    }

                    break;
                default:
                    // Idle (one consumer: never Waiting here). The core is only touched by whoever moves
                    // the state out of Waiting, so it can be prepared before the state says so.
                    _core.Reset();
                    _core.RunContinuationsAsynchronously = false;
                    if (Interlocked.CompareExchange(ref _state, Waiting, Idle) == Idle)
                    {
                        return new ValueTask<bool>(this, _core.Version);
                    }

                    break;
            }
        }
    }

    /// <summary>An edge from the loop.</summary>
    public void Signal()
    {
        while (true)
        {
            switch (Volatile.Read(ref _state))
            {
                case Idle:
                    if (Interlocked.CompareExchange(ref _state, Ready, Idle) == Idle)
                    {
                        return;
                    }

                    break;
                case Waiting:
                    if (Interlocked.CompareExchange(ref _state, Idle, Waiting) == Waiting)
                    {
                        _core.SetResult(true);
                        return;
                    }

                    break;
                default:
                    return; // already ready, or ended
            }
        }
    }

    /// <summary>Ends every present and future wait with false (the socket is closing, or a connect gave up).</summary>
    public void End()
    {
        if (Interlocked.Exchange(ref _state, Ended) == Waiting)
        {
            _core.RunContinuationsAsynchronously = true;
            _core.SetResult(false);
        }
    }

    /// <summary>Makes a recycled socket's direction new again (no wait may be pending: the socket's loops are done).</summary>
    public void Renew() => Volatile.Write(ref _state, Idle);

    bool IValueTaskSource<bool>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
