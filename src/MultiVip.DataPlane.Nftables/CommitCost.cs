using System.Globalization;
using System.Runtime.InteropServices;

namespace MultiVip.DataPlane.Nftables;

/// <summary>
/// What the calling thread did over a synchronous section, from the kernel's own accounting: time on a CPU
/// (clock_gettime CLOCK_THREAD_CPUTIME_ID, to the nanosecond), split into user space and kernel by getrusage
/// RUSAGE_THREAD (sampled at the scheduler tick, so the split is exact only over many changes: read medians),
/// time spent runnable but waiting for a CPU (the run queue: <c>/proc/thread-self/schedstat</c>), and the bytes it allocated on the managed heap
/// (<see cref="GC.GetAllocatedBytesForCurrentThread"/>). Elapsed time minus both is time the thread
/// slept: a lock, an RCU grace period, I/O. That split is what tells a slow commit that worked from one that
/// waited for another process's CPU or for the kernel (bench/kernel-scale --breakdown).
/// </summary>
internal readonly record struct ThreadTime(TimeSpan User, TimeSpan System, TimeSpan OnCpu, TimeSpan RunQueue, long Allocated)
{
    private const int RusageThread = 1;

    private const int ClockThreadCpuTime = 3;

    public static ThreadTime operator -(ThreadTime after, ThreadTime before) =>
        new(after.User - before.User, after.System - before.System, after.OnCpu - before.OnCpu, after.RunQueue - before.RunQueue, after.Allocated - before.Allocated);

    public static ThreadTime operator +(ThreadTime a, ThreadTime b) =>
        new(a.User + b.User, a.System + b.System, a.OnCpu + b.OnCpu, a.RunQueue + b.RunQueue, a.Allocated + b.Allocated);

    /// <summary>The calling thread's totals so far (zero where the kernel does not say: no schedstat, no getrusage).</summary>
    public static ThreadTime Now()
    {
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        TimeSpan user = default, system = default, onCpu = default, runQueue = default;

        // struct rusage starts with ru_utime and ru_stime, two struct timeval { long sec; long usec; }.
        Span<long> usage = stackalloc long[18];
        if (NativeMethods.getrusage(RusageThread, ref MemoryMarshal.GetReference(usage)) == 0)
        {
            user = TimeSpan.FromMicroseconds((usage[0] * 1_000_000) + usage[1]);
            system = TimeSpan.FromMicroseconds((usage[2] * 1_000_000) + usage[3]);
        }

        // schedstat's on-CPU figure lags for the running thread (it is brought up to date at the next tick
        // or switch); the thread CPU clock is not.
        Span<long> clock = stackalloc long[2];
        if (NativeMethods.clock_gettime(ClockThreadCpuTime, ref MemoryMarshal.GetReference(clock)) == 0)
        {
            onCpu = TimeSpan.FromTicks(((clock[0] * 1_000_000_000) + clock[1]) / 100);
        }

        try
        {
            // "on-cpu-ns runqueue-wait-ns timeslices": the wait is added up each time the thread gets a CPU.
            var fields = File.ReadAllText("/proc/thread-self/schedstat").Split(' ');
            runQueue = TimeSpan.FromTicks(long.Parse(fields[1], CultureInfo.InvariantCulture) / 100);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
        }

        return new ThreadTime(user, system, onCpu, runQueue, allocated);
    }

    /// <summary>Of <paramref name="elapsed"/>, the time neither on a CPU nor waiting for one.</summary>
    public TimeSpan Slept(TimeSpan elapsed) => elapsed - OnCpu - RunQueue > TimeSpan.Zero ? elapsed - OnCpu - RunQueue : TimeSpan.Zero;

    private static class NativeMethods
    {
        [DllImport("libc", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int getrusage(int who, ref long usage);

        [DllImport("libc", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int clock_gettime(int clock, ref long time);
    }
}

/// <summary>One section of a change: how long it took and what the thread did meanwhile (zero where it ran off the calling thread).</summary>
internal readonly record struct SectionTime(TimeSpan Elapsed, ThreadTime Thread)
{
    public static SectionTime operator +(SectionTime a, SectionTime b) => new(a.Elapsed + b.Elapsed, a.Thread + b.Thread);

    /// <summary>Of <see cref="Elapsed"/>, the time neither on a CPU nor waiting for one (a lock, an RCU grace period, I/O).</summary>
    public TimeSpan Slept => Thread.Slept(Elapsed);
}

/// <summary>
/// Where one <see cref="NftablesDataPlane.ApplyAsync"/> change's time went, raised (only when someone
/// listens: bench/kernel-scale --breakdown) after it committed: waiting for the commit lock, the diff of
/// the desired listeners against the table's (with their routes), the netlink batch of a new set's slot
/// map (<see cref="NftSetElements"/>), the rendering of the nft text, the nft transaction (libnftables'
/// parse and cache dump and the kernel's commit, in process) and the bookkeeping after it. Each section
/// says how the thread spent it (user, kernel, run queue, asleep), so a slow change tells whether it
/// worked, waited for a CPU or waited for something else.
/// </summary>
internal sealed record CommitCost(TimeSpan Total, TimeSpan LockWait, SectionTime Diff, SectionTime Netlink, SectionTime Render, SectionTime Nft, SectionTime Finish);

/// <summary>
/// Adds up the sections of one change for <see cref="CommitCost"/>. Every section but nft's is synchronous
/// code on the calling thread; nft's is too when it runs in process (<paramref name="nftOnThisThread"/>),
/// else it awaits an nft process and only its elapsed time means something.
/// </summary>
internal sealed class CommitCostMeter(bool nftOnThisThread)
{
    private SectionTime _diff;
    private SectionTime _netlink;
    private SectionTime _render;
    private SectionTime _nft;
    private SectionTime _finish;

    internal enum Section
    {
        Diff,
        Netlink,
        Render,
        Nft,
        Finish,
    }

    public (long At, ThreadTime Thread) Begin() => (System.Diagnostics.Stopwatch.GetTimestamp(), ThreadTime.Now());

    public void End(Section section, (long At, ThreadTime Thread) begun)
    {
        var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(begun.At);
        var time = new SectionTime(elapsed, section != Section.Nft || nftOnThisThread ? ThreadTime.Now() - begun.Thread : default);
        switch (section)
        {
            case Section.Diff: _diff += time; break;
            case Section.Netlink: _netlink += time; break;
            case Section.Render: _render += time; break;
            case Section.Nft: _nft += time; break;
            default: _finish += time; break;
        }
    }

    public CommitCost Cost(TimeSpan total, TimeSpan lockWait) => new(total, lockWait, _diff, _netlink, _render, _nft, _finish);
}
