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

    private readonly int _epoll;

    private EpollLoop(int index)
    {
        Index = index;
        _epoll = LibC.epoll_create1(LibC.EPOLL_CLOEXEC);
        if (_epoll < 0)
        {
            throw LibC.LastError();
        }

        var thread = new Thread(Run) { IsBackground = true, Name = $"mv-epoll-{index}" };
        thread.UnsafeStart();
    }

    public int Index { get; }

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
        while (true)
        {
            var count = LibC.epoll_wait(_epoll, events, MaxEvents, -1);
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
                if (fd < table.Length || (table = Volatile.Read(ref s_targets)).Length > fd)
                {
                    var target = Volatile.Read(ref table[fd]);
                    if (target is not null && target.Generation == generation)
                    {
                        target.OnEvents(flags, this);
                    }
                }
            }
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
