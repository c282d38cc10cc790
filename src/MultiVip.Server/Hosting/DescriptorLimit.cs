using System.Runtime.InteropServices;

namespace MultiVip.Server.Hosting;

/// <summary>The process's open-file limit (RLIMIT_NOFILE) as found and as raised at start.</summary>
/// <param name="Soft">The limit in effect after raising: what accept() and socket() run into.</param>
/// <param name="Hard">The ceiling an unprivileged process may raise the soft limit to.</param>
/// <param name="SoftBefore">The soft limit the process was started with.</param>
internal sealed record DescriptorLimits(long Soft, long Hard, long SoftBefore);

/// <summary>
/// Reads and raises RLIMIT_NOFILE through libc. The soft limit is what the kernel enforces, the hard
/// limit what an unprivileged process may raise it to; systemd and shells often start services at
/// a soft 1024 under a hard limit of 524288 or more, so raising costs nothing and avoids a cap that
/// is only an accident of how the server was started. (The .NET runtime raises it too on Linux; doing
/// it here makes the figure we size every cap from explicit, and works wherever the runtime does not.)
/// </summary>
internal static class DescriptorLimit
{
    private const ulong Infinity = ulong.MaxValue;

    /// <summary>macOS caps a process at OPEN_MAX whatever the hard limit says.</summary>
    private const ulong MacOpenMax = 10_240;

    /// <summary>
    /// Raises the soft limit to the hard limit. Null where there is no such limit to read (Windows, or
    /// a 32-bit process whose rlim_t this binding does not describe): the caller then keeps the
    /// configured caps as they are.
    /// </summary>
    public static DescriptorLimits? Raise()
    {
        if (!(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD()) || !Environment.Is64BitProcess)
        {
            return null;
        }

        var resource = OperatingSystem.IsLinux() ? 7 : 8; // RLIMIT_NOFILE: 7 on Linux (x86-64, arm64), 8 on the BSDs and macOS
        if (GetRLimit(resource, out var limit) != 0)
        {
            return null;
        }

        var before = limit.Current;
        var target = limit.Maximum;
        if (OperatingSystem.IsMacOS() && target > MacOpenMax)
        {
            target = MacOpenMax;
        }

        if (limit.Current < target)
        {
            var raised = limit with { Current = target };
            if (SetRLimit(resource, in raised) == 0)
            {
                limit = raised;
            }
        }

        return new DescriptorLimits(AsLong(limit.Current), AsLong(limit.Maximum), AsLong(before));
    }

    /// <summary>Descriptors open right now (Linux: /proc/self/fd, macOS and BSD: /dev/fd); 0 where unknown.</summary>
    public static int CountOpen()
    {
        var directory = OperatingSystem.IsLinux() ? "/proc/self/fd" : "/dev/fd";
        try
        {
            // The enumeration holds one descriptor of its own while it runs: not counted.
            return Math.Max(0, Directory.EnumerateFileSystemEntries(directory).Count() - 1);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    private static long AsLong(ulong value) => value == Infinity || value > long.MaxValue ? long.MaxValue : (long)value;

    [StructLayout(LayoutKind.Sequential)]
    private record struct RLimit(ulong Current, ulong Maximum);

    // DllImport rather than LibraryImport: a blittable struct needs no marshalling code, and the
    // project stays free of unsafe blocks.
    [DllImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int GetRLimit(int resource, out RLimit limit);

    [DllImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int SetRLimit(int resource, in RLimit limit);
}
