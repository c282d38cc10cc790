using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using MultiVip.Model.Errors;

namespace MultiVip.Model.Networking;

/// <summary>An IPv4 CIDR block, e.g. 10.0.0.0/8. Addresses are held as host-order integers.</summary>
public readonly record struct Ipv4Subnet(uint Network, int PrefixLength)
{
    public uint Mask => PrefixLength == 0 ? 0u : uint.MaxValue << (32 - PrefixLength);

    public uint First => Network;

    public uint Last => Network | ~Mask;

    public bool Contains(uint address) => (address & Mask) == Network;

    public bool Contains(IPAddress address) =>
        Ipv4.TryToUInt32(address, out var value) && Contains(value);

    public override string ToString() => $"{Ipv4.ToAddress(Network)}/{PrefixLength}";

    /// <summary>Parses "a.b.c.d/n" (a bare address means /32). Host bits must be zero, as Azure requires.</summary>
    public static bool TryParse(string? text, out Ipv4Subnet subnet)
    {
        subnet = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var span = text.AsSpan().Trim();
        var slash = span.IndexOf('/');
        var addressPart = slash < 0 ? span : span[..slash];
        var prefix = 32;
        if (slash >= 0)
        {
            var prefixPart = span[(slash + 1)..];
            if (prefixPart.Length is 0 or > 2 || !int.TryParse(prefixPart, System.Globalization.NumberStyles.None, null, out prefix) || prefix > 32)
            {
                return false;
            }
        }

        if (!Ipv4.TryParseStrict(addressPart, out var network))
        {
            return false;
        }

        var candidate = new Ipv4Subnet(network, prefix);
        if ((network & candidate.Mask) != network)
        {
            return false;
        }

        subnet = candidate;
        return true;
    }

    public static Ipv4Subnet Parse(string text) =>
        TryParse(text, out var subnet) ? subnet : throw MultiVipException.BadRequest(Messages.InvalidCidr(text));
}

/// <summary>Small helpers for IPv4 addresses as integers.</summary>
public static class Ipv4
{
    /// <summary>
    /// Dotted quad only: rejects the shorthand forms IPAddress.Parse accepts ("10.1", "1") and octets
    /// with a leading zero, which IPAddress.Parse reads as octal ("010.0.0.1" would be 8.0.0.1).
    /// </summary>
    public static bool TryParseStrict(ReadOnlySpan<char> text, out uint value)
    {
        value = 0;
        var dots = 0;
        var octetStart = 0;
        for (var i = 0; i <= text.Length; i++)
        {
            if (i == text.Length || text[i] == '.')
            {
                var octet = text[octetStart..i];
                if (octet.Length == 0 || (octet.Length > 1 && octet[0] == '0'))
                {
                    return false;
                }

                dots += i < text.Length ? 1 : 0;
                octetStart = i + 1;
            }
            else if (text[i] is < '0' or > '9')
            {
                return false;
            }
        }

        if (dots != 3 || !IPAddress.TryParse(text, out var address) || address.AddressFamily != AddressFamily.InterNetwork)
        {
            return false;
        }

        return TryToUInt32(address, out value);
    }

    public static bool TryToUInt32(IPAddress address, out uint value)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetwork)
        {
            value = 0;
            return false;
        }

        Span<byte> bytes = stackalloc byte[4];
        address.TryWriteBytes(bytes, out _);
        value = BinaryPrimitives.ReadUInt32BigEndian(bytes);
        return true;
    }

    public static IPAddress ToAddress(uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return new IPAddress(bytes);
    }

    public static string ToText(uint value) => ToAddress(value).ToString();
}
