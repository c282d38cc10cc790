using System.Globalization;
using System.Net;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using MultiVip.DataPlane.Contract;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Logging;

/// <summary>Where the per-connection access log goes (<c>--access-log</c>) and when it rotates.</summary>
public sealed record AccessLogOptions
{
    public const long DefaultMaxBytes = 100L * 1024 * 1024;
    public const int DefaultFiles = 5;

    public required string Path { get; init; }

    /// <summary>Size at which the file is rotated: PATH → PATH.1 → … → PATH.<see cref="Files"/> (the oldest is deleted).</summary>
    public long MaxBytes { get; init; } = DefaultMaxBytes;

    /// <summary>Rotated files kept besides the current one.</summary>
    public int Files { get; init; } = DefaultFiles;
}

/// <summary>
/// How a connection ended, as HAProxy's tcplog spells its two-character termination state: the
/// first says who ended it (C client, S server, c client-side timeout, s server-side timeout,
/// P the proxy's rules or limits, K killed by the proxy, I internal error, - nobody: normal close),
/// the second where it was (C connecting to a backend, R before a backend was chosen, D data).
/// </summary>
public static class Termination
{
    public const string Normal = "--";
    public const string ClientAborted = "CD";
    public const string ServerAborted = "SD";
    public const string IdleTimeout = "cD";
    public const string Killed = "KD";
    public const string DeniedByAcl = "PR";
    public const string OverLimit = "PC";
    public const string NoBackend = "SC";
    public const string ConnectFailed = "SC";
    public const string ConnectTimeout = "sC";
    public const string InternalError = "IC";
}

/// <summary>One client connection, written when it is closed (or refused).</summary>
public sealed record ConnectionRecord
{
    public required IPEndPoint Client { get; init; }

    public required DateTimeOffset AcceptedAt { get; init; }

    public required ListenerKey Listener { get; init; }

    public required string ServiceName { get; init; }

    public required string VirtualIpName { get; init; }

    /// <summary>The load-balanced set, or the endpoint when it is not in one.</summary>
    public string? SetOrEndpoint { get; init; }

    public string? VmName { get; init; }

    public string? EndpointName { get; init; }

    public IPEndPoint? Backend { get; init; }

    /// <summary>Accept to backend chosen (admission, ACL, choice), ms.</summary>
    public double WaitMs { get; init; }

    /// <summary>Connecting to the backend (all attempts); -1 when no connect was made.</summary>
    public double ConnectMs { get; init; } = -1;

    public double TotalMs { get; init; }

    /// <summary>Bytes from the client (to the backend).</summary>
    public long BytesIn { get; init; }

    /// <summary>Bytes from the backend (to the client).</summary>
    public long BytesOut { get; init; }

    public required string Termination { get; init; }

    /// <summary>Connect attempts after the first.</summary>
    public int Retries { get; init; }
}

/// <summary>What the data plane hands closed connections to; implemented by <see cref="AccessLogWriter"/>.</summary>
public interface IConnectionLog
{
    /// <summary>Never blocks and never throws: a full queue drops the record and counts it.</summary>
    void Record(ConnectionRecord record);
}

/// <summary>
/// The access log: one line per closed TCP connection, HAProxy-tcplog-like, written by its own task
/// so forwarding never waits for the disk. The queue between them is bounded: when the writer falls
/// behind (a slow disk, a flood) records are dropped and counted (<see cref="Dropped"/>), traffic is
/// never slowed. The file is rotated by size, and <see cref="Reopen"/> (SIGHUP) reopens it at its
/// path after an outside rotation (logrotate's move, then HUP).
/// </summary>
public sealed partial class AccessLogWriter : IConnectionLog, IAsyncDisposable
{
    public const int QueueCapacity = 16_384;

