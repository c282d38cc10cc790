using System.Net;
using System.Net.Sockets;
using System.Text;
using MultiVip.DataPlane.Contract;

namespace MultiVip.DataPlane.Tests.Infrastructure;

/// <summary>
/// An in-test TCP server on loopback. By default it answers every line with "name:line", so a client
/// learns which backend it reached; tests can supply their own per-connection handler.
/// </summary>
internal sealed class TestBackend : IAsyncDisposable
{
    private readonly Func<Socket, TestBackend, Task> _handler;
    private readonly List<Socket> _accepted = [];
    private Socket? _listener;
    private Task _acceptLoop = Task.CompletedTask;
    private int _connections;

    public TestBackend(string name, Func<Socket, TestBackend, Task>? handler = null, IPAddress? address = null)
    {
        Name = name;
        _handler = handler ?? EchoWithName;
        var bindTo = address ?? IPAddress.Loopback;
        Target = new IPEndPoint(bindTo, TestNet.FreePort(bindTo));
        Start();
    }

    public string Name { get; }

    public IPEndPoint Target { get; }

    public int Connections => Volatile.Read(ref _connections);

    public BackendSpec Spec => new(Name, "ep-" + Name, Target) { ProbeTarget = Target };

    /// <summary>Stops listening (connects are refused) and resets accepted connections.</summary>
    public void Stop()
    {
        _listener?.Dispose();
        _listener = null;
        lock (_accepted)
        {
            foreach (var socket in _accepted)
            {
                socket.Dispose();
            }

            _accepted.Clear();
        }
    }

    /// <summary>Listens again on the same address and port.</summary>
    public void Start()
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Bind(Target);
        listener.Listen(128);
        _listener = listener;
        _acceptLoop = AcceptLoopAsync(listener);
    }

    public async ValueTask DisposeAsync()
    {
        Stop();
        try
        {
            await _acceptLoop;
        }
        catch (Exception)
        {
        }
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync();
            }
            catch (Exception)
            {
                return;
            }

            Interlocked.Increment(ref _connections);
            lock (_accepted)
            {
                _accepted.Add(socket);
            }

            _ = RunHandlerAsync(socket);
        }
    }

    private async Task RunHandlerAsync(Socket socket)
    {
        try
        {
            await _handler(socket, this);
        }
        catch (Exception)
        {
            // Tests observe failures through their own handlers.
        }
        finally
        {
            socket.Dispose();
        }
    }

    private static async Task EchoWithName(Socket socket, TestBackend backend)
    {
        var buffer = new byte[4096];
        var pending = new StringBuilder();
        while (true)
        {
            var read = await socket.ReceiveAsync(buffer, SocketFlags.None);
            if (read == 0)
            {
                socket.Shutdown(SocketShutdown.Send);
                return;
            }

            pending.Append(Encoding.ASCII.GetString(buffer, 0, read));
            var text = pending.ToString();
            int newline;
            while ((newline = text.IndexOf('\n', StringComparison.Ordinal)) >= 0)
            {
                var line = text[..newline];
                text = text[(newline + 1)..];
                await socket.SendAsync(Encoding.ASCII.GetBytes($"{backend.Name}:{line}\n"), SocketFlags.None);
            }

            pending.Clear().Append(text);
        }
    }
}
