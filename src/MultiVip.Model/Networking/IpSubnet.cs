using System.Globalization;
using System.Net.Sockets;
using MultiVip.Model.Errors;

namespace MultiVip.Model.Networking;

/// <summary>A CIDR block of either family, e.g. 10.0.0.0/8 or 2001:db8::/32. Host bits are zero, as Azure requires.</summary>
public readonly record struct IpSubnet(IpNumber Network, int PrefixLength)
{
    public AddressFamily Family => Network.Family;

    public UInt128 Mask => PrefixLength == 0 ? UInt128.Zero : (Network.MaxValue << (Network.Bits - PrefixLength)) & Network.MaxValue;

    public IpNumber First => Network;

    public IpNumber Last => Network with { Value = Network.Value | (~Mask & Network.MaxValue) };

    /// <summary>Addresses in the block (2^(bits-prefix)); saturates at UInt128.MaxValue for ::/0.</summary>
    public UInt128 Count => Network.Bits - PrefixLength >= 128 ? UInt128.MaxValue : UInt128.One << (Network.Bits - PrefixLength);

    public bool Contains(IpNumber address) => address.Family == Network.Family && (address.Value & Mask) == Network.Value;

    public bool Contains(System.Net.IPAddress address) => Contains(IpNumber.From(address));

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Network}/{PrefixLength}");

    /// <summary>Parses "address/prefix" of either family; a bare address is a host route (/32 or /128).</summary>
    public static bool TryParse(string? text, out IpSubnet subnet)
    {
        subnet = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var span = text.AsSpan().Trim();
        var slash = span.IndexOf('/');
        if (!IpNumber.TryParse(slash < 0 ? span : span[..slash], out var network))
        {
            return false;
        }

        var prefix = network.Bits;
        if (slash >= 0)
        {
            var prefixPart = span[(slash + 1)..];
            if (prefixPart.Length is 0 or > 3 || !int.TryParse(prefixPart, NumberStyles.None, CultureInfo.InvariantCulture, out prefix) || prefix > network.Bits)
            {
                return false;
            }
        }

        var candidate = new IpSubnet(network, prefix);
        if ((network.Value & candidate.Mask) != network.Value)
        {
            return false;
        }

        subnet = candidate;
        return true;
    }

    public static IpSubnet Parse(string text) =>
        TryParse(text, out var subnet) ? subnet : throw MultiVipException.BadRequest(Messages.InvalidCidr(text));
}
