using System.Diagnostics;
using System.Runtime.InteropServices;

namespace MultiVip.Cli.Serve;

/// <summary>
/// SIGUSR2 (the unit's <c>ExecReload=/bin/kill -USR2 $MAINPID</c>): the running server starts its
/// successor — the executable now on disk (an upgrade installed over it), with this process's
/// arguments and environment — which takes over through the data dir's takeover socket and tells
/// systemd MAINPID= itself. HAProxy's master re-executes on SIGUSR2 and nginx starts a new binary
/// on it; the same convention here. docs/operations.md, "Restart and upgrade without dropping connections".
/// </summary>
internal static class SuccessorProcess
{
    /// <summary>SIGUSR2 on Linux (x86-64 and arm64); .NET's PosixSignal has no name for it.</summary>
    public const int Sigusr2 = 12;

    /// <summary>Registers <paramref name="onSignal"/> for SIGUSR2; null where the signal does not exist (not Linux).</summary>
    public static PosixSignalRegistration? Register(Action onSignal)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        return PosixSignalRegistration.Create((PosixSignal)Sigusr2, signal =>
        {
            // Never the default action (exit): a stray USR2 must not drop every connection.
            signal.Cancel = true;
            onSignal();
        });
    }

    /// <summary>Starts the successor and says so on <paramref name="error"/> (the journal under systemd).</summary>
    public static void StartAndReport(TextWriter error)
    {
        try
        {
            var started = Start();
            error.WriteLine($"multivip: SIGUSR2: started the successor (PID {started}); it takes over the listening sockets, then this server drains and exits.");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
        {
            error.WriteLine($"multivip: SIGUSR2: could not start the successor ({e.Message}); this server goes on serving.");
        }
    }

    /// <summary>Starts this command line again from the executable on disk; its output goes where ours goes.</summary>
    public static int Start()
    {
        var executable = Environment.ProcessPath ?? throw new InvalidOperationException("the path of this executable is unknown");
        var arguments = Environment.GetCommandLineArgs();

        // `dotnet multivip.dll serve ...` passes the dll as argument 0; a published single file is its own argument 0.
        var hosted = Path.GetFileNameWithoutExtension(executable).Equals("dotnet", StringComparison.Ordinal);
        var start = new ProcessStartInfo(executable) { UseShellExecute = false };
        foreach (var argument in hosted ? arguments : arguments.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{executable} did not start");
        return process.Id;
    }
}
