using System.Buffers.Binary;
using System.Net;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Routing;

/// <summary>
/// The flow → Maglev slot function both planes use, so a flow picks the same member whether the
/// user-space plane or the kernel (nftables) plane carries its listener, on any node: exactly what
/// nftables computes for <c>jhash ip saddr . ip daddr . meta l4proto . th sport . th dport mod SIZE seed SEED</c>
/// — the kernel's byte-wise jhash (Bob Jenkins' lookup3) over the concatenation as it sits in
/// nftables registers (each field big-endian, padded with zeros to 4 bytes), scaled onto the table
/// with reciprocal_scale ((h × size) &gt;&gt; 32), not a modulo. Fields follow Azure's distribution modes:
/// none = 5-tuple, SourceIPProtocol = 3-tuple, SourceIP = 2-tuple.
/// </summary>
internal static class KernelFlowHash
{
    /// <summary>"MVIP": fixed, so every node and every restart agree (nft's jhash seed).</summary>
    public const uint Seed = 0x4d564950;

    private const uint InitialValue = 0xdeadbeef;

    public static int Slot(LoadBalancerDistribution distribution, IPEndPoint source, IPEndPoint destination, TransportProtocol protocol, int size)
    {
        Span<byte> key = stackalloc byte[44];
        var length = WriteKey(distribution, source, destination, protocol, key);
        return Scale(JHash(key[..length], Seed), size);
    }

    /// <summary>reciprocal_scale: what nft_hash does with "mod N".</summary>
    public static int Scale(uint hash, int size) => (int)(((ulong)hash * (uint)size) >> 32);

    /// <summary>The register image nftables hashes (see the class comment).</summary>
    public static int WriteKey(LoadBalancerDistribution distribution, IPEndPoint source, IPEndPoint destination, TransportProtocol protocol, Span<byte> key)
    {
        key.Clear();
        var length = WriteAddress(source.Address, key);
        length += WriteAddress(destination.Address, key[length..]);
        if (distribution == LoadBalancerDistribution.SourceIP)
        {
            return length;
        }

        key[length] = protocol == TransportProtocol.Tcp ? (byte)6 : (byte)17;
        length += 4;
        if (distribution == LoadBalancerDistribution.None)
        {
            BinaryPrimitives.WriteUInt16BigEndian(key[length..], (ushort)source.Port);
            BinaryPrimitives.WriteUInt16BigEndian(key[(length + 4)..], (ushort)destination.Port);
            length += 8;
        }

        return length;
    }

    /// <summary>The kernel's jhash() (include/linux/jhash.h): words read in CPU order, which is little-endian on every platform .NET runs Linux on.</summary>
    public static uint JHash(ReadOnlySpan<byte> key, uint initialValue)
    {
        uint a, b, c;
        a = b = c = InitialValue + (uint)key.Length + initialValue;
        while (key.Length > 12)
        {
            a += BinaryPrimitives.ReadUInt32LittleEndian(key);
            b += BinaryPrimitives.ReadUInt32LittleEndian(key[4..]);
            c += BinaryPrimitives.ReadUInt32LittleEndian(key[8..]);
            Mix(ref a, ref b, ref c);
            key = key[12..];
        }

        if (key.IsEmpty)
        {
            return c;
        }

        Span<byte> tail = stackalloc byte[12];
        tail.Clear();
        key.CopyTo(tail);
        a += BinaryPrimitives.ReadUInt32LittleEndian(tail);
        b += BinaryPrimitives.ReadUInt32LittleEndian(tail[4..]);
        c += BinaryPrimitives.ReadUInt32LittleEndian(tail[8..]);
        Final(ref a, ref b, ref c);
        return c;
    }

    private static void Mix(ref uint a, ref uint b, ref uint c)
    {
        a -= c; a ^= uint.RotateLeft(c, 4); c += b;
        b -= a; b ^= uint.RotateLeft(a, 6); a += c;
        c -= b; c ^= uint.RotateLeft(b, 8); b += a;
        a -= c; a ^= uint.RotateLeft(c, 16); c += b;
        b -= a; b ^= uint.RotateLeft(a, 19); a += c;
        c -= b; c ^= uint.RotateLeft(b, 4); b += a;
    }

    private static void Final(ref uint a, ref uint b, ref uint c)
    {
        c ^= b; c -= uint.RotateLeft(b, 14);
        a ^= c; a -= uint.RotateLeft(c, 11);
        b ^= a; b -= uint.RotateLeft(a, 25);
        c ^= b; c -= uint.RotateLeft(b, 16);
        a ^= c; a -= uint.RotateLeft(c, 4);
        b ^= a; b -= uint.RotateLeft(a, 14);
        c ^= b; c -= uint.RotateLeft(b, 24);
    }

    private static int WriteAddress(IPAddress address, Span<byte> destination)
    {
        // A dual-stack socket sees IPv4 clients as ::ffff:a.b.c.d; the kernel hashes them as IPv4.
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        address.TryWriteBytes(destination, out var written);
        return written;
    }
}
