using System.Net;
using System.Net.Sockets;
using System.Text;
using MultiVip.DataPlane.Contract;
using MultiVip.Model.Networking;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Tests.Infrastructure;

/// <summary>Loopback addresses, ports, specs and client helpers shared by the socket tests.</summary>
internal static class TestNet
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    // A random third octet per test run keeps parallel runs (other worktrees) off each other's VIPs.
    private static readonly int s_octet = Random.Shared.Next(0, 250);
    private static int s_next;

    /// <summary>A VIP address unique in this process: 127.100.x.y, all routed to lo on Linux.</summary>
    public static IPAddress NextVip()
    {
        var n = Interlocked.Increment(ref s_next);
        return new IPAddress([127, 100, (byte)((s_octet + (n / 250)) % 256), (byte)((n % 250) + 1)]);
    }

    /// <summary>A port free on <paramref name="address"/> right now (bind :0 and read it back).</summary>
    public static int FreePort(IPAddress address)
    {
        using var probe = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(address, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    public static ListenerKey NextKey()
    {
        var vip = NextVip();
        return new ListenerKey(vip, TransportProtocol.Tcp, FreePort(vip));
    }

    public static ListenerSpec Spec(ListenerKey key, params TestBackend[] backends) => new()
    {
        Key = key,
        ServiceName = "svc",
        VirtualIpName = "Vip1",
        LoadBalancedSetName = backends.Length > 1 ? "set1" : null,
        Backends = [.. backends.Select(b => b.Spec)],
    };

    public static LoadBalancerProbe TcpProbe(int threshold = 2) => new()
    {
        Protocol = ProbeProtocol.Tcp,
        IntervalInSeconds = 5,
        TimeoutInSeconds = 5 * threshold,
    };

    public static AclRule Rule(int order, AclAction action, string subnet) => new() { Order = order, Action = action, RemoteSubnet = subnet };

    public static async Task<Socket> ConnectAsync(IPEndPoint target, IPAddress? source = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (source is not null)
        {
            socket.Bind(new IPEndPoint(source, 0));
        }

        await socket.ConnectAsync(target).WaitAsync(Timeout);
        return socket;
    }

    public static Task<Socket> ConnectAsync(ListenerKey key, IPAddress? source = null) =>
        ConnectAsync(new IPEndPoint(key.Address, key.Port), source);

    public static async Task SendAsync(Socket socket, string text) =>
        await socket.SendAsync(Encoding.ASCII.GetBytes(text), SocketFlags.None).WaitAsync(Timeout);

    /// <summary>Reads one '\n'-terminated line (without the terminator).</summary>
    public static async Task<string> ReadLineAsync(Socket socket)
    {
        var bytes = new List<byte>();
        var one = new byte[1];
        while (true)
        {
            var read = await socket.ReceiveAsync(one, SocketFlags.None).WaitAsync(Timeout);
            if (read == 0)
            {
                throw new EndOfStreamException($"connection closed after '{Encoding.ASCII.GetString([.. bytes])}'");
            }

            if (one[0] == '\n')
            {
                return Encoding.ASCII.GetString([.. bytes]);
            }

            bytes.Add(one[0]);
        }
    }

    public static async Task<string> ReadToEndAsync(Socket socket)
    {
        var result = new MemoryStream();
        var buffer = new byte[4096];
        while (true)
        {
            var read = await socket.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(Timeout);
            if (read == 0)
            {
                return Encoding.ASCII.GetString(result.ToArray());
            }

            result.Write(buffer, 0, read);
        }
    }

    /// <summary>Sends a line and expects the echo backend's "name:line" answer; returns the backend name.</summary>
    public static async Task<string> RoundTripAsync(Socket socket, string line)
    {
        await SendAsync(socket, line + "\n");
        var reply = await ReadLineAsync(socket);
        var colon = reply.IndexOf(':', StringComparison.Ordinal);
        Assert.True(colon > 0, $"unexpected reply '{reply}'");
        Assert.Equal(line, reply[(colon + 1)..]);
        return reply[..colon];
    }

    /// <summary>Connects through the VIP and returns which backend answered.</summary>
    public static async Task<string> WhichBackendAsync(ListenerKey key, IPAddress? source = null)
    {
        using var socket = await ConnectAsync(key, source);
        return await RoundTripAsync(socket, "who");
    }

    /// <summary>The connection must end with a reset (RST), not a clean FIN.</summary>
    public static async Task AssertResetAsync(Socket socket)
    {
        var buffer = new byte[64];
        var ex = await Assert.ThrowsAsync<SocketException>(async () =>
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(Timeout) > 0)
            {
            }
        });
        Assert.Equal(SocketError.ConnectionReset, ex.SocketErrorCode);
    }

    /// <summary>
    /// A new connection must be accepted and reset at once. On loopback the RST can arrive before
    /// connect() even reports success, so a reset during connect counts too.
    /// </summary>
    public static async Task AssertConnectionResetAsync(ListenerKey key, IPAddress? source = null)
    {
        Socket socket;
        try
        {
            socket = await ConnectAsync(key, source);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
            return;
        }

        using (socket)
        {
            await AssertResetAsync(socket);
        }
    }

    /// <summary>The connection must end, by FIN or RST.</summary>
    public static async Task AssertClosedAsync(Socket socket)
    {
        var buffer = new byte[64];
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(Timeout) > 0)
            {
            }
        }
        catch (SocketException)
        {
        }
    }
}
