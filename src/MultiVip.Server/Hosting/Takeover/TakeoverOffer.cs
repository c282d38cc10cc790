using System.Net.Sockets;
using MultiVip.DataPlane.Contract;

namespace MultiVip.Server.Hosting.Takeover;

/// <summary>What a running server does when a successor takes over (implemented by <see cref="RunningServer"/>).</summary>
internal interface ITakeoverSource
{
    /// <summary>Stops every writer (control plane, usage), closes the state store and unlocks the data dir; the server goes on serving traffic and reads.</summary>
    Task ReleaseStateAsync();

    /// <summary>Every listening socket to hand over: VIP ports, the API, DNS.</summary>
    IReadOnlyList<ListeningSocket> ListeningSockets();

    /// <summary>The successor went away after <see cref="ReleaseStateAsync"/>: lock the data dir again (the state stays read-only here).</summary>
    void ReacquireState();

    /// <summary>The successor accepts on every socket: stop accepting, drain established connections, exit.</summary>
    void HandOver(int successorPid);

    TimeSpan DrainTimeout { get; }
}

/// <summary>
/// The running server's side of a takeover: a Unix socket at <c>&lt;data-dir&gt;/takeover.sock</c>
/// (0600 in the 0700 data dir, and the peer's uid checked with SO_PEERCRED), served one successor at
/// a time on a thread of its own. The sequence and why it is safe: docs/operations.md, "Restart and
/// upgrade without dropping connections".
/// </summary>
internal sealed partial class TakeoverOffer : IDisposable
{
    private static readonly TimeSpan HelloTimeout = TimeSpan.FromSeconds(10);

    private readonly string _path;
    private readonly ITakeoverSource _source;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();

    /// <summary>
    /// Set once this server serves (<see cref="Open"/>). The socket exists and queues a successor
    /// from before the endpoint file and READY=1 (so a server started right after this one came up
    /// finds the offer), but the hand-over waits until this server's start is complete.
    /// </summary>
    private readonly ManualResetEventSlim _open = new();
    private Socket? _listener;
    private bool _disposed;

    private TakeoverOffer(string path, ITakeoverSource source, ILogger logger)
    {
        _path = path;
        _source = source;
        _logger = logger;
    }

    /// <summary>Offers takeover on <paramref name="dataDir"/>; null (logged) when this platform or the file system cannot. A successor is answered after <see cref="Open"/>.</summary>
    public static TakeoverOffer? TryStart(string dataDir, ITakeoverSource source, ILogger logger)
    {
        if (!UnixRights.Supported)
        {
            Log.Unsupported(logger);
            return null;
        }

        var offer = new TakeoverOffer(Path.Combine(dataDir, TakeoverChannel.SocketFileName), source, logger);
        return offer.Listen() ? offer : null;
    }

    private bool Listen()
    {
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            // We hold the data dir's lock: a file left here is a crashed server's, never a live one's.
            File.Delete(_path);
            listener.Bind(new UnixDomainSocketEndPoint(_path));

            // The data dir is 0700 already; 0600 says the same of the socket itself.
            File.SetUnixFileMode(_path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            listener.Listen(1);
        }
        catch (Exception ex) when (ex is SocketException or IOException or UnauthorizedAccessException)
        {
            listener.Dispose();
            Log.OfferFailed(_logger, _path, ex.Message);
            return false;
        }

        lock (_gate)
        {
            if (_disposed)
            {
                listener.Dispose();
                File.Delete(_path);
                return false;
            }

            _listener = listener;
        }

        new Thread(() => AcceptOne(listener)) { IsBackground = true, Name = "multivip takeover" }.Start();
        Log.Offered(_logger, _path);
        return true;
    }

    /// <summary>This server's start is complete: a successor waiting on the socket is answered now.</summary>
    public void Open() => _open.Set();

    private void AcceptOne(Socket listener)
    {
        Socket peer;
        try
        {
            _open.Wait();
            // Synchronous on purpose: the descriptors travel through raw sendmsg on a blocking socket.
            peer = listener.Accept();
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return;
        }

        // One takeover at a time: the file goes now, so a third process finds no offer, and the
        // successor can create its own at the same path once it serves.
        StopListening(listener);
        var again = false;
        using (var channel = new TakeoverChannel(peer))
        {
            try
            {
                again = Serve(channel);
            }
            catch (Exception ex) when (ex is SocketException or IOException or InvalidDataException)
            {
                Log.TakeoverFailed(_logger, ex.Message);
                again = true;
            }
        }

        if (again)
        {
            Listen();
        }
    }

