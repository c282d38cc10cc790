using System.Diagnostics;

namespace MultiVip.Tests.Shared;

/// <summary>
/// A small tmpfs of its own, mounted in a temp directory: a real disk that can be filled to the last
/// byte or remounted read-only, which chmod cannot simulate for root. Needs root (mount(8)); tests
/// that use it are <see cref="RequiresRootFactAttribute"/>. Unmounted on dispose.
/// </summary>
internal sealed class Tmpfs : IDisposable
{
    private Tmpfs(string path) => Path = path;

    public string Path { get; }

    private string Filler => System.IO.Path.Combine(Path, "filler");

    public static Tmpfs Mount(int sizeKiB)
    {
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "multivip-tmpfs", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        Run("mount", "-t", "tmpfs", "-o", $"size={sizeKiB}k,mode=0755", "tmpfs", path);
        return new Tmpfs(path);
    }

    public void RemountReadOnly() => Run("mount", "-o", "remount,ro", Path);

    public void RemountReadWrite() => Run("mount", "-o", "remount,rw", Path);

    /// <summary>Writes a filler file until the file system refuses another byte (ENOSPC).</summary>
    public void Fill()
    {
        var chunk = new byte[4096];
        using var stream = new FileStream(Filler, FileMode.Append, FileAccess.Write, FileShare.None, bufferSize: 0);
        try
        {
            while (true)
            {
                stream.Write(chunk);
            }
        }
        catch (IOException)
        {
        }

        // The last partial chunk may still fit byte by byte.
        try
        {
            while (true)
            {
                stream.Write(chunk, 0, 1);
            }
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Removes the filler: the space is back.</summary>
    public void Free() => File.Delete(Filler);

    public long AvailableBytes => new DriveInfo(Path).AvailableFreeSpace;

    public void Dispose()
    {
        if (!TryRun("umount", Path))
        {
            // Something still holds a file (a server that failed to stop): detach it anyway.
            TryRun("umount", "-l", Path);
        }

        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static void Run(string file, params string[] args)
    {
        if (!TryRun(out var error, file, args))
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed: {error}");
        }
    }

    private static bool TryRun(string file, params string[] args) => TryRun(out _, file, args);

    private static bool TryRun(out string error, string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        error = process.StandardError.ReadToEnd();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0;
    }
}

/// <summary>
/// A fact that mounts file systems: skipped, with the reason, when the tests do not run as root
/// (they do here and in CI).
/// </summary>
internal sealed class RequiresRootFactAttribute : FactAttribute
{
    public RequiresRootFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            Skip = "Needs root: it mounts a tmpfs to get a disk that can really be full or read-only (chmod does not stop root). Run the tests as root.";
        }
    }
}

/// <inheritdoc cref="RequiresRootFactAttribute"/>
internal sealed class RequiresRootTheoryAttribute : TheoryAttribute
{
    public RequiresRootTheoryAttribute()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            Skip = "Needs root: it mounts a tmpfs to get a disk that can really be full or read-only (chmod does not stop root). Run the tests as root.";
        }
    }
}
