using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using MultiVip.DataPlane;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Sockets;

namespace MultiVip.Server.Hosting;

/// <summary>
/// Kestrel's socket transport with an accept loop that backs off. Kestrel's own loop retries at once
/// on any accept error, so at the descriptor limit (EMFILE) it spins a core until a descriptor frees;
/// this one pauses (<see cref="AcceptBackoff"/>) and logs once per interval with a count. Connections
/// are built by Kestrel's public <see cref="SocketConnectionContextFactory"/>, so everything after
/// accept is the stock transport.
/// </summary>
/// <remarks>
/// A takeover (docs/operations.md, "Restart and upgrade without dropping connections") hands the API's
/// listening socket from the old server to the new one: <see cref="BindAsync"/> adopts it from
/// <paramref name="inherited"/> when it matches, and <see cref="ListeningSockets"/> offers ours.
/// </remarks>
internal sealed partial class ApiSocketTransport(ILoggerFactory loggers, TimeProvider timeProvider, ApiConnectionGuard guard, InheritedSockets inherited) : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    /// <summary>Kestrel's default backlog.</summary>
    private const int Backlog = 512;

    private readonly List<Listener> _bound = [];

    public bool CanBind(EndPoint endpoint) => endpoint is IPEndPoint;

    /// <summary>The API's listening sockets still bound, for a successor process to take over.</summary>
    public IReadOnlyList<ListeningSocket> ListeningSockets()
    {
        lock (_bound)
        {
            return [.. _bound.Where(l => !l.IsUnbound).Select(l => new ListeningSocket(ListeningSocketKind.Api, (IPEndPoint)l.EndPoint, l.Socket))];
        }
    }

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var ip = (IPEndPoint)endpoint;
        var logger = loggers.CreateLogger<ApiSocketTransport>();
        if (inherited.Take(ListeningSocketKind.Api, ip) is { } adopted)
        {
            Log.Adopted(logger, adopted.LocalEndPoint!);
            return new ValueTask<IConnectionListener>(Track(new Listener(adopted, new SocketConnectionContextFactory(new SocketConnectionFactoryOptions(), logger), logger, timeProvider, guard)));
        }

        var socket = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (ip.Address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true;
            }

            socket.Bind(ip);
            socket.Listen(Backlog);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            socket.Dispose();

            // What Kestrel's transport throws, so the host reports a port in use as it always did.
            throw new AddressInUseException(ex.Message, ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var factory = new SocketConnectionContextFactory(new SocketConnectionFactoryOptions(), logger);
        return new ValueTask<IConnectionListener>(Track(new Listener(socket, factory, logger, timeProvider, guard)));
    }

    private Listener Track(Listener listener)
    {
        lock (_bound)
        {
            _bound.RemoveAll(l => l.IsUnbound);
            _bound.Add(listener);
        }

        return listener;
    }

    private sealed class Listener : IConnectionListener
    {
        private readonly Socket _socket;
        private readonly SocketConnectionContextFactory _factory;
        private readonly TimeProvider _timeProvider;
        private readonly ApiConnectionGuard _guard;
        private readonly LogThrottle<SocketException> _failureLog;
        private readonly CancellationTokenSource _unbound = new();
        private AcceptBackoff _backoff;

        public Listener(Socket socket, SocketConnectionContextFactory factory, ILogger logger, TimeProvider timeProvider, ApiConnectionGuard guard)
        {
            _socket = socket;
            _factory = factory;
            _timeProvider = timeProvider;
            _guard = guard;
            EndPoint = socket.LocalEndPoint!;
            _failureLog = new(timeProvider, (ex, count, interval) => Log.AcceptFailed(logger, EndPoint, count, interval, ex.SocketErrorCode, AcceptBackoff.Hint(ex)));
        }

        public EndPoint EndPoint { get; }

        public Socket Socket => _socket;

        public bool IsUnbound => _unbound.IsCancellationRequested;

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _unbound.Token);
            while (true)
            {
                try
                {
                    // At the API's descriptor bound, stop accepting: the kernel queues newcomers meanwhile.
                    await _guard.WaitForDescriptorAsync(stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return null;
                }

                Socket accepted;
                try
                {
                    accepted = await _socket.AcceptAsync(stop.Token).ConfigureAwait(false);
                    _backoff.Reset();
                }
                catch (Exception ex) when (ex is ObjectDisposedException or OperationCanceledException
                    || ex is SocketException { SocketErrorCode: SocketError.OperationAborted })
                {
                    _guard.ReturnDescriptor();
                    return null; // unbound: Kestrel is stopping
                }
                catch (SocketException ex)
                {
                    _guard.ReturnDescriptor();
                    _failureLog.Record(ex);
                    if (!AcceptBackoff.IsPerConnection(ex))
                    {
                        try
                        {
                            await Task.Delay(_backoff.Next(), _timeProvider, stop.Token).ConfigureAwait(false);
                        }
                        catch (OperationCanceledException)
                        {
                            return null;
                        }
                    }

                    continue;
                }

                if (!_guard.TryAdmit())
                {
                    accepted.Dispose();
                    continue;
                }

                accepted.NoDelay = true;
                return _factory.Create(accepted);
            }
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            _unbound.Cancel();

            // Handed over: the successor accepts on it; cancelling our accept is all we do to it.
            HandedOverSockets.Close(_socket);
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            _unbound.Cancel();
            HandedOverSockets.Close(_socket);
            _factory.Dispose();
            _unbound.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5503, EventName = "ApiSocketAdopted", Level = LogLevel.Information,
            Message = "The API adopted the listening socket on {EndPoint} from the previous server")]
        public static partial void Adopted(ILogger logger, EndPoint endPoint);

        [LoggerMessage(EventId = 4002, EventName = "ApiAcceptFailed", Level = LogLevel.Warning,
            Message = "The API on {EndPoint}: accept failed {Count} time(s) in the last {Interval} (latest: {Error}); {Hint}")]
        public static partial void AcceptFailed(ILogger logger, EndPoint endPoint, long count, TimeSpan interval, SocketError error, string hint);
    }
}
