using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MultiVip.DataPlane.Tcp;

namespace MultiVip.DataPlane.Sockets.Epoll;

/// <summary>
/// The data plane's own socket layer on Linux (issue 17): raw non-blocking descriptors on one
/// edge-triggered epoll loop per core. Against System.Net.Sockets it saves, per proxied
/// connection: the fcntl pair per socket (accept4 and socket are asked for SOCK_NONBLOCK |
/// SOCK_CLOEXEC), the poll + getsockopt(SO_ERROR) confirming a connect (the loop's output edge
/// confirms it; SO_ERROR is read only when the edge says error), and the zero-byte receive attempts
/// (the loop's input edge says when to read; a read that did not fill the buffer drained the socket).
/// Each listener's one listening socket is watched by every loop (EPOLLEXCLUSIVE: one loop woken per
/// connection), so accepts, connects and copies of a connection all run on the core that accepted it.
/// </summary>
internal sealed class EpollSocketEngine(ArrayPool<byte> pool, SplicePipes? splice = null) : ISocketEngine
{
    private readonly EpollForwarder _forwarder = new(pool, splice);

    public SocketEngine Kind => SocketEngine.Epoll;

    public IConnectionForwarder Forwarder => _forwarder;

    public IClientAcceptor[] CreateAcceptors(Socket listening, CancellationToken stopping) =>
        new ListeningRegistration(listening, stopping).Acceptors;

    /// <summary>
    /// socket(), connect() and, when there is something to send (the preamble, the client's first bytes), a send
    /// right after connect() returns: on a near backend (loopback, the same host) the handshake has already finished
    /// by then, so the send succeeds and the connection needs no turn of the loop to confirm it, and the backend gets
    /// the request with its handshake. A send that answers EAGAIN means the handshake is still under way: the output
    /// edge confirms it as without data, and the flight follows. A send that fails is the connect's failure (the refusal
    /// is reported to whichever call asks first), so the next candidate gets the same bytes.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<ConnectionSocket> ConnectAsync(IPEndPoint target, ConnectionSocket client, ReadOnlyMemory<byte> preamble, TimeSpan timeout, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        var accepted = client as EpollSocket;
        var loop = accepted is not null ? accepted.Loop : EpollLoop.Next();
        var flight = accepted is not null ? accepted.FirstFlight(preamble, pool) : preamble;
        var family = target.AddressFamily == AddressFamily.InterNetworkV6 ? LibC.AF_INET6 : LibC.AF_INET;
        var fd = LibC.socket(family, LibC.SOCK_STREAM | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            throw LibC.LastError();
        }

        var socket = EpollSocket.CreateUnregistered(fd, loop);
        try
        {
            socket.SetNoDelay();
            if (!flight.IsEmpty)
            {
                // Sent at once below (or on the output edge): the handshake's last ACK waits for it and rides on it.
                socket.DelayHandshakeAck();
            }

            var error = socket.Connect(target);
            if (error != 0 && error != LibC.EINPROGRESS)
            {
                throw LibC.Error(error);
            }

            // Registered only now: a socket that has not started connecting reports a hang-up.
            socket.BeginConnectWait();
            socket.RegisterAfterConnect();
            var sent = 0;
            if (error == LibC.EINPROGRESS && !flight.IsEmpty)
            {
                sent = socket.Send(flight.Span);
                if (sent < 0 && sent != -LibC.EAGAIN)
                {
                    throw LibC.Error(-sent);
                }
            }

            if (error == LibC.EINPROGRESS && sent <= 0)
            {
                await WaitConnectedAsync(socket, target, timeout, timeProvider, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                socket.EndConnectWait();
            }

            sent = Math.Max(sent, 0);
            if (sent < flight.Length)
            {
                await socket.SendAllAsync(flight[sent..]).ConfigureAwait(false);
            }

            accepted?.ReleaseFirstFlight();
            return socket;
        }
        catch
        {
            socket.Abort();
            throw;
        }
    }

    /// <summary>The output edge says the handshake finished; an error edge says it failed, and only then is SO_ERROR read.
    /// On the system clock the timeout is a deadline in the socket's loop (no timer object per connect);
    /// on any other TimeProvider (tests that move time by hand) a timer of that provider.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask WaitConnectedAsync(EpollSocket socket, IPEndPoint target, TimeSpan timeout, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        bool ready;
        var onLoop = ReferenceEquals(timeProvider, TimeProvider.System);
        if (onLoop)
        {
            socket.Loop.AddDeadline(socket, Stopwatch.GetTimestamp() + (long)Math.Ceiling(timeout.TotalSeconds * Stopwatch.Frequency));
        }

        using (onLoop ? null : timeProvider.CreateTimer(static s => ((EpollSocket)s!).CancelConnect(), socket, timeout, Timeout.InfiniteTimeSpan))
        using (cancellationToken.UnsafeRegister(static s => ((EpollSocket)s!).CancelConnect(), socket))
        {
            try
            {
                ready = await socket.Writable.WaitAsync().ConfigureAwait(false);
            }
            finally
            {
                if (onLoop)
                {
                    socket.Loop.RemoveDeadline(socket);
                }
            }
        }

