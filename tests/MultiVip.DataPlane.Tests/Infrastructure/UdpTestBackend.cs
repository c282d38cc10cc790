using System.Net;
using System.Net.Sockets;
using System.Text;
using MultiVip.DataPlane.Contract;

namespace MultiVip.DataPlane.Tests.Infrastructure;

/// <summary>
/// A UDP echo server on loopback answering every datagram with "name:payload", plus a TCP listener
/// on another port for the set's probe (Azure probes UDP sets over TCP or HTTP).
/// </summary>
internal sealed class UdpTestBackend : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly Task _loop;

    public UdpTestBackend(string name)
    {
        Name = name;
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        Target = (IPEndPoint)_socket.LocalEndPoint!;
        Probe = new TestBackend(name + "-probe");
        _loop = EchoAsync();
    }

    public string Name { get; }

    public IPEndPoint Target { get; }

    /// <summary>Stop it to make the probe fail; the UDP echo keeps answering (a half-dead VM).</summary>
    public TestBackend Probe { get; }

    public BackendSpec Spec => new(Name, "ep-" + Name, Target) { ProbeTarget = Probe.Target };

    public async ValueTask DisposeAsync()
    {
        _socket.Dispose();
        await Probe.DisposeAsync();
        try
        {
            await _loop;
        }
        catch (Exception)
        {
        }
    }

    private async Task EchoAsync()
    {
        var buffer = new byte[65536];
        var from = new SocketAddress(AddressFamily.InterNetwork);
        while (true)
        {
            int read;
            try
            {
                read = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, from);
            }
            catch (Exception)
            {
                return;
            }

            var reply = Encoding.ASCII.GetBytes($"{Name}:{Encoding.ASCII.GetString(buffer, 0, read)}");
            await _socket.SendToAsync(reply, SocketFlags.None, from);
        }
    }
}

/// <summary>A UDP client socket with bounded waits.</summary>
internal sealed class UdpTestClient : IDisposable
{
    private readonly Socket _socket;

    public UdpTestClient(IPAddress? source = null)
    {
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        _socket.Bind(new IPEndPoint(source ?? IPAddress.Loopback, 0));
    }

    public IPEndPoint Local => (IPEndPoint)_socket.LocalEndPoint!;

    /// <summary>Sends <paramref name="text"/> and returns the reply and the address it came from.</summary>
    public async Task<(string Backend, IPEndPoint From)> AskAsync(IPEndPoint target, string text)
    {
        await _socket.SendToAsync(Encoding.ASCII.GetBytes(text), SocketFlags.None, target).WaitAsync(TestNet.Timeout);
        var buffer = new byte[65536];
        var result = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0)).WaitAsync(TestNet.Timeout);
        var reply = Encoding.ASCII.GetString(buffer, 0, result.ReceivedBytes);
        var colon = reply.IndexOf(':', StringComparison.Ordinal);
        Assert.True(colon > 0, $"unexpected reply '{reply}'");
        Assert.Equal(text, reply[(colon + 1)..]);
        return (reply[..colon], (IPEndPoint)result.RemoteEndPoint);
    }

    public async Task SendAsync(IPEndPoint target, string text) =>
        await _socket.SendToAsync(Encoding.ASCII.GetBytes(text), SocketFlags.None, target).WaitAsync(TestNet.Timeout);

    public void Dispose() => _socket.Dispose();
}
