using System.Net;
using System.Net.Sockets;

namespace MultiVip.TestSupport.Network;

/// <summary>
/// A TCP relay from a loopback address of the test's own namespace into a namespace, so an
/// unmodified HTTP client (MultiVipClient) can reach a server that listens on 127.0.0.1 inside it.
/// Carries only the test's own API calls, never the traffic under test.
/// </summary>
public sealed class NamespaceRelay : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly NetworkNamespace _target;
    private readonly IPEndPoint _remote;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private NamespaceRelay(TcpListener listener, NetworkNamespace target, IPEndPoint remote)
    {
        _listener = listener;
        _target = target;
        _remote = remote;
        _loop = Task.Run(AcceptAsync);
    }

    public IPEndPoint LocalEndPoint => (IPEndPoint)_listener.LocalEndpoint;

    /// <param name="listenOn">A loopback address of the caller's range; port 0 is picked.</param>
    public static NamespaceRelay Start(NetworkNamespace target, IPEndPoint remote, IPAddress listenOn)
    {
        var listener = new TcpListener(listenOn, 0);
        listener.Start();
        return new NamespaceRelay(listener, target, remote);
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket accepted;
            try
            {
                accepted = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }

            _ = Task.Run(() => PipeAsync(accepted));
        }
    }

    private async Task PipeAsync(Socket accepted)
    {
        using (accepted)
        {
            Socket inner;
            try
            {
                inner = await _target.ConnectAsync(_remote, TimeSpan.FromSeconds(10));
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                return;
            }

            using (inner)
            {
                await using var a = new NetworkStream(accepted, ownsSocket: false);
                await using var b = new NetworkStream(inner, ownsSocket: false);
                var up = CopyAsync(a, b, inner);
                var down = CopyAsync(b, a, accepted);
                await Task.WhenAll(up, down);
            }
        }
    }

    private async Task CopyAsync(Stream from, Stream to, Socket toSocket)
    {
        try
        {
            await from.CopyToAsync(to, _stop.Token);
            toSocket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }
}
