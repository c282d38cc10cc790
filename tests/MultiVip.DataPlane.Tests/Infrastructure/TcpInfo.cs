using System.Buffers.Binary;
using System.Net.Sockets;

namespace MultiVip.DataPlane.Tests.Infrastructure;

/// <summary>
/// Fields of a real socket's struct tcp_info (linux/tcp.h), read with getsockopt(TCP_INFO): what the kernel
/// itself counted on the connection, for tests that check segments on the wire.
/// </summary>
internal static class TcpInfo
{
    private const int Option = 11;

    /// <summary>tcpi_segs_in: segments this socket received, handshake included (an accepted socket counts the one that completed it).</summary>
    public static uint SegmentsIn(Socket socket) => BinaryPrimitives.ReadUInt32LittleEndian(Read(socket).AsSpan(140));

    /// <summary>tcpi_unacked: segments sent that the peer has not acknowledged yet.</summary>
    public static uint Unacknowledged(Socket socket) => BinaryPrimitives.ReadUInt32LittleEndian(Read(socket).AsSpan(24));

    private static byte[] Read(Socket socket)
    {
        var info = new byte[232];
        var length = socket.GetRawSocketOption((int)SocketOptionLevel.Tcp, Option, info);
        Assert.True(length >= 144, $"tcp_info is {length} bytes: this kernel does not report tcpi_segs_in (Linux 4.2 or later does)");
        return info;
    }
}
