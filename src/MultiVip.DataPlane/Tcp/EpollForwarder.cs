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
/// A direction that turns out to be bulk (<see cref="SplicePipes.AfterFullReads"/> full buffers)
/// switches to splice(2) through a pipe when <paramref name="splice"/> allows it (docs/data-plane.md#splice):
/// the same two calls per chunk, but the bytes never cross into user space.
/// </summary>
internal sealed class EpollForwarder(ArrayPool<byte> pool, SplicePipes? splice = null) : IConnectionForwarder
{
    private const byte TcpStateCloseWait = 8;

    /// <summary>Both copy loops; their state machines come from the runtime's pool (each is awaited exactly once).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask ForwardAsync(ForwardedConnection connection)
    {
        var client = (EpollSocket)connection.Client;
        var backend = (EpollSocket)connection.BackendSocket;
        if (client.FirstBytes > 0)
        {
            // Read before the connect and sent with it (EpollSocket.FirstFlight): counted as the copy loop counts a read.
            connection.Backend.Counters.AddBytes(fromClient: true, client.FirstBytes);
            connection.BytesIn += client.FirstBytes;
        }

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
        SplicePipe? pipe = null;
        // The client's first read happened before the connect (EpollSocket.FirstFlight): it says whether to read again
        // at once or wait for the next edge. The backend has not answered yet.
        var mayHaveMore = fromClient && source.FirstReadMayHaveLeftMore;
        var sending = false;
        // Full-buffer reads until this direction counts as bulk; int.MinValue: never (splice off, or handed back).
        var untilSplice = splice?.AfterFullReads ?? int.MinValue;
        try
        {
            while (true)
            {
                if (untilSplice == 0 && pipe is null)
                {
                    pipe = splice!.TryTake(source.Loop);
                    if (pipe is null)
                    {
                        // At the cap: copy on, and ask again after as many full reads more.
                        untilSplice = splice.AfterFullReads + 1;
                    }
                    else if (buffer is not null)
                    {
                        pool.Return(buffer);
                        buffer = null;
                    }
                }

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

                int read;
                if (pipe is null)
                {
                    buffer ??= pool.Rent(PooledBufferForwarder.BufferSize);
                    read = source.Receive(buffer);
                }
                else
                {
                    read = source.SpliceTo(pipe, splice!.PipeSize);
                    if (read == 0)
                    {
                        // splice answers 0 for the peer's FIN, and also when the next segment cannot be
                        // spliced (urgent data). recv tells the two apart: the direction hands its empty
                        // pipe back and copies from here on, so the FIN takes exactly the copy path's route.
                        splice.Give(pipe, source.Loop);
                        pipe = null;
                        untilSplice = int.MinValue;
                        mayHaveMore = true;
                        continue;
                    }
                }

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
                    PassEnd(connection, SourceEnded(connection, source), destination, fromClient);
                    return;
                }

                // The source's FIN is already in (its edge said so) and this read did not fill the buffer, so
                // the FIN is next: read it before sending, and the data and the FIN leave in one segment
                // (as HAProxy sends them) instead of a data segment, the peer's ACK and a FIN segment.
                var ending = End.None;
                var deferredError = 0;
                if (pipe is null && read < buffer!.Length && source.PeerClosed && !source.ErrorSeen)
                {
                    var next = source.Receive(buffer.AsSpan(read));
                    if (next == 0)
                    {
                        ending = SourceEnded(connection, source);
                    }
                    else if (next > 0)
                    {
                        read += next;
                    }
                    else if (next != -LibC.EAGAIN)
                    {
                        // A reset behind the data: the data goes on first, as when the next read found the reset.
                        deferredError = -next;
                    }
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
                if (pipe is null)
                {
                    // Held back for the FIN only when one follows at once (shutdown below, or close() once
                    // this direction returns as the second); a reset after the data sends it as it came.
                    var sent = destination.Send(buffer.AsSpan(0, read), finFollows: ending is End.PassOn or End.Close);
                    if (sent != read)
                    {
                        if (sent < 0 && sent != -LibC.EAGAIN)
                        {
                            throw LibC.Error(-sent);
                        }

                        await destination.SendAllAsync(buffer.AsMemory(Math.Max(sent, 0), read - Math.Max(sent, 0))).ConfigureAwait(false);
                    }

                    if (ending != End.None)
                    {
                        sending = false;
                        PassEnd(connection, ending, destination, fromClient);
                        return;
                    }

                    if (deferredError != 0)
                    {
                        sending = false;
                        throw LibC.Error(deferredError);
                    }

                    // A short read drained the socket, unless the peer's FIN was already queued behind it.
                    var full = read == buffer!.Length;
                    mayHaveMore = full || source.PeerClosed;
                    if (full && untilSplice > 0)
                    {
                        untilSplice--;
                    }
                }
                else
                {
                    pipe.Held = read;
                    await SpliceOutAsync(pipe, destination).ConfigureAwait(false);

                    // A pipe holds whole socket buffers' fragments, at most one per page: a short splice
                    // does not prove the socket empty, so a spliced direction reads on until EAGAIN.
                    mayHaveMore = true;
                }

                sending = false;
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

            if (pipe is not null)
            {
                splice!.Give(pipe, source.Loop);
            }
        }
    }

    /// <summary>How a direction ends once its source's FIN was read.</summary>
    private enum End
    {
        /// <summary>Not ending (no FIN read).</summary>
        None,

        /// <summary>The first direction to end: a FIN (CLOSE_WAIT), passed on as a half-close.</summary>
        PassOn,

        /// <summary>The second direction: close() of both sockets sends the FIN.</summary>
        Close,

        /// <summary>The 0-byte read was a reset another call collected, not a FIN: both peers get a reset.</summary>
        Reset,
    }

    /// <summary>A read of 0 from the source. As in PooledBufferForwarder: the first direction to end checks
    /// that it was a FIN and not a reset another call collected (CLOSE_WAIT), then passes the half-close on;
    /// the second one leaves the FIN to close().</summary>
    private static End SourceEnded(ForwardedConnection connection, EpollSocket source)
    {
        if (connection.EndDirection())
        {
            return End.Close;
        }

        return source.TcpState() == TcpStateCloseWait ? End.PassOn : End.Reset;
    }

    private static void PassEnd(ForwardedConnection connection, End ending, EpollSocket destination, bool fromClient)
    {
        if (ending == End.Reset)
        {
            connection.EndedBy(fromClient ? Logging.Termination.ClientAborted : Logging.Termination.ServerAborted);
            connection.Reset();
        }
        else if (ending == End.PassOn)
        {
            destination.ShutdownSend();
        }
    }

    /// <summary>Empties the pipe into <paramref name="destination"/>, waiting for its output edge while its send
    /// buffer is full: the bytes wait in the pipe and the source is not read meanwhile (backpressure).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask SpliceOutAsync(SplicePipe pipe, EpollSocket destination)
    {
        while (pipe.Held > 0)
        {
            var moved = destination.SpliceFrom(pipe);
            if (moved > 0)
            {
                pipe.Held -= moved;
                continue;
            }

            if (moved != -LibC.EAGAIN)
            {
                throw LibC.Error(moved == 0 ? LibC.EPIPE : -moved);
            }

            if (!await destination.Writable.WaitAsync().ConfigureAwait(false))
            {
                throw new ObjectDisposedException(nameof(EpollSocket));
            }
        }
    }
}
