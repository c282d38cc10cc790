using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace MultiVip.DataPlane.Contract;

/// <summary>What a listening socket serves, so the process that inherits it knows who adopts it.</summary>
public enum ListeningSocketKind
{
    /// <summary>A VIP's public TCP port (a data-plane listener).</summary>
    VipTcp,

    /// <summary>A VIP's public UDP port (a data-plane listener's datagram socket).</summary>
    VipUdp,

    /// <summary>The REST API, dashboard and /metrics.</summary>
    Api,

    /// <summary>The embedded DNS server over UDP.</summary>
    DnsUdp,

    /// <summary>The embedded DNS server over TCP.</summary>
    DnsTcp,
}

/// <summary>One listening socket of this process with what it serves, to hand over to a successor.</summary>
public sealed record ListeningSocket(ListeningSocketKind Kind, IPEndPoint EndPoint, Socket Socket);

/// <summary>Who holds listening sockets a successor process may take over (the data plane: every VIP port).</summary>
public interface IListeningSocketSource
{
    /// <summary>The listening sockets running now (not those that stopped or are draining).</summary>
    IReadOnlyList<ListeningSocket> ListeningSockets();
}

/// <summary>
/// Listening sockets handed over by the server this process replaces (docs/operations.md, "Restart
/// and upgrade without dropping connections"). Whoever would bind a socket asks here first and adopts
/// a match instead, so the kernel's accept queue, and every connection waiting in it, carries on.
/// Thread-safe; each socket is taken at most once.
/// </summary>
public sealed class InheritedSockets : IDisposable
{
    private readonly Lock _gate = new();
    private readonly List<ListeningSocket> _left;

    public InheritedSockets(IEnumerable<ListeningSocket> sockets) => _left = [.. sockets];

    /// <summary>No sockets: a server that starts on its own.</summary>
    public static InheritedSockets None { get; } = new([]);

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _left.Count;
            }
        }
    }

    /// <summary>
    /// Takes the socket of <paramref name="kind"/> on <paramref name="endPoint"/>; port 0 (as in
    /// <c>--api http://127.0.0.1:0</c>) takes one on that address whatever its port, since "any
    /// port" is what the predecessor chose too. Null when none matches: bind a new one.
    /// </summary>
    public Socket? Take(ListeningSocketKind kind, IPEndPoint endPoint)
    {
        lock (_gate)
        {
            for (var i = 0; i < _left.Count; i++)
            {
                var candidate = _left[i];
                if (candidate.Kind == kind
                    && candidate.EndPoint.Address.Equals(endPoint.Address)
                    && (endPoint.Port == 0 || candidate.EndPoint.Port == endPoint.Port))
                {
                    _left.RemoveAt(i);
                    return candidate.Socket;
                }
            }
        }

        return null;
    }

    /// <summary>Sockets nobody adopted (a listener the state no longer has, an API moved by --api).</summary>
    public IReadOnlyList<ListeningSocket> Unclaimed()
    {
        lock (_gate)
        {
            return [.. _left];
        }
    }

    /// <summary>Closes the unclaimed ones: once the predecessor closes its copies their ports are free.</summary>
    public void Dispose()
    {
        List<ListeningSocket> left;
        lock (_gate)
        {
            left = [.. _left];
            _left.Clear();
        }

        foreach (var socket in left)
        {
            socket.Socket.Dispose();
        }
    }
}

/// <summary>
/// Listening sockets this process handed over to its successor. The kernel socket is shared from
/// then on, so closing it here must close only this process's descriptor: .NET's Dispose may
/// instead shut it down (connect(AF_UNSPEC) on a TCP listener it thinks is busy, shutdown(2) on a
/// datagram socket, SO_LINGER 0 that every connection the successor accepts would inherit). Every
/// close of a listening socket goes through <see cref="Close"/>, which leaves a handed-over one
/// open: its descriptor closes with the process, after the drain, which the kernel does plainly.
/// </summary>
public static class HandedOverSockets
{
    private static readonly ConcurrentDictionary<SafeSocketHandle, byte> Shared = new();

    public static void Mark(Socket socket) => Shared.TryAdd(socket.SafeHandle, 0);

    /// <summary>The socket is this process's alone again (a takeover it received completed).</summary>
    public static void Unmark(Socket socket) => Shared.TryRemove(socket.SafeHandle, out _);

    public static bool IsHandedOver(Socket socket) => Shared.ContainsKey(socket.SafeHandle);

    /// <summary>Disposes <paramref name="socket"/> unless it was handed over (then the accept or receive loop must already be cancelled).</summary>
    public static void Close(Socket socket)
    {
        if (!IsHandedOver(socket))
        {
            socket.Dispose();
        }
    }
}
