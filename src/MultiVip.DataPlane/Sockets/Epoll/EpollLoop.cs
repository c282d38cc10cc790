using System.Diagnostics;
using System.Runtime.InteropServices;

namespace MultiVip.DataPlane.Sockets.Epoll;

/// <summary>
/// One event loop: a thread blocked in epoll_wait on its own epoll instance, dispatching each
/// readiness edge to the socket it belongs to. Sockets are registered once, edge-triggered, for
/// input, output and the peer's half-close; a continuation waiting for that edge then runs inline on
/// this thread (no thread-pool hop), so one loop per core runs its connections like an event-loop
/// proxy does. The loops live as long as the process, like the runtime's own socket engine.
/// </summary>
internal sealed unsafe class EpollLoop
{
    private const int MaxEvents = 256;

    private static readonly Lock s_tableGate = new();

    /// <summary>Sockets by descriptor number: the 64-bit epoll data carries the number and a registration
    /// generation, so a stale event for a closed (and reused) number is dropped instead of delivered.</summary>
    private static IEpollTarget?[] s_targets = new IEpollTarget?[1024];

    private static int s_generation;

    /// <summary>Sockets kept for reuse per loop (taken and given back on the loop's own thread only).</summary>
    private const int MaxPooledSockets = 256;

    private readonly int _epoll;

    /// <summary>An eventfd in the epoll set: wakes the loop when another thread adds an earlier deadline.</summary>
    private readonly int _wake;

    private readonly Lock _deadlineGate = new();
    private readonly List<EpollSocket> _expired = [];
    private readonly Stack<EpollSocket> _pool = new();
    private readonly Stack<SplicePipe> _pipes = new();
    private EpollSocket? _firstDeadline;

    /// <summary>The earliest deadline in the list (Stopwatch ticks), or long.MaxValue; may be earlier than the
    /// real earliest after a removal (the loop then wakes once for nothing and recomputes it).</summary>
    private long _earliestDeadline = long.MaxValue;

    private int _threadId;

    private EpollLoop(int index)
    {
        Index = index;
        _epoll = LibC.epoll_create1(LibC.EPOLL_CLOEXEC);
        if (_epoll < 0)
        {
            throw LibC.LastError();
        }

        _wake = LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
        if (_wake < 0)
        {
            throw LibC.LastError();
        }

        // Generation 0 is never handed out (Publish starts at 1): the loop tells this descriptor by its number.
        Add(_wake, 0, LibC.EPOLLIN | LibC.EPOLLET);
        var thread = new Thread(Run) { IsBackground = true, Name = $"mv-epoll-{index}" };
        thread.UnsafeStart();
    }

    public int Index { get; }

    /// <summary>True on this loop's own thread (where its events are dispatched).</summary>
    public bool IsLoopThread => Environment.CurrentManagedThreadId == Volatile.Read(ref _threadId);

    /// <summary>
    /// A connect's deadline, checked by the loop itself after each epoll_wait (whose timeout is the
    /// earliest deadline): no timer object per connect. <see cref="EpollSocket.CancelConnect"/> runs
    /// when it passes; <see cref="RemoveDeadline"/> when the connect finished first.
    /// </summary>
    public void AddDeadline(EpollSocket socket, long deadline)
    {
        bool earlier;
        lock (_deadlineGate)
        {
            socket.Deadline = deadline;
            socket.DeadlinePrevious = null;
            socket.DeadlineNext = _firstDeadline;
            if (_firstDeadline is not null)
            {
                _firstDeadline.DeadlinePrevious = socket;
            }

            _firstDeadline = socket;
            socket.InDeadlineList = true;
            earlier = deadline < _earliestDeadline;
            if (earlier)
            {
                _earliestDeadline = deadline;
            }
        }

        // On the loop's thread the loop is between two epoll_waits and computes the next timeout itself.
        if (earlier && !IsLoopThread)
        {
            WakeUp();
        }
    }

    public void RemoveDeadline(EpollSocket socket)
    {
        lock (_deadlineGate)
        {
            Unlink(socket);
        }
    }

