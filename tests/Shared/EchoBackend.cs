using System.Net;
using System.Net.Sockets;
using System.Text;

namespace MultiVip.Tests.Shared;

/// <summary>A backend: greets each connection with its name, then echoes lines.</summary>
internal sealed class EchoBackend : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly string _name;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private EchoBackend(TcpListener listener, string name)
    {
        _listener = listener;
        _name = name;
        _loop = Task.Run(AcceptAsync);
    }

    public static EchoBackend Start(string address, int port, string name)
    {
        var listener = new TcpListener(IPAddress.Parse(address), port);
        listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Start();
        return new EchoBackend(listener, name);
    }

    /// <summary>Connects, returns the greeting line.</summary>
    public static async Task<string> HelloAsync(string address, int port)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await client.ConnectAsync(IPAddress.Parse(address), port, timeout.Token);
        using var reader = new StreamReader(client.GetStream(), Encoding.ASCII);
        var line = await reader.ReadLineAsync(timeout.Token);
        return line ?? throw new SocketException((int)SocketError.ConnectionReset);
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
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
                        var stream = client.GetStream();
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
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }
}
