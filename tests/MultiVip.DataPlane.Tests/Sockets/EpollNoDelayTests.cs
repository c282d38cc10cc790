using System.Buffers;
using System.Net;
using System.Net.Sockets;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Sockets;
using MultiVip.DataPlane.Sockets.Epoll;
using MultiVip.DataPlane.Tests.Infrastructure;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Tests.Sockets;

/// <summary>
/// Nagle is off on every client socket of the epoll engine, without a setsockopt per connection: the
/// listening socket has TCP_NODELAY before listen() and accepted sockets inherit it. A listening socket
/// without it (taken over from an older build) still gives its clients TCP_NODELAY, one by one.
/// Addresses: 127.133.1.0/24.
/// </summary>
public sealed class EpollNoDelayTests
{
    private static int s_next;

    [Fact]
    public async Task A_bound_listener_has_Nagle_off_and_its_clients_inherit_it()
    {
        var key = NextKey();
        using var listening = ListenerBinder.TryBind(key, out var error) ?? throw new InvalidOperationException(error);
        Assert.True(listening.NoDelay);

        var (accepted, client) = await AcceptOneAsync(listening, key, connectBeforeRegistering: false);
        using (client)
        {
            // Read before PrepareClient: inherited at accept, not set afterwards.
            Assert.True(NoDelayOf(accepted));
            Assert.Equal(((IPEndPoint)client.LocalEndPoint!).Port, accepted.PrepareClient().Port);
            Assert.True(NoDelayOf(accepted));
            accepted.Close();
        }
    }

    [Fact]
    public async Task A_taken_over_listener_without_NoDelay_still_gives_queued_clients_Nagle_off()
    {
        var key = NextKey();
        using var listening = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listening.Bind(new IPEndPoint(key.Address, key.Port));
        listening.Listen(16);
        Assert.False(listening.NoDelay);

        // The client's handshake completes before the engine sees the socket: it cannot inherit the option.
        var (accepted, client) = await AcceptOneAsync(listening, key, connectBeforeRegistering: true);
        using (client)
        {
            Assert.False(NoDelayOf(accepted));
            accepted.PrepareClient();
            Assert.True(NoDelayOf(accepted));
            Assert.True(listening.NoDelay);
            accepted.Close();
        }
    }

    private static ListenerKey NextKey()
    {
        var address = new IPAddress([127, 133, 1, (byte)(Interlocked.Increment(ref s_next) % 250 + 1)]);
        return new ListenerKey(address, TransportProtocol.Tcp, TestNet.FreePort(address));
    }

    private static async Task<(EpollSocket Accepted, Socket Client)> AcceptOneAsync(Socket listening, ListenerKey key, bool connectBeforeRegistering)
    {
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var target = new IPEndPoint(key.Address, key.Port);
        if (connectBeforeRegistering)
        {
            await client.ConnectAsync(target).WaitAsync(TestNet.Timeout);
        }

        using var stop = new CancellationTokenSource();
        var acceptors = new EpollSocketEngine(ArrayPool<byte>.Shared).CreateAcceptors(listening, stop.Token);
        try
        {
            if (!connectBeforeRegistering)
            {
                await client.ConnectAsync(target).WaitAsync(TestNet.Timeout);
            }

            // Every loop's acceptor may take it (EPOLLEXCLUSIVE wakes one); each tries accept4 before it waits.
            var accepts = acceptors.Select(a => a.AcceptAsync().AsTask()).ToList();
            var first = await Task.WhenAny(accepts).WaitAsync(TestNet.Timeout);
            var accepted = (EpollSocket)await first;
            stop.Cancel();
            foreach (var other in accepts.Where(a => a != first))
            {
                await Assert.ThrowsAnyAsync<OperationCanceledException>(() => other).WaitAsync(TestNet.Timeout);
            }

            return (accepted, client);
        }
        finally
        {
            stop.Cancel();
            foreach (var acceptor in acceptors)
            {
                acceptor.Dispose();
            }
        }
    }

    /// <summary>TCP_NODELAY of the accepted descriptor, read through a Socket that does not own it.</summary>
    private static bool NoDelayOf(EpollSocket socket)
    {
        using var view = new Socket(new SafeSocketHandle(socket.Handle.DangerousGetHandle(), ownsHandle: false));
        return view.NoDelay;
    }
}
