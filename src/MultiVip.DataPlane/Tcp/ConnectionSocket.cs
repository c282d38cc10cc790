using System.Net;
using System.Net.Sockets;

namespace MultiVip.DataPlane.Tcp;

/// <summary>
/// One TCP socket of a forwarded connection (the client's or the backend's), whichever socket engine
/// drives it: what the connection path and <see cref="ForwardedConnection"/>'s teardown need, and no
/// more. The engine's forwarder knows its own concrete type.
/// </summary>
internal abstract class ConnectionSocket
{
    /// <summary>An accepted client: turns Nagle off (a proxy must not delay small messages) and returns the peer's address.</summary>
    public abstract IPEndPoint PrepareClient();

    /// <summary>Sends all of <paramref name="data"/> (the PROXY protocol header, before any client byte).</summary>
    public abstract ValueTask SendAsync(ReadOnlyMemory<byte> data);

    /// <summary>FIN in both directions, best effort (the peer may be gone already).</summary>
    public abstract void Shutdown();

    /// <summary>Releases the socket; pending waits on it end.</summary>
    public abstract void Close();

    /// <summary>SO_LINGER with a zero timeout, then close: the peer gets RST instead of FIN.</summary>
    public abstract void Abort();
}

/// <summary>A <see cref="System.Net.Sockets.Socket"/> of the runtime's socket engine.</summary>
internal sealed class DotnetConnectionSocket(Socket socket) : ConnectionSocket
{
    public Socket Socket { get; } = socket;

    public override IPEndPoint PrepareClient()
    {
        Socket.NoDelay = true;
        return (IPEndPoint)Socket.RemoteEndPoint!;
    }

    public override async ValueTask SendAsync(ReadOnlyMemory<byte> data)
    {
        while (!data.IsEmpty)
        {
            var sent = await Socket.SendAsync(data, SocketFlags.None).ConfigureAwait(false);
            data = data[sent..];
        }
    }

    public override void Shutdown()
    {
        try
        {
            Socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public override void Close() => Socket.Dispose();

    public override void Abort()
    {
        try
        {
            Socket.LingerState = new LingerOption(true, 0);
        }
        catch (SocketException)
        {
            // Already reset by the peer: nothing left to tell it.
        }
        catch (ObjectDisposedException)
        {
            return;
        }

        Socket.Dispose();
    }
}
