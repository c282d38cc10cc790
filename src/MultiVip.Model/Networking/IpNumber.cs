using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace MultiVip.Model.Networking;

/// <summary>
/// An IPv4 or IPv6 address as a number, for range arithmetic that works the same for both families
/// (pools, ACL subnets, allocation). IPv4 addresses are 32-bit values, IPv6 ones 128-bit; an
/// IPv4-mapped IPv6 address (::ffff:a.b.c.d, what a dual-stack socket reports) counts as IPv4.
/// Values of different families never compare equal; ordering is by family, then value.
/// </summary>
public readonly record struct IpNumber(AddressFamily Family, UInt128 Value) : IComparable<IpNumber>
{
    public int Bits => Family == AddressFamily.InterNetwork ? 32 : 128;

    /// <summary>The largest value of this family (255.255.255.255 or ffff:…:ffff).</summary>
    public UInt128 MaxValue => Family == AddressFamily.InterNetwork ? uint.MaxValue : UInt128.MaxValue;

    public bool IsIpv6 => Family == AddressFamily.InterNetworkV6;

    /// <summary>An IPv4 address given as its 32-bit value (host order).</summary>
    public static implicit operator IpNumber(uint ipv4) => new(AddressFamily.InterNetwork, ipv4);

    public static IpNumber operator +(IpNumber a, UInt128 offset) => a with { Value = a.Value + offset };

    public static IpNumber operator -(IpNumber a, UInt128 offset) => a with { Value = a.Value - offset };

    public static bool operator <(IpNumber a, IpNumber b) => a.CompareTo(b) < 0;

    public static bool operator >(IpNumber a, IpNumber b) => a.CompareTo(b) > 0;

    public static bool operator <=(IpNumber a, IpNumber b) => a.CompareTo(b) <= 0;

    public static bool operator >=(IpNumber a, IpNumber b) => a.CompareTo(b) >= 0;

    public int CompareTo(IpNumber other) =>
        Family != other.Family ? Family.CompareTo(other.Family) : Value.CompareTo(other.Value);

    public static IpNumber From(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var written);
        return address.AddressFamily == AddressFamily.InterNetwork
            ? new IpNumber(AddressFamily.InterNetwork, BinaryPrimitives.ReadUInt32BigEndian(bytes))
            : new IpNumber(AddressFamily.InterNetworkV6, BinaryPrimitives.ReadUInt128BigEndian(bytes[..written]));
    }

    public IPAddress ToAddress()
    {
        if (Family == AddressFamily.InterNetwork)
        {
            return Ipv4.ToAddress((uint)Value);
        }

        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, Value);
        return new IPAddress(bytes);
    }

    public override string ToString() => ToAddress().ToString();

    /// <summary>
    /// An IPv4 dotted quad (strictly: no shorthand, no octal-looking octets; see <see cref="Ipv4.TryParseStrict"/>)
    /// or an IPv6 literal without a zone (%eth0) — the forms an operator writes in a pool, a subnet or a VM address.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> text, out IpNumber value)
    {
        value = default;
        text = text.Trim();
        if (Ipv4.TryParseStrict(text, out var v4))
        {
            value = v4;
            return true;
        }

        if (text.Contains(':') && !text.Contains('%') && IPAddress.TryParse(text, out var parsed) && parsed.AddressFamily == AddressFamily.InterNetworkV6)
        {
            value = From(parsed);
            return value.IsIpv6; // ::ffff:a.b.c.d written as IPv6 is taken as the IPv4 it maps
        }

        return false;
    }
}
