using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MultiVip.DataPlane.Tcp;

namespace MultiVip.DataPlane.Sockets.Epoll;

/// <summary>
/// A non-blocking TCP socket of the epoll engine: a raw descriptor, registered once with its loop
/// (edge-triggered input, output and peer half-close: one epoll_ctl for its whole life), and its two
/// <see cref="Readiness"/> directions. Reads and writes are plain recv/send calls that answer
/// "would block" instead of waiting; the caller then awaits the direction's next edge, which costs
/// no system call of its own (the loop's epoll_wait serves every socket). The descriptor is a
/// SafeHandle, so closing it while another thread is inside a call defers the close() until that
/// call returns and a reused descriptor number is never read by mistake.
/// </summary>
internal sealed class EpollSocket : ConnectionSocket, IEpollTarget
{
    private const uint Interest = LibC.EPOLLIN | LibC.EPOLLOUT | LibC.EPOLLRDHUP | LibC.EPOLLET;

    private Descriptor _handle;
    private IPEndPoint? _remote;
    private int _errorSeen;
    private int _peerClosed;
    private int _closed;
    private int _connectState;

    /// <summary>An accepted client that did not inherit TCP_NODELAY from its listener (<see cref="PrepareClient"/> sets it).</summary>
    private bool _needsNoDelay;

    private FirstRead _firstRead;

    /// <summary>The backend's first bytes (preamble, then the client's first bytes) until a connect sent them; from <see cref="_firstFlightPool"/>.</summary>
    private byte[]? _firstFlight;

    private int _firstFlightLength;
    private ArrayPool<byte>? _firstFlightPool;

    /// <summary>The read before the connect filled its buffer: the client may have more at once.</summary>
    private bool _firstFlightFilled;

    private EpollSocket(int fd, EpollLoop loop, IPEndPoint? remote)
    {
        _handle = new Descriptor(fd);
        Loop = loop;
        _remote = remote;
    }

    public EpollLoop Loop { get; }

    /// <summary>The loop's deadline list (<see cref="EpollLoop.AddDeadline"/>): links and the connect's deadline, guarded by the loop.</summary>
    internal EpollSocket? DeadlinePrevious;

    internal EpollSocket? DeadlineNext;

    internal long Deadline;

    internal bool InDeadlineList;

    public Readiness Readable { get; } = new();

    public Readiness Writable { get; } = new();

    public int Generation
    {
        get => _handle.Generation;
        set => _handle.Generation = value;
    }

    /// <summary>The loop reported an error or hang-up (a failed connect, a reset).</summary>
    public bool ErrorSeen => Volatile.Read(ref _errorSeen) != 0;

    /// <summary>
    /// The peer's FIN (or an error) has been reported. Sticky, unlike the input edge: a read that
    /// returned the last bytes before a FIN that was already queued is short, yet the socket still
    /// has something to say (the 0-byte read), and no new edge will come for it.
    /// </summary>
    public bool PeerClosed => Volatile.Read(ref _peerClosed) != 0;

    internal SafeHandle Handle => _handle;

    /// <summary>Client bytes the read before the backend connect took (<see cref="FirstFlight"/>); the forwarder counts them.</summary>
    public int FirstBytes { get; private set; }

    /// <summary>
    /// Whether the client's copy loop must read before it waits for the next input edge: false when the read before
    /// the connect found the socket empty (EAGAIN: data arriving since is a new edge) or took less than it asked for
    /// (the socket drained, unless the FIN was reported since).
    /// </summary>
    public bool FirstReadMayHaveLeftMore => _firstRead switch
    {
        FirstRead.Drained => PeerClosed,
        FirstRead.Bytes => _firstFlightFilled || PeerClosed,
        _ => true, // not tried, or it met the FIN or an error: the copy loop's own read meets it again and handles it
    };

    /// <summary>
    /// What a new backend connection sends first: <paramref name="preamble"/> (the PROXY header, or nothing), then
    /// whatever the client has already sent, taken with one non-blocking recv the first time it is asked (before the
    /// first connect attempt; later attempts get the same bytes). Never waited for: a client of a server-first protocol
    /// (SMTP, MySQL, FTP) sends nothing until the backend greets it, and then the flight is the
    /// preamble alone. HAProxy reads the client the same way before it connects. Sending these bytes at once, in the
    /// connect's own turn of the loop, puts the request in the backend's queue with its handshake: the backend's accept
    /// finds it there (docs/data-plane.md#socket-engines).
    /// </summary>
    public ReadOnlyMemory<byte> FirstFlight(ReadOnlyMemory<byte> preamble, ArrayPool<byte> pool)
    {
        if (_firstRead == FirstRead.NotTried)
        {
            var buffer = pool.Rent(PooledBufferForwarder.BufferSize);
            preamble.Span.CopyTo(buffer);
            var room = buffer.Length - preamble.Length;
            var read = Receive(buffer.AsSpan(preamble.Length, room));
            if (read > 0)
            {
                _firstRead = FirstRead.Bytes;
                _firstFlight = buffer;
                _firstFlightPool = pool;
                _firstFlightLength = preamble.Length + read;
                _firstFlightFilled = read == room;
                FirstBytes = read;
            }
            else
            {
                pool.Return(buffer);
                _firstRead = read == -LibC.EAGAIN ? FirstRead.Drained : FirstRead.Ended;
            }
        }

        return _firstFlight is { } flight ? flight.AsMemory(0, _firstFlightLength) : preamble;
    }