    /// <summary>A pooled socket object for a new descriptor of this loop, or null (off the loop's thread, or none kept).</summary>
    public EpollSocket? TakePooled() => IsLoopThread && _pool.TryPop(out var socket) ? socket : null;

    /// <summary>Keeps a finished socket object for reuse; only on this loop's thread, where no event for it can be in dispatch.</summary>
    public void ReturnPooled(EpollSocket socket)
    {
        if (IsLoopThread && _pool.Count < MaxPooledSockets)
        {
            _pool.Push(socket);
        }
    }

    /// <summary>Empty pipes kept per loop for the next spliced direction (the descriptor budget reserves them:
    /// <see cref="DataPlaneOptions.IdlePipesPerCore"/>).</summary>
    private const int MaxIdlePipes = DataPlaneOptions.IdlePipesPerCore;

    /// <summary>An idle pipe of this loop, or null (off the loop's thread, or none kept).</summary>
    public SplicePipe? TakePipe() => IsLoopThread && _pipes.TryPop(out var pipe) ? pipe : null;

    /// <summary>Keeps an empty pipe for reuse; false (the caller closes it) off the loop's thread or when enough are kept.</summary>
    public bool ReturnPipe(SplicePipe pipe)
    {
        if (!IsLoopThread || _pipes.Count >= MaxIdlePipes)
        {
            return false;
        }

        _pipes.Push(pipe);
        return true;
    }

    private void Unlink(EpollSocket socket)
    {
        if (!socket.InDeadlineList)
        {
            return;
        }

        if (socket.DeadlinePrevious is { } previous)
        {
            previous.DeadlineNext = socket.DeadlineNext;
        }
        else
        {
            _firstDeadline = socket.DeadlineNext;
        }

        if (socket.DeadlineNext is { } next)
        {
            next.DeadlinePrevious = socket.DeadlinePrevious;
        }

        socket.DeadlineNext = null;
        socket.DeadlinePrevious = null;
        socket.InDeadlineList = false;
        if (_firstDeadline is null)
        {
            _earliestDeadline = long.MaxValue;
        }
    }

    private unsafe void WakeUp()
    {
        var one = 1UL;
        _ = LibC.write(_wake, &one, sizeof(ulong));
    }

    /// <summary>The epoll_wait timeout in milliseconds: -1 with no deadline, else until the earliest (rounded up).</summary>
    private int NextTimeout()
    {
        var earliest = Volatile.Read(ref _earliestDeadline);
        if (earliest == long.MaxValue)
        {
            return -1;
        }

        var remaining = earliest - Stopwatch.GetTimestamp();
        if (remaining <= 0)
        {
            return 0;
        }

        var milliseconds = ((remaining * 1000) + Stopwatch.Frequency - 1) / Stopwatch.Frequency;
        return (int)Math.Min(milliseconds, int.MaxValue);
    }

    private void ExpireDeadlines()
    {
        var now = Stopwatch.GetTimestamp();
        if (Volatile.Read(ref _earliestDeadline) > now)
        {
            return;
        }

        lock (_deadlineGate)
        {
            var earliest = long.MaxValue;
            for (var socket = _firstDeadline; socket is not null;)
            {
                var next = socket.DeadlineNext;
                if (socket.Deadline <= now)
                {
                    Unlink(socket);
                    _expired.Add(socket);
                }
                else if (socket.Deadline < earliest)
                {
                    earliest = socket.Deadline;
                }

                socket = next;
            }

            _earliestDeadline = earliest;
        }

        foreach (var socket in _expired)
        {
            socket.CancelConnect();
        }

        _expired.Clear();
    }

    /// <summary>Registers <paramref name="fd"/> edge-triggered with the given interest; returns the generation its events carry.</summary>
    public int Register(int fd, IEpollTarget target, uint interest)
    {
        var generation = Publish(fd, target);
        try
        {
            Add(fd, generation, interest);
        }
        catch
        {
            Unpublish(fd, generation);
            throw;
        }

        return generation;
    }

