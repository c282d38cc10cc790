using System.Net;
using System.Net.Sockets;
using System.Text;

namespace MultiVip.TestSupport.Network;

/// <summary>A TCP backend listening inside a namespace: greets each connection with its name, then echoes lines.</summary>
public sealed class NamespaceEchoBackend : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly string _name;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private NamespaceEchoBackend(Socket listener, string name)
    {
        _listener = listener;
        _name = name;
        _loop = Task.Run(AcceptAsync);
    }

    public static NamespaceEchoBackend Start(NetworkNamespace ns, IPEndPoint endPoint, string name)
    {
        var socket = ns.OpenSocket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(endPoint);
            socket.Listen(128);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new NamespaceEchoBackend(socket, name);
    }

    /// <summary>Connects from <paramref name="ns"/> and returns the greeting line (bounded by 5 s).</summary>
    public static async Task<string> HelloAsync(NetworkNamespace ns, IPEndPoint endPoint)
    {
        using var socket = await ns.ConnectAsync(endPoint, TimeSpan.FromSeconds(5));
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        using var reader = new StreamReader(stream, Encoding.ASCII);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        return await reader.ReadLineAsync(timeout.Token) ?? throw new SocketException((int)SocketError.ConnectionReset);
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }

            _ = Task.Run(async () =>
            {
                using (client)
                {
                    try
                    {
                        await using var stream = new NetworkStream(client, ownsSocket: false);
                        await stream.WriteAsync(Encoding.ASCII.GetBytes(_name + "\n"), _stop.Token);
                        using var reader = new StreamReader(stream, Encoding.ASCII);
                        while (await reader.ReadLineAsync(_stop.Token) is { } line)
                        {
                            await stream.WriteAsync(Encoding.ASCII.GetBytes(line + "\n"), _stop.Token);
                        }
                    }
                    catch (Exception e) when (e is IOException or OperationCanceledException or SocketException)
                    {
                    }
                }
            });
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _loop;
        _stop.Dispose();
    }
}
