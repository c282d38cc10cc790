using System.Buffers;
using System.Net;
using System.Net.Sockets;
using MultiVip.DataPlane.Sockets;
using MultiVip.DataPlane.Sockets.Epoll;

namespace MultiVip.DataPlane.Tcp;

/// <summary>
/// How a TCP listener's connections are driven: accepting clients from the listening socket,
/// connecting to a backend, and (its <see cref="Forwarder"/>) moving bytes between the two. The
/// listener's policy (caps, ACL, balancing, retries, PROXY header, draining, idle sweep) is the same
/// whichever engine runs; docs/data-plane.md#socket-engines says what each costs.
/// </summary>
internal interface ISocketEngine
{
    SocketEngine Kind { get; }

    IConnectionForwarder Forwarder { get; }

    /// <summary>
    /// The accept loops of one listening socket (the listener runs one task per acceptor). Each ends
    /// (OperationCanceledException) when <paramref name="stopping"/> fires and must be disposed by its loop.
    /// </summary>
    IClientAcceptor[] CreateAcceptors(Socket listening, CancellationToken stopping);

    /// <summary>Connects to a backend for <paramref name="client"/>, bounded by <paramref name="timeout"/> on <paramref name="timeProvider"/>
    /// (TimeoutException when it runs out), and sends it <paramref name="preamble"/> (the PROXY header, or nothing) before
    /// any byte of the client's. The epoll engine sends the client's first bytes with it when they were already in
    /// (docs/data-plane.md#socket-engines); a failure to send them counts as a failed connect, as a refusal does.</summary>
    ValueTask<ConnectionSocket> ConnectAsync(IPEndPoint target, ConnectionSocket client, ReadOnlyMemory<byte> preamble, TimeSpan timeout, TimeProvider timeProvider, CancellationToken cancellationToken);
}

/// <summary>One accept loop's source of clients. Errors are SocketExceptions with the accept's error code.</summary>
internal interface IClientAcceptor : IDisposable
{
    ValueTask<ConnectionSocket> AcceptAsync();
}

internal static class SocketEngines
{
    public static ISocketEngine Create(SocketEngine kind, ArrayPool<byte> pool, SplicePipes? splice = null) => kind switch
    {
        SocketEngine.Epoll => new EpollSocketEngine(pool, splice),
        _ => new DotnetSocketEngine(new PooledBufferForwarder(pool)),
    };
}

/// <summary>The runtime's System.Net.Sockets: portable, and what every platform but Linux gets.</summary>
internal sealed class DotnetSocketEngine(PooledBufferForwarder forwarder) : ISocketEngine
{
    public SocketEngine Kind => SocketEngine.Dotnet;

    public IConnectionForwarder Forwarder => forwarder;

    /// <summary>One accept loop: the runtime's completions already run on its own epoll threads.</summary>
    public IClientAcceptor[] CreateAcceptors(Socket listening, CancellationToken stopping) => [new Acceptor(listening, stopping)];

    public async ValueTask<ConnectionSocket> ConnectAsync(IPEndPoint target, ConnectionSocket client, ReadOnlyMemory<byte> preamble, TimeSpan timeout, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        var backend = new DotnetConnectionSocket(await BackendConnector.ConnectAsync(target, timeout, timeProvider, cancellationToken).ConfigureAwait(false));
        try
        {
            await backend.SendAsync(preamble).ConfigureAwait(false);
            return backend;
        }
        catch
        {
            backend.Abort();
            throw;
        }
    }

    private sealed class Acceptor(Socket listening, CancellationToken stopping) : IClientAcceptor
    {
        public async ValueTask<ConnectionSocket> AcceptAsync() =>
            new DotnetConnectionSocket(await listening.AcceptAsync(stopping).ConfigureAwait(false));

        public void Dispose()
        {
        }
    }
}