    private readonly AccessLogOptions _options;
    private readonly ILogger _logger;
    private readonly Channel<ConnectionRecord> _queue = Channel.CreateBounded<ConnectionRecord>(new BoundedChannelOptions(QueueCapacity)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.DropWrite,
    });
    private readonly Task _writer;
    private FileStream? _file;
    private int _reopen;
    private long _dropped;
    private long _written;

    private AccessLogWriter(AccessLogOptions options, ILogger<AccessLogWriter> logger)
    {
        _options = options;
        _logger = logger;
        _file = Open();
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>Opens (creating) the file, so a path that cannot be written is refused at start, not at the first connection.</summary>
    public static AccessLogWriter Start(AccessLogOptions options, ILoggerFactory loggers)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.MaxBytes < 1024)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"The access log's maximum size must be at least 1024 bytes, not {options.MaxBytes}.");
        }

        if (options.Files < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"The access log keeps at least 1 rotated file, not {options.Files}.");
        }

        return new AccessLogWriter(options, loggers.CreateLogger<AccessLogWriter>());
    }

    /// <summary>Records dropped because the queue was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Lines written.</summary>
    public long Written => Interlocked.Read(ref _written);

    public string Path => _options.Path;

    public void Record(ConnectionRecord record)
    {
        if (!_queue.Writer.TryWrite(record))
        {
            Interlocked.Increment(ref _dropped);
        }
    }

    /// <summary>Reopens the file at its path before the next line (SIGHUP); returns what the reload line says.</summary>
    public string Reopen()
    {
        Volatile.Write(ref _reopen, 1);
        return $"access log {_options.Path} reopened";
    }

    /// <summary>Completes when every record queued before the call is on disk (tests, shutdown).</summary>
    public async Task FlushAsync()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _flushes.Enqueue(done);

        // A marker record wakes the writer even when the queue is empty.
        if (!_queue.Writer.TryWrite(FlushMarker))
        {
            await Task.Delay(10).ConfigureAwait(false);
            _queue.Writer.TryWrite(FlushMarker);
        }

        await done.Task.ConfigureAwait(false);
    }

    private static readonly ConnectionRecord FlushMarker = new()
    {
        Client = new IPEndPoint(IPAddress.None, 0),
        AcceptedAt = default,
        Listener = default,
        ServiceName = "",
        VirtualIpName = "",
        Termination = "",
    };

    private readonly System.Collections.Concurrent.ConcurrentQueue<TaskCompletionSource> _flushes = new();

    private async Task WriteLoopAsync()
    {
        var reader = _queue.Reader;
        var buffer = new MemoryStream(64 * 1024);
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            var markers = 0;
            while (reader.TryRead(out var record))
            {
                if (ReferenceEquals(record, FlushMarker))
                {
                    markers++;
                    continue;
                }

                var bytes = Encoding.UTF8.GetBytes(Format(record));
                buffer.Write(bytes);
                if (buffer.Length >= 60 * 1024)
                {
                    WriteOut(buffer);
                }
            }

            WriteOut(buffer);
            for (var i = 0; i < markers && _flushes.TryDequeue(out var flush); i++)
            {
                flush.TrySetResult();
            }
        }

        while (_flushes.TryDequeue(out var flush))
        {
            flush.TrySetResult();
        }
    }

    /// <summary>Writes what is buffered, rotating first when the file would grow past its size.</summary>
    private void WriteOut(MemoryStream buffer)
    {
        if (buffer.Length == 0)
        {
            return;
        }

        try
        {
            if (Interlocked.Exchange(ref _reopen, 0) != 0)
            {
                _file?.Dispose();
                _file = Open();
            }

            _file ??= Open();
            if (_file.Length > 0 && _file.Length + buffer.Length > _options.MaxBytes)
            {
                Rotate();
            }

            buffer.Position = 0;
            buffer.CopyTo(_file);
            _file.Flush();
            var lines = 0;
            foreach (var b in buffer.GetBuffer().AsSpan(0, (int)buffer.Length))
            {
                if (b == (byte)'\n')
                {
                    lines++;
                }
            }

            Interlocked.Add(ref _written, lines);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The disk is full or the file went away: these lines are lost (counted), traffic is not.
            var lost = 0;
            foreach (var b in buffer.GetBuffer().AsSpan(0, (int)buffer.Length))
            {
                if (b == (byte)'\n')
                {
                    lost++;
                }
            }

            Interlocked.Add(ref _dropped, lost);
            Log.WriteFailed(_logger, _options.Path, lost, ex);
            _file?.Dispose();
            _file = null;
        }
        finally
        {
            buffer.SetLength(0);
        }
    }

    /// <summary>PATH.(N-1) → PATH.N, …, PATH → PATH.1, then a new PATH; the oldest falls off.</summary>
    private void Rotate()
    {
        _file?.Dispose();
        _file = null;
        var oldest = $"{_options.Path}.{_options.Files}";
        if (File.Exists(oldest))
        {
            File.Delete(oldest);
        }

        for (var i = _options.Files - 1; i >= 1; i--)
        {
            var from = $"{_options.Path}.{i}";
            if (File.Exists(from))
            {
                File.Move(from, $"{_options.Path}.{i + 1}", overwrite: true);
            }
        }

        if (File.Exists(_options.Path))
        {
            File.Move(_options.Path, _options.Path + ".1", overwrite: true);
        }

        _file = Open();
        Log.Rotated(_logger, _options.Path, _options.MaxBytes);
    }

    private FileStream Open()
    {
        var file = new FileStream(_options.Path, new FileStreamOptions
        {
            Mode = FileMode.Append,
            Access = FileAccess.Write,
            Share = FileShare.ReadWrite | FileShare.Delete,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead,
        });
        return file;
    }

    /// <summary>
    /// One line, HAProxy tcplog-like:
    /// <c>client:port [accept time] service/vip vip:port/proto set vm/endpoint backend:port Tw/Tc/Tt bytes_in bytes_out termination retries</c>.
    /// A field that does not apply is "-"; no backend in rotation is HAProxy's &lt;NOSRV&gt;.
    /// </summary>
    public static string Format(ConnectionRecord r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var s = new StringBuilder(200);
        s.Append(Endpoint(r.Client)).Append(" [").Append(r.AcceptedAt.UtcDateTime.ToString("dd/MMM/yyyy:HH:mm:ss.fff", CultureInfo.InvariantCulture)).Append("] ")
            .Append(Field(r.ServiceName)).Append('/').Append(Field(r.VirtualIpName)).Append(' ')
            .Append(Endpoint(new IPEndPoint(r.Listener.Address ?? IPAddress.None, r.Listener.Port))).Append('/').Append(r.Listener.Protocol.ToWire()).Append(' ')
            .Append(Field(r.SetOrEndpoint)).Append(' ')
            .Append(r.VmName is null ? (r.Termination == Termination.NoBackend && r.ConnectMs < 0 ? "<NOSRV>" : "-") : Field(r.VmName) + "/" + Field(r.EndpointName)).Append(' ')
            .Append(r.Backend is null ? "-" : Endpoint(r.Backend)).Append(' ')
            .Append(Ms(r.WaitMs)).Append('/').Append(Ms(r.ConnectMs)).Append('/').Append(Ms(r.TotalMs)).Append(' ')
            .Append(r.BytesIn.ToString(CultureInfo.InvariantCulture)).Append(' ')
            .Append(r.BytesOut.ToString(CultureInfo.InvariantCulture)).Append(' ')
            .Append(r.Termination).Append(' ')
            .Append(r.Retries.ToString(CultureInfo.InvariantCulture)).Append('\n');
        return s.ToString();
    }

    private static string Ms(double ms) => ms < 0 ? "-1" : Math.Round(ms).ToString("0", CultureInfo.InvariantCulture);

    private static string Endpoint(IPEndPoint e) => e.ToString();

    /// <summary>Names are the operator's, but a space would shift every later field: spaces and controls become '_'.</summary>
    private static string Field(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "-";
        }

        foreach (var c in value)
        {
            if (c <= ' ' || c == '\u007f')
            {
                return string.Concat(value.Select(ch => ch <= ' ' || ch == '\u007f' ? '_' : ch));
            }
        }

        return value;
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
        _file?.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5710, EventName = "AccessLogRotated", Level = LogLevel.Information, Message = "Access log {Path} reached {MaxBytes} bytes: rotated")]
        public static partial void Rotated(ILogger logger, string path, long maxBytes);

        [LoggerMessage(EventId = 5711, EventName = "AccessLogWriteFailed", Level = LogLevel.Warning, Message = "Writing the access log {Path} failed; {Lines} lines lost (counted as dropped), traffic is not affected")]
        public static partial void WriteFailed(ILogger logger, string path, int lines, Exception exception);
    }
}