    /// <summary>A connect sent the flight (or the client is closing): its buffer goes back to the pool, so a connection
    /// that then idles holds none.</summary>
    public void ReleaseFirstFlight()
    {
        if (Interlocked.Exchange(ref _firstFlight, null) is { } buffer)
        {
            _firstFlightPool!.Return(buffer);
            _firstFlightPool = null;
        }
    }

    /// <summary>Takes ownership of a fresh non-blocking descriptor and registers it with <paramref name="loop"/>.</summary>
    public static EpollSocket Adopt(int fd, EpollLoop loop, IPEndPoint? remote, bool needsNoDelay)
    {
        var socket = Create(fd, loop, remote);
        socket._needsNoDelay = needsNoDelay;
        try
        {
            loop.Register(fd, socket, Interest);
        }
        catch
        {
            socket._handle.Dispose();
            throw;
        }

        return socket;
    }

    public void OnEvents(uint events, EpollLoop loop)
    {
        if ((events & (LibC.EPOLLERR | LibC.EPOLLHUP)) != 0)
        {
            Volatile.Write(ref _errorSeen, 1);
        }

        if ((events & (LibC.EPOLLRDHUP | LibC.EPOLLHUP | LibC.EPOLLERR)) != 0)
        {
            Volatile.Write(ref _peerClosed, 1);
        }

        if ((events & (LibC.EPOLLIN | LibC.EPOLLRDHUP | LibC.EPOLLERR | LibC.EPOLLHUP)) != 0)
        {
            Readable.Signal();
        }

        if ((events & (LibC.EPOLLOUT | LibC.EPOLLERR | LibC.EPOLLHUP)) != 0)
        {
            Writable.Signal();
        }
    }

    /// <summary>recv(): the byte count, 0 for the peer's FIN, or minus errno (-EAGAIN: nothing there now).</summary>
    public unsafe int Receive(Span<byte> buffer)
    {
        Readable.Clear();
        fixed (byte* p = buffer)
        {
            var read = LibC.recv(_handle, p, buffer.Length, 0);
            return read >= 0 ? (int)read : -Marshal.GetLastPInvokeError();
        }
    }

    /// <summary>send() without SIGPIPE: the byte count taken, or minus errno. With <paramref name="finFollows"/>
    /// (MSG_MORE) the kernel holds a short tail back, so the shutdown() or close() that must come next sends
    /// it in the segment that carries the FIN: the peer gets one segment instead of a data segment, its ACK
    /// and a FIN segment. Only when that FIN is certain: nothing else would flush the held bytes.</summary>
    public unsafe int Send(ReadOnlySpan<byte> data, bool finFollows = false)
    {
        Writable.Clear();
        fixed (byte* p = data)
        {
            var sent = LibC.send(_handle, p, data.Length, finFollows ? LibC.MSG_NOSIGNAL | LibC.MSG_MORE : LibC.MSG_NOSIGNAL);
            return sent >= 0 ? (int)sent : -Marshal.GetLastPInvokeError();
        }
    }

    /// <summary>splice() from this socket into <paramref name="pipe"/> (empty: a -EAGAIN then means the socket is).
    /// The byte count, 0 for the peer's FIN (or nothing to splice, see <see cref="Tcp.EpollForwarder"/>), or minus errno.</summary>
    public int SpliceTo(SplicePipe pipe, int length)
    {
        Readable.Clear();
        return SplicePipe.Result(LibC.splice(_handle, 0, pipe.WriteEnd, 0, length, LibC.SPLICE_F_MOVE | LibC.SPLICE_F_NONBLOCK));
    }

