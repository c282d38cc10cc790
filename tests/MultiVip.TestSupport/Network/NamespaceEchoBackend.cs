using System.Net;
using System.Net.Sockets;
using MultiVip.Tests.Shared;

namespace MultiVip.TestSupport.Network;

/// <summary>
/// A TCP backend listening inside a namespace: greets each connection with its name, then echoes
/// lines. The serving is <see cref="EchoBackend"/>'s; only the socket comes from the namespace.
/// </summary>
public sealed class NamespaceEchoBackend : IAsyncDisposable
{
    private readonly EchoBackend _backend;

    private NamespaceEchoBackend(EchoBackend backend) => _backend = backend;

    public static NamespaceEchoBackend Start(NetworkNamespace ns, IPEndPoint endPoint, string name) =>
        new(EchoBackend.Listen(ns.OpenSocket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp), endPoint, name));

    /// <summary>Connects from <paramref name="ns"/> and returns the greeting line (bounded by 5 s).</summary>
    public static async Task<string> HelloAsync(NetworkNamespace ns, IPEndPoint endPoint)
    {
        using var socket = await ns.ConnectAsync(endPoint, TimeSpan.FromSeconds(5));
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        return await EchoBackend.ReadGreetingAsync(stream, timeout.Token);
    }

    public ValueTask DisposeAsync() => _backend.DisposeAsync();
}
