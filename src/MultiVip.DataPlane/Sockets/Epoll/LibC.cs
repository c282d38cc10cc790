using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace MultiVip.DataPlane.Sockets.Epoll;

/// <summary>
/// The few Linux calls the epoll socket engine makes, bound with LibraryImport (no native code of
/// our own). Constants are the Linux ones (x86-64 and arm64 share them). Every call returns -1 and
/// leaves errno for <see cref="Marshal.GetLastPInvokeError"/> on failure, as libc does.
/// </summary>
internal static unsafe partial class LibC
{
    private const string Library = "libc";

    public const int AF_INET = 2;
    public const int AF_INET6 = 10;
    public const int SOCK_STREAM = 1;
    public const int SOCK_NONBLOCK = 0x800;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int SOL_SOCKET = 1;
    public const int SO_ERROR = 4;
    public const int SO_LINGER = 13;
    public const int IPPROTO_TCP = 6;
    public const int TCP_NODELAY = 1;
    public const int TCP_INFO = 11;
    public const int TCP_QUICKACK = 12;
    public const int SHUT_WR = 1;
    public const int SHUT_RDWR = 2;
    public const int MSG_NOSIGNAL = 0x4000;
    public const int MSG_MORE = 0x8000;

    public const int EPOLL_CLOEXEC = 0x80000;
    public const int EPOLL_CTL_ADD = 1;
    public const int EPOLL_CTL_DEL = 2;
    public const uint EPOLLIN = 0x001;
    public const uint EPOLLOUT = 0x004;
    public const uint EPOLLERR = 0x008;
    public const uint EPOLLHUP = 0x010;
    public const uint EPOLLRDHUP = 0x2000;
    public const uint EPOLLEXCLUSIVE = 1u << 28;
    public const uint EPOLLET = 1u << 31;
    public const int EFD_CLOEXEC = 0x80000;
    public const int EFD_NONBLOCK = 0x800;

    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;
    public const int F_SETPIPE_SZ = 1031;
    public const uint SPLICE_F_MOVE = 1;
    public const uint SPLICE_F_NONBLOCK = 2;

    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int EPIPE = 32;
    public const int EINPROGRESS = 115;

    [LibraryImport(Library, SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int accept4(SafeHandle socket, byte* address, int* addressLength, int flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int connect(SafeHandle socket, byte* address, int addressLength);

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint recv(SafeHandle socket, byte* buffer, nint length, int flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint send(SafeHandle socket, byte* buffer, nint length, int flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int shutdown(SafeHandle socket, int how);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int setsockopt(SafeHandle socket, int level, int name, void* value, int length);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int getsockopt(SafeHandle socket, int level, int name, void* value, int* length);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int epoll_create1(int flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int epoll_ctl(int epfd, int op, int fd, byte* ev);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int epoll_wait(int epfd, byte* events, int maxEvents, int timeout);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int eventfd(uint initval, int flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint write(int fd, void* buffer, nint count);

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint read(int fd, void* buffer, nint count);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int pipe2(int* fds, int flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int fcntl(int fd, int command, int argument);

    /// <summary>splice(2) from a socket into a pipe's write end (no offsets: neither end is a file).</summary>
    [LibraryImport(Library, SetLastError = true)]
    public static partial nint splice(SafeHandle socketIn, nint offsetIn, int pipeOut, nint offsetOut, nint length, uint flags);

    /// <summary>splice(2) from a pipe's read end into a socket.</summary>
    [LibraryImport(Library, SetLastError = true)]
    public static partial nint splice(int pipeIn, nint offsetIn, SafeHandle socketOut, nint offsetOut, nint length, uint flags);

    /// <summary>struct epoll_event: packed (12 bytes) on x86-64, naturally aligned (16) elsewhere.</summary>
    public static readonly int EpollEventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;

    public static readonly int EpollDataOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    /// <summary>The engine needs Linux on a 64-bit architecture whose epoll_event layout it knows.</summary>
    public static bool IsSupported =>
        OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64;

    /// <summary>The errno of the call that just failed, as the SocketError the rest of the data plane speaks.</summary>
    public static SocketException LastError() => Error(Marshal.GetLastPInvokeError());

    public static SocketException Error(int errno) => new((int)ToSocketError(errno));

    public static SocketError ToSocketError(int errno) => errno switch
    {
        EAGAIN => SocketError.WouldBlock,
        EINTR => SocketError.Interrupted,
        12 => SocketError.NoBufferSpaceAvailable,   // ENOMEM: counted as a resource shortage like ENOBUFS
        13 => SocketError.AccessDenied,
        22 => SocketError.InvalidArgument,
        23 or 24 => SocketError.TooManyOpenSockets, // ENFILE, EMFILE
        EPIPE => SocketError.Shutdown,                 // EPIPE: we shut down writing, or the peer reset
        98 => SocketError.AddressAlreadyInUse,
        99 => SocketError.AddressNotAvailable,
        100 => SocketError.NetworkDown,
        101 => SocketError.NetworkUnreachable,
        103 => SocketError.ConnectionAborted,
        104 => SocketError.ConnectionReset,
        105 => SocketError.NoBufferSpaceAvailable,
        107 => SocketError.NotConnected,
        110 => SocketError.TimedOut,
        111 => SocketError.ConnectionRefused,
        113 => SocketError.HostUnreachable,
        EINPROGRESS => SocketError.InProgress,
        _ => SocketError.SocketError,
    };
}