    /// <returns>True when the takeover did not happen and this server goes on offering it.</returns>
    private bool Serve(TakeoverChannel channel)
    {
        var (pid, uid) = UnixRights.PeerCredentials(channel.Socket);
        if (uid != UnixRights.EffectiveUid)
        {
            Log.ForeignPeer(_logger, pid, uid, UnixRights.EffectiveUid);
            return true;
        }

        UnixRights.SetTimeouts(channel.Socket, HelloTimeout);
        var hello = channel.Receive([]);
        if (hello is null || !hello.StartsWith($"HELLO {TakeoverChannel.Version} ", StringComparison.Ordinal))
        {
            Log.BadHello(_logger, pid, hello ?? "(nothing)");
            return true;
        }

        Log.TakeoverStarted(_logger, pid);

        // Writers stop before the sockets go: no listener appears or vanishes after the list is
        // made, and the successor's control plane can open the database as its only writer.
        _source.ReleaseStateAsync().GetAwaiter().GetResult();
        var sockets = _source.ListeningSockets();
        try
        {
            foreach (var chunk in sockets.Chunk(UnixRights.MaxDescriptorsPerFrame))
            {
                foreach (var socket in chunk)
                {
                    // From here on the successor may hold it: no close of ours may shut it down.
                    HandedOverSockets.Mark(socket.Socket);
                }

                channel.Send(TakeoverChannel.Describe(chunk), [.. chunk.Select(s => (int)s.Socket.Handle)]);
            }

            channel.Send($"END {Environment.ProcessId}");

            // No deadline: the successor opens the state, starts its data plane and API; if it dies
            // the kernel closes its end and Receive returns null.
            UnixRights.SetTimeouts(channel.Socket, TimeSpan.Zero);
            var accepting = channel.Receive([]);
            if (accepting != "ACCEPTING")
            {
                Log.SuccessorGone(_logger, pid, accepting ?? "(connection closed)");
                _source.ReacquireState();
                return true;
            }
        }
        catch (Exception ex) when (ex is SocketException or IOException or InvalidDataException)
        {
            Log.SuccessorGone(_logger, pid, ex.Message);
            _source.ReacquireState();
            return true;
        }

        Log.HandedOver(_logger, pid, sockets.Count, _source.DrainTimeout);
        try
        {
            channel.Send($"DRAINING {(int)_source.DrainTimeout.TotalSeconds}");
        }
        catch (Exception ex) when (ex is SocketException or IOException)
        {
            // The successor serves already; a lost goodbye changes nothing.
        }

        _source.HandOver(pid);
        return false;
    }

    private void StopListening(Socket listener)
    {
        lock (_gate)
        {
            if (ReferenceEquals(_listener, listener))
            {
                _listener = null;
            }
        }

        listener.Dispose();
        try
        {
            File.Delete(_path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Withdraws the offer (the server is stopping): a new server started now is refused as before.</summary>
    public void Dispose()
    {
        Socket? listener;
        lock (_gate)
        {
            _disposed = true;
            listener = _listener;
        }

        // The accept thread, if still waiting to open, goes on to find the socket disposed.
        _open.Set();

        if (listener is not null)
        {
            StopListening(listener);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5510, EventName = "TakeoverOffered", Level = LogLevel.Debug,
            Message = "A new multivip serve on this data dir takes over through {Path} (--no-takeover turns this off)")]
        public static partial void Offered(ILogger logger, string path);

        [LoggerMessage(EventId = 5511, EventName = "TakeoverOfferFailed", Level = LogLevel.Warning,
            Message = "Cannot offer takeover on {Path}: {Reason}. A new server on this data dir will be refused until this one stops")]
        public static partial void OfferFailed(ILogger logger, string path, string reason);

        [LoggerMessage(EventId = 5512, EventName = "TakeoverUnsupported", Level = LogLevel.Information,
            Message = "Takeover needs 64-bit Linux; a new server on this data dir will be refused until this one stops")]
        public static partial void Unsupported(ILogger logger);

        [LoggerMessage(EventId = 5513, EventName = "TakeoverStarted", Level = LogLevel.Information,
            Message = "A new server (PID {Pid}) is taking over: state writes stop here and the data dir is handed over; traffic goes on")]
        public static partial void TakeoverStarted(ILogger logger, int pid);

        [LoggerMessage(EventId = 5514, EventName = "TakeoverHandedOver", Level = LogLevel.Information,
            Message = "The new server (PID {Pid}) accepts on all {Count} listening socket(s); this one stops accepting, drains established connections (up to {DrainTimeout}) and exits")]
        public static partial void HandedOver(ILogger logger, int pid, int count, TimeSpan drainTimeout);

        [LoggerMessage(EventId = 5515, EventName = "TakeoverForeignPeer", Level = LogLevel.Warning,
            Message = "Refused a takeover from PID {Pid}: it runs as uid {Uid}, this server as uid {Own}")]
        public static partial void ForeignPeer(ILogger logger, int pid, uint uid, uint own);

        [LoggerMessage(EventId = 5516, EventName = "TakeoverBadHello", Level = LogLevel.Warning,
            Message = "Refused a takeover from PID {Pid}: it said '{Hello}', not HELLO 1 (a different version of multivip?)")]
        public static partial void BadHello(ILogger logger, int pid, string hello);

        [LoggerMessage(EventId = 5517, EventName = "TakeoverSuccessorGone", Level = LogLevel.Error,
            Message = "The new server (PID {Pid}) went away before it served ({Reason}). This server carries on with every listener, but its state is read-only (writes answer 503): start the new server again to finish the takeover, or restart this one")]
        public static partial void SuccessorGone(ILogger logger, int pid, string reason);

        [LoggerMessage(EventId = 5518, EventName = "TakeoverFailed", Level = LogLevel.Warning,
            Message = "A takeover attempt failed: {Reason}; this server goes on as before")]
        public static partial void TakeoverFailed(ILogger logger, string reason);
    }
}