    /// <summary>splice() of what <paramref name="pipe"/> holds into this socket: the byte count taken, or minus errno
    /// (-EAGAIN: the socket's send buffer is full). A reset peer answers EPIPE or ECONNRESET (the runtime ignores SIGPIPE).</summary>
    public int SpliceFrom(SplicePipe pipe)
    {
        Writable.Clear();
        return SplicePipe.Result(LibC.splice(pipe.ReadEnd, 0, _handle, 0, pipe.Held, LibC.SPLICE_F_MOVE | LibC.SPLICE_F_NONBLOCK));
    }

    /// <summary>Sends everything, waiting for the output edge while the socket buffer is full.
    /// Throws SocketException on an error, ObjectDisposedException when closed meanwhile.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask SendAllAsync(ReadOnlyMemory<byte> data)
    {
        while (!data.IsEmpty)
        {
            var sent = Send(data.Span);
            if (sent > 0)
            {
                data = data[sent..];
                continue;
            }

            if (sent != -LibC.EAGAIN)
            {
                throw LibC.Error(-sent);
            }

            if (!await Writable.WaitAsync().ConfigureAwait(false))
            {
                throw new ObjectDisposedException(nameof(EpollSocket));
            }
        }
    }

    public override ValueTask SendAsync(ReadOnlyMemory<byte> data) => SendAllAsync(data);

    /// <summary>The client's address. Nagle is normally off already: inherited from the listening socket, one
    /// setsockopt fewer per connection (EpollSocketEngine.ListeningRegistration says when it is not).</summary>
    public override IPEndPoint PrepareClient()
    {
        if (_needsNoDelay)
        {
            SetNoDelay();
        }

        return _remote!;
    }

    public unsafe void SetNoDelay()
    {
        var on = 1;
        _ = LibC.setsockopt(_handle, LibC.IPPROTO_TCP, LibC.TCP_NODELAY, &on, sizeof(int));
    }

    /// <summary>
    /// TCP_QUICKACK off before connect(): the kernel then holds the handshake's last ACK back (tcp_rcv_synsent_state_process)
    /// and the first data segment carries it, so the backend gets one segment (ACK and request) instead of two. Only for a
    /// connection that sends at once: without data the ACK would wait for the delayed-ACK timer and hold up the backend's accept.
    /// </summary>
    public unsafe void DelayHandshakeAck()
    {
        var off = 0;
        _ = LibC.setsockopt(_handle, LibC.IPPROTO_TCP, LibC.TCP_QUICKACK, &off, sizeof(int));
    }

    /// <summary>Passes a half-close on: FIN towards this socket's peer, reading goes on.</summary>
    public void ShutdownSend()
    {
        if (LibC.shutdown(_handle, LibC.SHUT_WR) != 0)
        {
            throw LibC.LastError();
        }
    }

    /// <summary>tcpi_state, the first byte of struct tcp_info (include/net/tcp_states.h).</summary>
    public unsafe byte TcpState()
    {
        var info = stackalloc byte[8];
        var length = 8;
        return LibC.getsockopt(_handle, LibC.IPPROTO_TCP, LibC.TCP_INFO, info, &length) == 0 ? info[0] : (byte)0;
    }

    /// <summary>SO_ERROR: why a connect failed (read only on the failure path).</summary>
    public unsafe int PendingError()
    {
        var error = 0;
        var length = sizeof(int);
        return LibC.getsockopt(_handle, LibC.SOL_SOCKET, LibC.SO_ERROR, &error, &length) == 0 ? error : Marshal.GetLastPInvokeError();
    }

