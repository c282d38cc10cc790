using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Tcp;

/// <summary>
/// PROXY protocol header (haproxy.org/download/2.9/doc/proxy-protocol.txt) that tells the backend
/// the client's address, which it cannot otherwise see behind a user-space proxy.
/// </summary>
internal static class ProxyProtocolHeader
{
    /// <summary>The v2 signature: chosen by the spec so it can never start a valid v1 or HTTP stream.</summary>
    public static ReadOnlySpan<byte> V2Signature => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    public static byte[] Build(ProxyProtocolVersion version, IPEndPoint source, IPEndPoint destination)
    {
        var src = Normalize(source);
        var dst = Normalize(destination);

        // Both ends must be the same family; a v4 client on a v6 listener is sent as v6.
        if (src.AddressFamily != dst.AddressFamily)
        {
            src = new IPEndPoint(src.Address.MapToIPv6(), src.Port);
            dst = new IPEndPoint(dst.Address.MapToIPv6(), dst.Port);
        }

        return version switch
        {
            ProxyProtocolVersion.V1 => BuildV1(src, dst),
            ProxyProtocolVersion.V2 => BuildV2(src, dst),
            _ => [],
        };
    }

    private static byte[] BuildV1(IPEndPoint src, IPEndPoint dst)
    {
        var family = src.AddressFamily == AddressFamily.InterNetwork ? "TCP4" : "TCP6";
        var line = string.Create(
            CultureInfo.InvariantCulture,
            $"PROXY {family} {src.Address} {dst.Address} {src.Port} {dst.Port}\r\n");
        return Encoding.ASCII.GetBytes(line);
    }

    private static byte[] BuildV2(IPEndPoint src, IPEndPoint dst)
    {
        var v4 = src.AddressFamily == AddressFamily.InterNetwork;
        var addressLength = v4 ? 12 : 36;
        var header = new byte[16 + addressLength];
        V2Signature.CopyTo(header);
        header[12] = 0x21; // version 2, command PROXY
        header[13] = v4 ? (byte)0x11 : (byte)0x21; // AF_INET/AF_INET6 over STREAM
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(14), (ushort)addressLength);

        var ipLength = v4 ? 4 : 16;
        src.Address.TryWriteBytes(header.AsSpan(16, ipLength), out _);
        dst.Address.TryWriteBytes(header.AsSpan(16 + ipLength, ipLength), out _);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(16 + (2 * ipLength)), (ushort)src.Port);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(18 + (2 * ipLength)), (ushort)dst.Port);
        return header;
    }

    private static IPEndPoint Normalize(IPEndPoint endPoint) =>
        endPoint.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(endPoint.Address.MapToIPv4(), endPoint.Port) : endPoint;
}
