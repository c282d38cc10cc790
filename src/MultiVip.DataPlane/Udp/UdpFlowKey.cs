using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace MultiVip.DataPlane.Udp;

/// <summary>
/// A client's address and port, read straight from the kernel's sockaddr so the per-datagram lookup
/// allocates nothing (an <see cref="IPEndPoint"/> is built only when a session is created).
/// Within one listener destination address, port and protocol are fixed, so this is the 5-tuple.
/// </summary>
internal readonly record struct UdpFlowKey(UInt128 Address, int Port)
{
    /// <summary>sockaddr_in / sockaddr_in6 layout: family (2), port (2, big-endian), then the address at 4 (v4) or 8 (v6).</summary>
    public static UdpFlowKey From(SocketAddress address)
    {
        var bytes = address.Buffer.Span;
        var port = BinaryPrimitives.ReadUInt16BigEndian(bytes.Slice(2, 2));
        UInt128 value = address.Family == AddressFamily.InterNetwork
            ? BinaryPrimitives.ReadUInt32BigEndian(bytes.Slice(4, 4))
            : BinaryPrimitives.ReadUInt128BigEndian(bytes.Slice(8, 16));
        return new UdpFlowKey(value, port);
    }
}
