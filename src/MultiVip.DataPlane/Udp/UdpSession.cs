using System.Net;
using System.Net.Sockets;
using MultiVip.DataPlane.Health;
using MultiVip.DataPlane.Sockets;

namespace MultiVip.DataPlane.Udp;

/// <summary>
/// One client address and port bound to one backend. The connected socket towards the backend is
/// what demultiplexes replies: the kernel hands it only datagrams from that backend, and they go
/// back to <see cref="Client"/> from the listener's socket (the VIP and public port).
/// </summary>
internal sealed class UdpSession
{
    private readonly SharedLimit _slots;
    private long _lastActivity;
    private int _closed;

    /// <param name="slots">The data plane's session cap; the session holds one slot from creation until <see cref="Close"/>.</param>
    public UdpSession(UdpFlowKey key, SocketAddress client, IPEndPoint clientEndPoint, BackendState backend, Socket backendSocket, long now, SharedLimit slots)
    {
        _slots = slots;
        Key = key;
        Client = client;
        ClientEndPoint = clientEndPoint;
        Backend = backend;
        BackendSocket = backendSocket;
        _lastActivity = now;
    }

    public UdpFlowKey Key { get; }

    /// <summary>The client's sockaddr, owned by the session (the receive loop reuses its own).</summary>
    public SocketAddress Client { get; }

    public IPEndPoint ClientEndPoint { get; }

    public BackendState Backend { get; }

    public Socket BackendSocket { get; }

    /// <summary>Links of the listener's LRU list (most recent client datagram first); guarded by the listener's table lock.</summary>
    public UdpSession? Newer { get; set; }

    public UdpSession? Older { get; set; }

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>Datagrams either way keep a session alive, as conntrack's UDP timeout does.</summary>
    public void Touch(long timestamp) => Volatile.Write(ref _lastActivity, timestamp);

    public TimeSpan IdleFor(long now, TimeProvider timeProvider) =>
        timeProvider.GetElapsedTime(Volatile.Read(ref _lastActivity), now);

    /// <summary>Closes the backend socket (its reply loop ends) and gives back its slot; true only for the first caller.</summary>
    public bool Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return false;
        }

        BackendSocket.Dispose();
        Backend.DetachSession();
        _slots.Release();
        return true;
    }
}