        if (!socket.EndConnectWait() || !ready)
        {
            cancellationToken.ThrowIfCancellationRequested();
            throw new TimeoutException($"connect to {target} timed out after {timeout.TotalSeconds:0.###} s");
        }

        if (socket.ErrorSeen)
        {
            var error = socket.PendingError();
            throw LibC.Error(error != 0 ? error : 111);
        }
    }

    /// <summary>
    /// A listening socket watched by every loop. One entry in the descriptor table (the events of every
    /// loop carry the same descriptor), one <see cref="Readiness"/> per loop. Holds a reference on the
    /// socket's handle until the last accept loop ends, so the descriptor cannot be closed (and its number
    /// reused) before every loop has deleted it from its epoll set.
    /// </summary>
    private sealed class ListeningRegistration : IEpollTarget
    {
        private readonly SafeHandle _handle;
        private readonly int _fd;
        private readonly Readiness[] _ready;
        private readonly CancellationTokenRegistration _stopping;
        private int _open;
        private int _detached;

        public ListeningRegistration(Socket listening, CancellationToken stopping)
        {
            listening.Blocking = false;

            // Accepted sockets inherit TCP_NODELAY from the listener when it was on before their
            // handshake finished: ListenerBinder sets it before listen(), so a client needs no
            // setsockopt of its own. A socket without it (taken over from a build that did not set
            // it) gets it now, and its clients keep their own setsockopt: the ones already queued
            // completed their handshake without it.
            ClientsInheritNoDelay = listening.NoDelay;
            if (!ClientsInheritNoDelay)
            {
                listening.NoDelay = true;
            }

            _handle = listening.SafeHandle;
            var added = false;
            _handle.DangerousAddRef(ref added);
            _fd = (int)_handle.DangerousGetHandle();
            var loops = EpollLoop.All;
            _ready = new Readiness[loops.Length];
            Acceptors = new IClientAcceptor[loops.Length];
            for (var i = 0; i < loops.Length; i++)
            {
                _ready[i] = new Readiness();
                Acceptors[i] = new Acceptor(this, loops[i], _ready[i]);
            }

            _open = loops.Length;
            var generation = EpollLoop.Publish(_fd, this);
            foreach (var loop in loops)
            {
                loop.Add(_fd, generation, LibC.EPOLLIN | LibC.EPOLLEXCLUSIVE | LibC.EPOLLET);
            }

            _stopping = stopping.UnsafeRegister(static s => ((ListeningRegistration)s!).Stop(), this);
        }

        public IClientAcceptor[] Acceptors { get; }

        /// <summary>Whether every connection accepted from this socket already has TCP_NODELAY (see the constructor).</summary>
        public bool ClientsInheritNoDelay { get; }

        public int Generation { get; set; }

        public SafeHandle Handle => _handle;

        public void OnEvents(uint events, EpollLoop loop) => _ready[loop.Index].Signal();

        /// <summary>
        /// The listener stopped accepting: every loop forgets the socket at once, synchronously in the
        /// cancellation, and the handle reference is given back. A socket handed over to a successor
        /// process stays open there: no loop of ours may then still be woken for its connections (with
        /// EPOLLEXCLUSIVE that wake-up would be the successor's), and disposing a socket whose handle is
        /// still referenced would make the runtime disconnect it, for the successor too.
        /// </summary>
        private void Stop()
        {
            foreach (var ready in _ready)
            {
                ready.End();
            }

            Detach();
        }

        private void Detach()
        {
            if (Interlocked.Exchange(ref _detached, 1) != 0)
            {
                return;
            }

            EpollLoop.Unpublish(_fd, Generation);
            foreach (var loop in EpollLoop.All)
            {
                loop.Unregister(_fd);
            }

            _handle.DangerousRelease();
        }

        public void Release()
        {
            if (Interlocked.Decrement(ref _open) != 0)
            {
                return;
            }

            _stopping.Dispose();
            Detach();
        }
    }

    private sealed class Acceptor(ListeningRegistration listener, EpollLoop loop, Readiness ready) : IClientAcceptor
    {
        private int _disposed;

        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
        public async ValueTask<ConnectionSocket> AcceptAsync()
        {
            while (true)
            {
                var fd = TryAccept(out var remote, out var error);
                if (fd >= 0)
                {
                    return EpollSocket.Adopt(fd, loop, remote, needsNoDelay: !listener.ClientsInheritNoDelay);
                }

                if (error != LibC.EAGAIN)
                {
                    throw LibC.Error(error);
                }

                if (!await ready.WaitAsync().ConfigureAwait(false))
                {
                    throw new OperationCanceledException("the listener stopped accepting");
                }
            }
        }

        private unsafe int TryAccept(out IPEndPoint? remote, out int error)
        {
            ready.Clear();
            var address = stackalloc byte[28];
            var length = 28;
            var fd = LibC.accept4(listener.Handle, address, &length, LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC);
            if (fd < 0)
            {
                error = Marshal.GetLastPInvokeError();
                remote = null;
                return fd;
            }

            error = 0;
            remote = EpollSocket.ReadAddress(new ReadOnlySpan<byte>(address, length));
            return fd;
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                listener.Release();
            }
        }
    }
}
