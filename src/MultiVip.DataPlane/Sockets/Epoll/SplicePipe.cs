using System.Runtime.InteropServices;

namespace MultiVip.DataPlane.Sockets.Epoll;

/// <summary>
/// The pipe of one spliced direction (socket → pipe → socket, docs/data-plane.md#splice): both ends
/// non-blocking, sized to the copy buffer, so one splice in moves what one recv would have. The bytes
/// it holds are the ones read from the source and not yet taken by the destination: while the
/// destination is full they stay here and the source is not read (backpressure, at most one pipe's
/// worth per direction, as the copy path holds at most one buffer).
/// </summary>
internal sealed unsafe class SplicePipe
{
    private SplicePipe(int readEnd, int writeEnd)
    {
        ReadEnd = readEnd;
        WriteEnd = writeEnd;
    }

    public int ReadEnd { get; }

    public int WriteEnd { get; }

    /// <summary>Bytes spliced in and not yet spliced out; used only by the one copy loop holding the pipe.</summary>
    public int Held { get; set; }

    /// <summary>A new pipe of <paramref name="size"/> bytes, or null when the process is out of descriptors
    /// (the direction then keeps copying: a shortage of pipes never fails a connection).</summary>
    public static SplicePipe? TryCreate(int size)
    {
        var ends = stackalloc int[2];
        if (LibC.pipe2(ends, LibC.O_NONBLOCK | LibC.O_CLOEXEC) != 0)
        {
            return null;
        }

        // The default is 16 pages (64 KiB on x86-64) already; asked explicitly so a host whose default
        // differs (pipe-max-size, 64 KiB pages) still moves one buffer's worth per call. A refusal keeps the default.
        _ = LibC.fcntl(ends[1], LibC.F_SETPIPE_SZ, size);
        return new SplicePipe(ends[0], ends[1]);
    }

    public void Close()
    {
        _ = LibC.close(ReadEnd);
        _ = LibC.close(WriteEnd);
    }

    /// <summary>The errno of a failed splice, as minus errno like <see cref="EpollSocket.Receive"/>.</summary>
    internal static int Result(nint moved) => moved >= 0 ? (int)moved : -Marshal.GetLastPInvokeError();
}

/// <summary>
/// How many directions of one data plane may be spliced at once (each holds a pipe: two descriptors,
/// which the server's descriptor budget reserves), and where a direction gets its pipe: an idle one
/// its loop kept (<see cref="EpollLoop.TakePipe"/>) or a new one. At the cap a direction keeps copying.
/// </summary>
internal sealed class SplicePipes(int maxDirections, int pipeSize, int afterFullReads)
{
    private readonly SharedLimit _directions = new(Math.Max(1, maxDirections));

    /// <summary>The data plane's splicing, or null when it never splices (<see cref="SpliceMode.Never"/>).</summary>
    public static SplicePipes? For(DataPlaneOptions options) => options.Splice == SpliceMode.Never
        ? null
        : new SplicePipes(options.MaxSplicedDirections, Tcp.PooledBufferForwarder.BufferSize, options.SpliceAfterFullReads);

    /// <summary>Bytes one splice in may move: the copy buffer's size.</summary>
    public int PipeSize => pipeSize;

    /// <summary>Full-buffer reads after which a direction is bulk (<see cref="DataPlaneOptions.SpliceAfterFullReads"/>).</summary>
    public int AfterFullReads => afterFullReads;

    private long _switched;

    public int InUse => _directions.Used;

    /// <summary>Directions that switched to splice since the data plane started.</summary>
    public long Switched => Interlocked.Read(ref _switched);

    /// <summary>A pipe for a direction of a socket on <paramref name="loop"/>, or null at the cap (or out of descriptors).</summary>
    public SplicePipe? TryTake(EpollLoop loop)
    {
        if (!_directions.TryAcquire())
        {
            return null;
        }

        var pipe = loop.TakePipe() ?? SplicePipe.TryCreate(pipeSize);
        if (pipe is null)
        {
            _directions.Release();
        }
        else
        {
            Interlocked.Increment(ref _switched);
        }

        return pipe;
    }

    /// <summary>The direction ended: an empty pipe goes back to the loop, one still holding bytes (a reset, a close mid-transfer) is closed.</summary>
    public void Give(SplicePipe pipe, EpollLoop loop)
    {
        _directions.Release();
        if (pipe.Held != 0 || !loop.ReturnPipe(pipe))
        {
            pipe.Close();
        }
    }
}
