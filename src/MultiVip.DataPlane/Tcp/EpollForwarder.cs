using System.Buffers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using MultiVip.DataPlane.Sockets.Epoll;

namespace MultiVip.DataPlane.Tcp;

/// <summary>
/// The copier of the epoll engine: the same two loops and the same FIN/RST rules as
/// <see cref="PooledBufferForwarder"/>, over <see cref="EpollSocket"/>s. Waiting for data is waiting
/// for the loop's input edge (no system call, no buffer held); a read that did not fill the buffer
/// emptied the socket, so the loop waits for the next edge instead of asking again. A message thus
/// costs one recv and one send per direction, like an event-loop proxy.
/// </summary>
internal sealed class EpollForwarder(ArrayPool<byte> pool) : IConnectionForwarder
{
    private const byte TcpStateCloseWait = 8;

    /// <summary>Both copy loops; their state machines come from the runtime's pool (each is awaited exactly once).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask ForwardAsync(ForwardedConnection connection)
    {
        var client = (EpollSocket)connection.Client;
        var backend = (EpollSocket)connection.BackendSocket;
        var upstream = CopyAsync(connection, client, backend, fromClient: true);
        var downstream = CopyAsync(connection, backend, client, fromClient: false);
        await upstream.ConfigureAwait(false);
        await downstream.ConfigureAwait(false);
        if (connection.Close(finsExchanged: true))
        {
            // This thread closed both sockets after both loops ended: nothing else can touch them now.
            client.Recycle();
            backend.Recycle();
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask CopyAsync(ForwardedConnection connection, EpollSocket source, EpollSocket destination, bool fromClient)
    {
        byte[]? buffer = null;
        // The client usually sent its first bytes before the backend connect finished; the backend has not answered yet.
        var mayHaveMore = fromClient;
        var sending = false;
        try
        {
            while (true)
            {
                if (!mayHaveMore)
                {
                    if (buffer is not null)
                    {
                        pool.Return(buffer);
                        buffer = null;
                    }

                    if (!await source.Readable.WaitAsync().ConfigureAwait(false))
                    {
                        return; // closed by us (idle sweep, drain, the other direction's reset)
                    }
                }

                buffer ??= pool.Rent(PooledBufferForwarder.BufferSize);
                var read = source.Receive(buffer);
                if (read == -LibC.EAGAIN)
                {
                    mayHaveMore = false;
                    continue;
                }

                if (read < 0)
                {
                    throw LibC.Error(-read);
                }

                connection.Touch();
                if (read == 0)
                {
                    // FIN from the source. As in PooledBufferForwarder: the first direction to end checks
                    // that it was a FIN and not a reset another call collected (CLOSE_WAIT), then passes
                    // the half-close on; the second one leaves the FIN to close().
                    if (!connection.EndDirection())
                    {
                        if (source.TcpState() != TcpStateCloseWait)
                        {
                            connection.EndedBy(fromClient ? Logging.Termination.ClientAborted : Logging.Termination.ServerAborted);
                            connection.Reset();
                            return;
                        }

                        destination.ShutdownSend();
                    }

                    return;
                }

                connection.Backend.Counters.AddBytes(fromClient, read);
                if (fromClient)
                {
                    connection.BytesIn += read;
                }
                else
                {
                    connection.BytesOut += read;
                }

                sending = true;
                var sent = destination.Send(buffer.AsSpan(0, read));
                if (sent != read)
                {
                    if (sent < 0 && sent != -LibC.EAGAIN)
                    {
                        throw LibC.Error(-sent);
                    }

                    await destination.SendAllAsync(buffer.AsMemory(Math.Max(sent, 0), read - Math.Max(sent, 0))).ConfigureAwait(false);
                }

                sending = false;

                // A short read drained the socket, unless the peer's FIN was already queued behind it.
                mayHaveMore = read == buffer.Length || source.PeerClosed;
            }
        }
        catch (SocketException)
        {
            // RST from either peer (or a failed write): the other peer must see a reset too. The peer
            // that failed is the source when reading, the destination when sending (access log).
            connection.EndedBy(fromClient != sending ? Logging.Termination.ClientAborted : Logging.Termination.ServerAborted);
            connection.Reset();
        }
        catch (ObjectDisposedException)
        {
            // Closed by us while this loop was in a call.
        }
        finally
        {
            if (buffer is not null)
            {
                pool.Return(buffer);
            }
        }
    }
}
