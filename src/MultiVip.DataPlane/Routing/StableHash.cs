using System.Net;
using System.Text;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Routing;

/// <summary>
/// A fixed, seedable 64-bit hash (FNV-1a over the bytes, then the murmur3 finalizer for avalanche).
/// Not <see cref="HashCode"/>: that one is randomized per process, and a flow must pick the same
/// member after a restart and on every node that carries the VIP.
/// </summary>
internal static class StableHash
{
    private const ulong FnvOffset = 14695981039346656037UL;
    private const ulong FnvPrime = 1099511628211UL;

    public static ulong Hash(ReadOnlySpan<byte> data, ulong seed = 0)
    {
        var h = FnvOffset ^ seed;
        foreach (var b in data)
        {
            h = (h ^ b) * FnvPrime;
        }

        return Mix(h);
    }

    public static ulong Hash(string text, ulong seed)
    {
        Span<byte> buffer = stackalloc byte[256];
        var bytes = Encoding.UTF8.GetByteCount(text) <= buffer.Length
            ? buffer[..Encoding.UTF8.GetBytes(text, buffer)]
            : Encoding.UTF8.GetBytes(text);
        return Hash(bytes, seed);
    }

    /// <summary>murmur3 fmix64: FNV alone leaves the low bits weak, and the table index uses them.</summary>
    public static ulong Mix(ulong h)
    {
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdUL;
        h ^= h >> 33;
        h *= 0xc4ceb9fe1a85ec53UL;
        h ^= h >> 33;
        return h;
    }

    /// <summary>
    /// The flow key Azure's distribution modes name: none = 5-tuple, SourceIP = 2-tuple,
    /// SourceIPProtocol = 3-tuple. IPv4-mapped IPv6 addresses hash as IPv4 so a dual-stack socket
    /// and an IPv4 socket agree.
    /// </summary>
    public static ulong HashFlow(
        LoadBalancerDistribution distribution,
        IPEndPoint source,
        IPEndPoint destination,
        TransportProtocol protocol)
    {
        Span<byte> key = stackalloc byte[40];
        var length = WriteAddress(source.Address, key);
        length += WriteAddress(destination.Address, key[length..]);
        if (distribution != LoadBalancerDistribution.SourceIP)
        {
            key[length++] = protocol == TransportProtocol.Tcp ? (byte)6 : (byte)17;
        }

        if (distribution == LoadBalancerDistribution.None)
        {
            key[length++] = (byte)(source.Port >> 8);
            key[length++] = (byte)source.Port;
            key[length++] = (byte)(destination.Port >> 8);
            key[length++] = (byte)destination.Port;
        }

        return Hash(key[..length]);
    }

    private static int WriteAddress(IPAddress address, Span<byte> destination)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        address.TryWriteBytes(destination, out var written);
        return written;
    }
}
