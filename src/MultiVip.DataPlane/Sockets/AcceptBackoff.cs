using System.Net.Sockets;

namespace MultiVip.DataPlane.Sockets;

/// <summary>
/// What an accept loop does when accept() fails. A connection that died in the backlog is that
/// client's problem: accept the next one at once. Anything else (EMFILE/ENFILE: no descriptor left,
/// ENOBUFS/ENOMEM: no kernel memory) will fail again immediately, so retrying at once only spins a
/// core and floods the log: pause, doubling from 5 ms up to 1 s while it lasts, as HAProxy pauses its
/// listeners. The kernel keeps queueing new connections in the backlog meanwhile.
/// </summary>
internal struct AcceptBackoff
{
    public static readonly TimeSpan MinDelay = TimeSpan.FromMilliseconds(5);

    public static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(1);

    private TimeSpan _delay;

    /// <summary>Errors that concern one queued connection only: the next accept may well succeed.</summary>
    public static bool IsPerConnection(SocketException exception) =>
        exception.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted
            or SocketError.Interrupted or SocketError.TimedOut or SocketError.HostUnreachable or SocketError.NetworkUnreachable;

    /// <summary>The process or the system ran out of descriptors or buffer memory.</summary>
    public static bool IsResourceShortage(SocketException exception) =>
        exception.SocketErrorCode is SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable
        || (OperatingSystem.IsLinux() && exception.NativeErrorCode == 12); // ENOMEM has no SocketError of its own

    /// <summary>The pause before the next attempt: doubles on each failure in a row.</summary>
    public TimeSpan Next()
    {
        _delay = _delay < MinDelay ? MinDelay : TimeSpan.FromTicks(Math.Min(_delay.Ticks * 2, MaxDelay.Ticks));
        return _delay;
    }

    /// <summary>An accept succeeded: the next failure starts from the shortest pause again.</summary>
    public void Reset() => _delay = TimeSpan.Zero;

    /// <summary>The hint a log line gives for an accept error.</summary>
    public static string Hint(SocketException exception) =>
        IsResourceShortage(exception)
            ? "the process is out of file descriptors or socket memory; raise the descriptor limit (LimitNOFILE= in the systemd unit, ulimit -n) or lower the connection caps"
            : "accepting is paused briefly and retried";
}
