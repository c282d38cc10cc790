using System.Net;
using System.Net.Sockets;
using System.Text;

namespace MultiVip.Tests.Shared;

/// <summary>
/// A backend: greets each connection with its name, then echoes lines. On loopback (<see cref="Start"/>)
/// or on any new TCP socket (<see cref="Listen"/>: one opened inside a network namespace).
/// </summary>
internal sealed class EchoBackend : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly string _name;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private EchoBackend(Socket listener, string name)
    {
        _listener = listener;
        _name = name;
        _loop = Task.Run(AcceptAsync);
    }

    public static EchoBackend Start(string address, int port, string name)
    {
        var endPoint = new IPEndPoint(IPAddress.Parse(address), port);
        return Listen(new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp), endPoint, name);
    }

    /// <summary>Binds <paramref name="socket"/> (a new TCP socket, which it owns from now on) to <paramref name="endPoint"/> and serves on it.</summary>
    public static EchoBackend Listen(Socket socket, IPEndPoint endPoint, string name)
    {
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

        return new EchoBackend(socket, name);
    }

    /// <summary>Connects, returns the greeting line.</summary>
    public static async Task<string> HelloAsync(string address, int port)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await client.ConnectAsync(IPAddress.Parse(address), port, timeout.Token);
        return await ReadGreetingAsync(client.GetStream(), timeout.Token);
    }

    /// <summary>The first line the backend sent on <paramref name="stream"/>; a closed stream is a reset.</summary>
    public static async Task<string> ReadGreetingAsync(Stream stream, CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(stream, Encoding.ASCII, leaveOpen: true);
        return await reader.ReadLineAsync(cancellationToken) ?? throw new SocketException((int)SocketError.ConnectionReset);
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
