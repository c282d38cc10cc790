using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace MultiVip.Network.Linux;

/// <summary>
/// The Ethernet frames that tell a LAN where an address lives, built byte by byte (pure, so unit
/// tests check them without a network): gratuitous ARP for IPv4 and an unsolicited neighbour
/// advertisement for IPv6. Neighbours that already cache the address update it to our MAC; that is
/// what makes a VIP that appears (or moves to this node) reachable without waiting for caches to expire.
/// </summary>
internal static class AnnouncementFrames
{
    public const ushort EtherTypeArp = 0x0806;
    public const ushort EtherTypeIpv6 = 0x86DD;
    private const int EthernetHeader = 14;
    private static readonly byte[] Broadcast = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

    /// <summary>Destination MAC of each frame, for the packet socket's address.</summary>
    public static byte[] DestinationOf(ReadOnlySpan<byte> frame) => frame[..6].ToArray();

    /// <summary>
    /// Two frames, as MetalLB sends: an ARP request and an ARP reply, both with sender and target
    /// protocol address = the VIP, broadcast. Hosts that ignore one form (some only take replies)
    /// take the other; Linux updates an existing entry from either.
    /// </summary>
    public static IReadOnlyList<byte[]> GratuitousArp(ReadOnlySpan<byte> mac, IPAddress address)
    {
        if (address.AddressFamily != AddressFamily.InterNetwork || mac.Length != 6)
        {
            throw new ArgumentException("gratuitous ARP needs an IPv4 address and a 6-byte MAC");
        }

        Span<byte> ip = stackalloc byte[4];
        address.TryWriteBytes(ip, out _);
        return [Arp(mac, ip, operation: 1), Arp(mac, ip, operation: 2)];
    }

    private static byte[] Arp(ReadOnlySpan<byte> mac, ReadOnlySpan<byte> ip, ushort operation)
    {
        var frame = new byte[EthernetHeader + 28];
        var span = frame.AsSpan();
        Broadcast.CopyTo(span);
        mac.CopyTo(span[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(span[12..], EtherTypeArp);
        var arp = span[EthernetHeader..];
        BinaryPrimitives.WriteUInt16BigEndian(arp, 1);            // hardware: Ethernet
        BinaryPrimitives.WriteUInt16BigEndian(arp[2..], 0x0800);  // protocol: IPv4
        arp[4] = 6;
        arp[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(arp[6..], operation);
        mac.CopyTo(arp[8..]);
        ip.CopyTo(arp[14..]);
        Broadcast.CopyTo(arp[18..]);
        ip.CopyTo(arp[24..]);
        return frame;
    }

    /// <summary>
    /// An unsolicited neighbour advertisement (RFC 4861 7.2.6) to all-nodes ff02::1: Override set,
    /// Solicited clear, the target link-layer address option carrying our MAC, hop limit 255.
    /// </summary>
    public static byte[] UnsolicitedNeighbourAdvertisement(ReadOnlySpan<byte> mac, IPAddress address)
    {
        if (address.AddressFamily != AddressFamily.InterNetworkV6 || mac.Length != 6)
        {
            throw new ArgumentException("a neighbour advertisement needs an IPv6 address and a 6-byte MAC");
        }

        const int icmpLength = 32; // type..checksum, flags, target (16), option (8)
        var frame = new byte[EthernetHeader + 40 + icmpLength];
        var span = frame.AsSpan();
        byte[] allNodesMac = [0x33, 0x33, 0, 0, 0, 1];
        allNodesMac.CopyTo(span);
        mac.CopyTo(span[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(span[12..], EtherTypeIpv6);

        var ip = span[EthernetHeader..];
        ip[0] = 0x60;                                            // version 6, no traffic class or flow label
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], icmpLength);
        ip[6] = 58;                                              // next header: ICMPv6
        ip[7] = 255;                                             // hop limit: receivers drop NDP with any other
        address.TryWriteBytes(ip[8..24], out _);
        IPAddress.Parse("ff02::1").TryWriteBytes(ip[24..40], out _);

        var icmp = ip[40..];
        icmp[0] = 136;                                           // neighbour advertisement
        icmp[4] = 0x20;                                          // R=0 S=0 O=1
        address.TryWriteBytes(icmp[8..24], out _);
        icmp[24] = 2;                                            // option: target link-layer address
        icmp[25] = 1;                                            // length in units of 8 bytes
        mac.CopyTo(icmp[26..]);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Icmpv6Checksum(ip[8..24], ip[24..40], icmp[..icmpLength]));
        return frame;
    }

    /// <summary>The ICMPv6 checksum over the IPv6 pseudo-header and the message (RFC 4443 2.3).</summary>
    internal static ushort Icmpv6Checksum(ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination, ReadOnlySpan<byte> message)
    {
        ulong sum = 0;
        Add(source);
        Add(destination);
        sum += (uint)message.Length;
        sum += 58;
        Add(message);
        while (sum >> 16 != 0)
        {
            sum = (sum & 0xffff) + (sum >> 16);
        }

        return (ushort)~sum;

        void Add(ReadOnlySpan<byte> bytes)
        {
            for (var i = 0; i + 1 < bytes.Length; i += 2)
            {
                sum += BinaryPrimitives.ReadUInt16BigEndian(bytes[i..]);
            }

            if (bytes.Length % 2 == 1)
            {
                sum += (uint)bytes[^1] << 8;
            }
        }
    }
}
