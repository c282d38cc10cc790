using System.Net;
using System.Net.Sockets;
using MultiVip.DataPlane.Contract;

namespace MultiVip.DataPlane.Sockets;

/// <summary>Binds a listening socket and turns bind errors into messages that say how to fix them.</summary>
internal static class ListenerBinder
{
    /// <summary>Large enough to absorb an accept burst while the accept loop is scheduled; the kernel caps it at somaxconn.</summary>
    private const int Backlog = 1024;

    public static Socket? TryBind(ListenerKey key, out string? error) => TryBind(key, freeBind: false, out error);

    /// <param name="freeBind">
    /// IP_FREEBIND / IPV6_FREEBIND: bind even though the address is not (yet) on an interface. Set when
    /// an announcer manages the addresses, so adding or moving an address never waits for a rebind, and
    /// a node that does not hold a VIP is still ready to serve it. Without an announcer the bind error
    /// is the useful signal (the operator forgot the address), so it stays off.
    /// </param>
    public static Socket? TryBind(ListenerKey key, bool freeBind, out string? error)
    {
        var socket = new Socket(key.Address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (freeBind)
            {
                SetFreeBind(socket);
            }

            // Lets a VIP that moved (or a restarted host) rebind while old connections sit in TIME_WAIT;
            // on Linux it never lets two sockets listen on the same address and port.
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);

            // Before listen(): every connection accepted from it inherits TCP_NODELAY (Linux copies the
            // listener's setting into the accepted socket), so the epoll engine makes no setsockopt per
            // client (EpollSocketEngine.ListeningRegistration).
            socket.NoDelay = true;
            socket.Bind(new IPEndPoint(key.Address, key.Port));
            socket.Listen(Backlog);
            error = null;
            return socket;
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            error = Describe(key, ex.SocketErrorCode, ex.Message);
            return null;
        }
    }

    /// <summary>One datagram socket per (VIP, udp, port); replies to clients are sent from it so they come from the VIP.</summary>
    public static Socket? TryBindUdp(ListenerKey key, out string? error) => TryBindUdp(key, freeBind: false, out error);

    public static Socket? TryBindUdp(ListenerKey key, bool freeBind, out string? error)
    {
        var socket = new Socket(key.Address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (freeBind)
            {
                SetFreeBind(socket);
            }

            socket.Bind(new IPEndPoint(key.Address, key.Port));
            error = null;
            return socket;
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            error = Describe(key, ex.SocketErrorCode, ex.Message);
            return null;
        }
    }

    /// <summary>Linux's IP_FREEBIND (SOL_IP, 15) or IPV6_FREEBIND (SOL_IPV6, 78); .NET has no name for them.</summary>
    private static void SetFreeBind(Socket socket)
    {
        Span<byte> on = stackalloc byte[sizeof(int)];
        BitConverter.TryWriteBytes(on, 1);
        if (socket.AddressFamily == AddressFamily.InterNetworkV6)
        {
            socket.SetRawSocketOption(41, 78, on);
        }
        else
        {
            socket.SetRawSocketOption(0, 15, on);
        }
    }

    internal static string Describe(ListenerKey key, SocketError code, string detail) => code switch
    {
        SocketError.AddressNotAvailable =>
            $"cannot bind {key}: address {key.Address} is not assigned to any interface of this host. "
            + $"Add it to an interface (e.g. 'ip addr add {key.Address}/32 dev lo'), or allocate VIPs from a pool "
            + "of addresses this host owns, such as 127.100.0.0/16. The listener is retried with the next desired state.",
        SocketError.AddressAlreadyInUse =>
            $"cannot bind {key}: port {key.Port} on {key.Address} is already in use by another process or socket. "
            + "Stop that process or choose another public port; the listener is retried with the next desired state.",
        SocketError.AccessDenied =>
            $"cannot bind {key}: permission denied. Ports below 1024 need CAP_NET_BIND_SERVICE "
            + "(setcap cap_net_bind_service=+ep on the host binary) or root; the listener is retried with the next desired state.",
        _ => $"cannot bind {key}: {code} ({detail}). The listener is retried with the next desired state.",
    };
}
