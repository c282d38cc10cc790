using System.Net.Sockets;
using MultiVip.DataPlane.Contract;

namespace MultiVip.Server.Hosting.Takeover;

/// <summary>
/// The successor's side of a takeover: connects to the running server's
/// <c>&lt;data-dir&gt;/takeover.sock</c>, receives every listening socket it has (adopted by the
/// data plane, the API and DNS instead of binding), and, once this server serves, tells it to stop
/// accepting (<see cref="Complete"/>). Returned by <see cref="TryConnect"/> only when the running
/// server has stopped writing and unlocked the data dir.
/// </summary>
internal sealed class Predecessor : IDisposable
{
    /// <summary>
    /// The old server answers after its writers stopped: a group commit and the last usage sample.
    /// Bounded so a wedged predecessor fails the start with a sentence instead of hanging it.
    /// </summary>
    private static readonly TimeSpan HandOverTimeout = TimeSpan.FromSeconds(60);

    private readonly TakeoverChannel _channel;
    private readonly IReadOnlyList<ListeningSocket> _received;

    private Predecessor(TakeoverChannel channel, int pid, IReadOnlyList<ListeningSocket> received)
    {
        _channel = channel;
        _received = received;
        Pid = pid;
        Sockets = new InheritedSockets(received);
    }

    public int Pid { get; }

    /// <summary>How many listening sockets the old server handed over.</summary>
    public int Received => _received.Count;

    public InheritedSockets Sockets { get; }

    /// <summary>
    /// Null, with the reason in <paramref name="none"/>, when no running server offers a takeover:
    /// no socket (never offered, --no-takeover, or it is still starting) or nobody listening on it
    /// (a server that crashed). Then the data dir's lock decides, as it always did.
    /// </summary>
    public static Predecessor? TryConnect(string dataDir, out string none)
    {
        var path = Path.Combine(dataDir, TakeoverChannel.SocketFileName);
        if (!UnixRights.Supported || !File.Exists(path))
        {
            none = $"no running server offers a takeover ({path} does not exist)";
            return null;
        }

        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            none = $"nobody answers on {path} ({ex.SocketErrorCode}): a server that stopped without removing it";
            return null;
        }

        var channel = new TakeoverChannel(socket);
        var received = new List<int>();
        try
        {
            var (pid, uid) = UnixRights.PeerCredentials(socket);
            if (uid != UnixRights.EffectiveUid)
            {
                throw new InvalidOperationException(
                    $"The server offering a takeover on {path} (PID {pid}) runs as uid {uid}, this one as uid {UnixRights.EffectiveUid}: its sockets are not taken. Start the new server as the same user as the running one.");
            }

            UnixRights.SetTimeouts(socket, HandOverTimeout);
            channel.Send($"HELLO {TakeoverChannel.Version} {Environment.ProcessId}");
            var described = new List<(ListeningSocketKind Kind, System.Net.IPEndPoint EndPoint)>();
            while (true)
            {
                var frame = channel.Receive(received)
                    ?? throw new IOException($"the running server (PID {pid}) closed the takeover connection before it handed over its sockets; see its log (a different version of multivip refuses HELLO {TakeoverChannel.Version})");
                if (frame.StartsWith("END ", StringComparison.Ordinal))
                {
                    break;
                }

                if (!frame.StartsWith("SOCKETS", StringComparison.Ordinal))
                {
                    throw new InvalidDataException($"the running server sent '{frame}' instead of its sockets");
                }

                described.AddRange(TakeoverChannel.Parse(frame));
            }

            if (described.Count != received.Count)
            {
                throw new InvalidDataException($"the running server described {described.Count} socket(s) but passed {received.Count} descriptor(s)");
            }

            var sockets = new List<ListeningSocket>(received.Count);
            for (var i = 0; i < received.Count; i++)
            {
                var adopted = new Socket(new SafeSocketHandle(received[i], ownsHandle: true));

                // Shared with the old server until it stops accepting: if this start fails, closing
                // our copy must not shut the socket down under it (see HandedOverSockets).
                HandedOverSockets.Mark(adopted);
                sockets.Add(new ListeningSocket(described[i].Kind, described[i].EndPoint, adopted));
            }

            none = "";
            return new Predecessor(channel, pid, sockets);
        }
        catch (Exception ex) when (ex is SocketException or IOException or InvalidDataException)
        {
            channel.Dispose();
            CloseAll(received);
            throw new InvalidOperationException(
                $"Taking over from the server running on {dataDir} failed: {ex.Message}. Nothing was started; the running server goes on serving (start this one with --no-takeover to be refused instead).", ex);
        }
        catch
        {
            channel.Dispose();
            CloseAll(received);
            throw;
        }
    }

    /// <summary>This server accepts on every socket now: the old one stops accepting, drains and exits. Returns its drain timeout as it said it.</summary>
    public string Complete()
    {
        try
        {
            _channel.Send("ACCEPTING");
            return _channel.Receive([]) ?? "(no answer)";
        }
        catch (Exception ex) when (ex is SocketException or IOException or InvalidDataException)
        {
            // It stops accepting when it reads ACCEPTING or when we go away; either way we serve.
            return ex.Message;
        }
    }

    /// <summary>The takeover is complete: the sockets are ours alone, closed like any other when this server stops.</summary>
    public void Adopted()
    {
        foreach (var socket in _received)
        {
            HandedOverSockets.Unmark(socket.Socket);
        }
    }

    private static void CloseAll(List<int> descriptors)
    {
        foreach (var fd in descriptors)
        {
            new SafeSocketHandle(fd, ownsHandle: true).Dispose();
        }
    }

    public void Dispose() => _channel.Dispose();
}
