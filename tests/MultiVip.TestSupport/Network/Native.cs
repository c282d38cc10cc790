using System.Runtime.InteropServices;

namespace MultiVip.TestSupport.Network;

/// <summary>The few libc calls .NET has no API for: entering a network namespace, and SIGTERM.</summary>
internal static partial class Native
{
    private const int CloneNewNet = 0x40000000;
    private const int ReadOnly = 0;
    private const int CloseOnExec = 0x80000;
    public const int SigTerm = 15;

    [DllImport("libc", SetLastError = true, CharSet = CharSet.Ansi)]
    private static extern int open(string path, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int close(int fd);

    [DllImport("libc", SetLastError = true)]
    private static extern int setns(int fd, int nstype);

    [DllImport("libc", SetLastError = true)]
    public static extern int kill(int pid, int signal);

    /// <summary>
    /// Runs <paramref name="action"/> on a new OS thread that has entered the namespace whose file is
    /// <paramref name="namespacePath"/> (/run/netns/NAME). setns changes only the calling thread, and a
    /// socket keeps the namespace it was created in for life, so sockets made here work from any thread.
    /// </summary>
    public static T InNamespace<T>(string namespacePath, Func<T> action)
    {
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            var original = open("/proc/thread-self/ns/net", ReadOnly | CloseOnExec);
            var target = open(namespacePath, ReadOnly | CloseOnExec);
            try
            {
                if (original < 0 || target < 0)
                {
                    throw new InvalidOperationException($"cannot open {namespacePath} (errno {Marshal.GetLastPInvokeError()})");
                }

                if (setns(target, CloneNewNet) != 0)
                {
                    throw new InvalidOperationException($"setns({namespacePath}) failed (errno {Marshal.GetLastPInvokeError()}): entering a network namespace needs CAP_SYS_ADMIN");
                }

                try
                {
                    result = action();
                }
                finally
                {
                    // The thread ends right after; going back keeps the runtime's view of it tidy anyway.
                    _ = setns(original, CloneNewNet);
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
            finally
            {
                if (target >= 0)
                {
                    _ = close(target);
                }

                if (original >= 0)
                {
                    _ = close(original);
                }
            }
        })
        {
            IsBackground = true,
            Name = "netns " + namespacePath,
        };
        thread.Start();
        thread.Join();
        if (failure is not null)
        {
            throw failure;
        }

        return result;
    }
}