    /// <summary>Adds an already published descriptor to this loop's epoll set.</summary>
    public void Add(int fd, int generation, uint interest)
    {
        var ev = stackalloc byte[16];
        *(uint*)ev = interest;
        *(ulong*)(ev + LibC.EpollDataOffset) = ((ulong)(uint)generation << 32) | (uint)fd;
        if (LibC.epoll_ctl(_epoll, LibC.EPOLL_CTL_ADD, fd, ev) != 0)
        {
            throw LibC.LastError();
        }
    }

    /// <summary>Stops events of <paramref name="fd"/> reaching this loop (for a descriptor that is not closed, or is shared).</summary>
    public void Unregister(int fd)
    {
        // The kernel ignores the event argument of a delete (it must only be non-null before 2.6.9).
        var ev = stackalloc byte[16];
        _ = LibC.epoll_ctl(_epoll, LibC.EPOLL_CTL_DEL, fd, ev);
    }

    public static int Publish(int fd, IEpollTarget target)
    {
        var generation = Interlocked.Increment(ref s_generation);
        target.Generation = generation;
        lock (s_tableGate)
        {
            var table = s_targets;
            if (fd >= table.Length)
            {
                var grown = new IEpollTarget?[Math.Max(fd + 1, table.Length * 2)];
                Array.Copy(table, grown, table.Length);
                Volatile.Write(ref s_targets, grown);
                table = grown;
            }

            Volatile.Write(ref table[fd], target);
        }

        return generation;
    }

    /// <summary>Forgets the target of <paramref name="fd"/> if it is still the registration of <paramref name="generation"/>.
    /// Called before the descriptor is closed, so a number reused afterwards never meets the old target.</summary>
    public static void Unpublish(int fd, int generation)
    {
        lock (s_tableGate)
        {
            var table = s_targets;
            if (fd < table.Length && table[fd] is { } current && current.Generation == generation)
            {
                table[fd] = null;
            }
        }
    }

    private void Run()
    {
        var size = LibC.EpollEventSize;
        var dataOffset = LibC.EpollDataOffset;
        var events = (byte*)NativeMemory.Alloc((nuint)(MaxEvents * size));
        Volatile.Write(ref _threadId, Environment.CurrentManagedThreadId);
        while (true)
        {
            var count = LibC.epoll_wait(_epoll, events, MaxEvents, NextTimeout());
            if (count < 0)
            {
                // EINTR (a debugger, a signal): wait again. Nothing else can fail on a valid epoll fd.
                continue;
            }

            var table = Volatile.Read(ref s_targets);
            for (var i = 0; i < count; i++)
            {
                var entry = events + (i * size);
                var flags = *(uint*)entry;
                var data = *(ulong*)(entry + dataOffset);
                var fd = (int)(uint)data;
                var generation = (int)(data >> 32);
                if (fd == _wake && generation == 0)
                {
                    var counter = 0UL;
                    _ = LibC.read(_wake, &counter, sizeof(ulong));
                    continue;
                }

                if (fd < table.Length || (table = Volatile.Read(ref s_targets)).Length > fd)
                {
                    var target = Volatile.Read(ref table[fd]);
                    if (target is not null && target.Generation == generation)
                    {
                        target.OnEvents(flags, this);
                    }
                }
            }

            ExpireDeadlines();
        }
    }

    /// <summary>The loops, one per core the process may run on (created at first use).</summary>
    public static EpollLoop[] All => s_loops.Value;

    private static readonly Lazy<EpollLoop[]> s_loops = new(() =>
    {
        var loops = new EpollLoop[Math.Max(1, Environment.ProcessorCount)];
        for (var i = 0; i < loops.Length; i++)
        {
            loops[i] = new EpollLoop(i);
        }

        return loops;
    });

    private static int s_next;

    /// <summary>A loop for work with no affinity of its own (round robin).</summary>
    public static EpollLoop Next()
    {
        var loops = All;
        return loops[(int)((uint)Interlocked.Increment(ref s_next) % (uint)loops.Length)];
    }
}

/// <summary>What a loop delivers events to.</summary>
internal interface IEpollTarget
{
    int Generation { get; set; }

    void OnEvents(uint events, EpollLoop loop);
}
