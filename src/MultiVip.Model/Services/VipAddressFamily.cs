using System.Net.Sockets;
using System.Text.Json.Serialization;
using MultiVip.Model.Errors;

namespace MultiVip.Model.Services;

/// <summary>The address family of a VIP. IPv4 unless asked otherwise, as in Azure.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<VipAddressFamily>))]
public enum VipAddressFamily
{
    // Spelled as Azure spells them whatever the serializer's naming policy (camelCase would say "iPv4").
    [JsonStringEnumMemberName("IPv4")]
    IPv4,

    [JsonStringEnumMemberName("IPv6")]
    IPv6,
}

public static class VipAddressFamilies
{
    /// <summary>"ipv4" / "IPv6" (any case); null or empty means IPv4.</summary>
    public static VipAddressFamily Parse(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "ipv4" => VipAddressFamily.IPv4,
        "ipv6" => VipAddressFamily.IPv6,
        _ => throw MultiVipException.BadRequest($"'{value}' is not an address family. Use IPv4 or IPv6 (--address-family / -AddressFamily)."),
    };

    public static AddressFamily ToSockets(this VipAddressFamily family) =>
        family == VipAddressFamily.IPv6 ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;

    public static VipAddressFamily FromSockets(AddressFamily family) =>
        family == AddressFamily.InterNetworkV6 ? VipAddressFamily.IPv6 : VipAddressFamily.IPv4;
}