    public unsafe int Connect(IPEndPoint target)
    {
        var address = stackalloc byte[28];
        var length = WriteAddress(target, new Span<byte>(address, 28));
        return LibC.connect(_handle, address, length) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>Registers a socket whose connect() is under way (registered after connect: an unconnected socket reports a hang-up).</summary>
    public void RegisterAfterConnect() => Loop.Register((int)_handle.DangerousGetHandle(), this, Interest);

    public static EpollSocket CreateUnregistered(int fd, EpollLoop loop) => Create(fd, loop, null);

    /// <summary>A socket object for a new descriptor: one the loop kept (<see cref="Recycle"/>), made new again, or a fresh one.</summary>
    private static EpollSocket Create(int fd, EpollLoop loop, IPEndPoint? remote)
    {
        if (loop.TakePooled() is not { } socket)
        {
            return new EpollSocket(fd, loop, remote);
        }

        socket._handle = new Descriptor(fd);
        socket._remote = remote;
        socket._errorSeen = 0;
        socket._peerClosed = 0;
        socket._connectState = 0;
        socket._needsNoDelay = false;
        socket._firstRead = FirstRead.NotTried;
        socket._firstFlightFilled = false;
        socket.FirstBytes = 0;
        socket.Readable.Renew();
        socket.Writable.Renew();
        Volatile.Write(ref socket._closed, 0);
        return socket;
    }

    /// <summary>
    /// Gives a closed socket object back to its loop for the next connection. Only for a socket this
    /// thread closed itself, on its loop's thread, with both copy loops and the connect over: nothing
    /// else holds a wait, a call or a deadline on it, and the loop dispatches no event while its own
    /// thread runs here (an event of the old descriptor still in the batch carries the old generation
    /// and is dropped). Anywhere else the object is left to the GC, as before.
    /// </summary>
    public void Recycle()
    {
        if (Volatile.Read(ref _closed) != 0 && !InDeadlineList && Loop.IsLoopThread && _handle.IsClosed)
        {
            _remote = null;
            Loop.ReturnPooled(this);
        }
    }

    public override void Shutdown()
    {
        try
        {
            _ = LibC.shutdown(_handle, LibC.SHUT_RDWR);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public override void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        Readable.End();
        Writable.End();
        _handle.Dispose();
        ReleaseFirstFlight();
    }

    public unsafe override void Abort()
    {
        if (Volatile.Read(ref _closed) != 0)
        {
            return;
        }

        try
        {
            // struct linger { int l_onoff; int l_linger; }: on, 0 s.
            var linger = stackalloc int[2] { 1, 0 };
            _ = LibC.setsockopt(_handle, LibC.SOL_SOCKET, LibC.SO_LINGER, linger, 8);
        }
        catch (ObjectDisposedException)
        {
        }

        Close();
    }

    /// <summary>Arms <see cref="CancelConnect"/> for a connect under way.</summary>
    public void BeginConnectWait() => Volatile.Write(ref _connectState, 1);

    /// <summary>The connect finished (either way) before it was cancelled: false when <see cref="CancelConnect"/> won.</summary>
    public bool EndConnectWait() => Interlocked.CompareExchange(ref _connectState, 0, 1) == 1;

    /// <summary>Ends a wait for a connect (its timeout or the listener's stop); the connector then gives up.
    /// No effect once the connect finished, so a timer firing late never ends a live socket's output.</summary>
    public void CancelConnect()
    {
        if (Interlocked.CompareExchange(ref _connectState, 2, 1) == 1)
        {
            Writable.End();
        }
    }

    public static int WriteAddress(IPEndPoint endPoint, Span<byte> address)
    {
        address.Clear();
        if (endPoint.AddressFamily == AddressFamily.InterNetworkV6)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(address, LibC.AF_INET6);
            BinaryPrimitives.WriteUInt16BigEndian(address[2..], (ushort)endPoint.Port);
            endPoint.Address.TryWriteBytes(address.Slice(8, 16), out _);
            BinaryPrimitives.WriteUInt32LittleEndian(address[24..], (uint)endPoint.Address.ScopeId);
            return 28;
        }

        BinaryPrimitives.WriteUInt16LittleEndian(address, LibC.AF_INET);
        BinaryPrimitives.WriteUInt16BigEndian(address[2..], (ushort)endPoint.Port);
        endPoint.Address.TryWriteBytes(address.Slice(4, 4), out _);
        return 16;
    }

    public static IPEndPoint ReadAddress(ReadOnlySpan<byte> address)
    {
        var family = BinaryPrimitives.ReadUInt16LittleEndian(address);
        var port = BinaryPrimitives.ReadUInt16BigEndian(address[2..]);
        if (family == LibC.AF_INET6)
        {
            var ip = new IPAddress(address.Slice(8, 16), BinaryPrimitives.ReadUInt32LittleEndian(address[24..]));
            // A v4 client of a dual-stack listener, as the runtime reports it too.
            return new IPEndPoint(ip, port);
        }

        return new IPEndPoint(new IPAddress(address.Slice(4, 4)), port);
    }

    /// <summary>What the read before the backend connect found.</summary>
    private enum FirstRead : byte
    {
        NotTried,

        /// <summary>Client bytes: they are the first flight's.</summary>
        Bytes,

        /// <summary>EAGAIN: the client has sent nothing yet.</summary>
        Drained,

        /// <summary>The client's FIN or an error: left for the copy loop's read to meet again.</summary>
        Ended,
    }

    /// <summary>The descriptor: closed once no call uses it any more, after its loop forgot it.</summary>
    private sealed class Descriptor : SafeHandle
    {
        public Descriptor(int fd)
            : base(-1, ownsHandle: true) => SetHandle(fd);

        public int Generation { get; set; }

        public override bool IsInvalid => handle == -1;

        protected override bool ReleaseHandle()
        {
            var fd = (int)handle;
            EpollLoop.Unpublish(fd, Generation);
            return LibC.close(fd) == 0;
        }
    }
}
