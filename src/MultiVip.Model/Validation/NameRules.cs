using System.Net;
using System.Net.Sockets;
using MultiVip.Model.Errors;

namespace MultiVip.Model.Validation;

/// <summary>Names and addresses users type.</summary>
public static class NameRules
{
    /// <summary>
    /// A cloud service name is a DNS label (it becomes &lt;name&gt;.&lt;zone&gt;): 1-63 letters,
    /// digits and hyphens, starting with a letter and not ending with a hyphen.
    /// </summary>
    public static void ServiceName(string? name)
    {
        const string rule = "use 1 to 63 letters, digits and hyphens, start with a letter and end with a letter or digit.";
        if (string.IsNullOrEmpty(name))
        {
            throw MultiVipException.BadRequest(Messages.Required("The cloud service name (ServiceName)"));
        }

        if (name.Length > 63 || !char.IsAsciiLetter(name[0]) || name[^1] == '-' || !name.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
        {
            throw MultiVipException.BadRequest(Messages.Name("cloud service", name, rule));
        }
    }

    /// <summary>VM, VIP, endpoint, LB set and reserved IP names: 1-64 of [A-Za-z0-9._-], starting with a letter or digit.</summary>
    public static void ResourceName(string kind, string? name)
    {
        const string rule = "use 1 to 64 letters, digits, '.', '_' and '-', starting with a letter or digit.";
        if (string.IsNullOrEmpty(name))
        {
            throw MultiVipException.BadRequest(Messages.Required($"The {kind} name"));
        }

        if (name.Length > 64 || !char.IsAsciiLetterOrDigit(name[0]) || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
        {
            throw MultiVipException.BadRequest(Messages.Name(kind, name, rule));
        }
    }

    /// <summary>A VM's internal address: an IPv4 dotted quad or an IPv6 literal; returns the canonical text.</summary>
    public static string VmAddress(string? address)
    {
        if (string.IsNullOrWhiteSpace(address))
        {
            throw MultiVipException.BadRequest(Messages.Required("The VM's internal address (--address / -IPAddress)"));
        }

        var text = address.Trim();
        if (Networking.Ipv4.TryParseStrict(text, out var v4))
        {
            return Networking.Ipv4.ToText(v4);
        }

        if (text.Contains(':', StringComparison.Ordinal) && IPAddress.TryParse(text, out var parsed) && parsed.AddressFamily == AddressFamily.InterNetworkV6)
        {
            return parsed.ToString();
        }

        throw MultiVipException.BadRequest(Messages.InvalidAddress(address));
    }

    /// <summary>Free text (labels, descriptions): bounded, no control characters.</summary>
    public static void Text(string what, string? value, int max = 256)
    {
        if (value is null)
        {
            return;
        }

        if (value.Length > max)
        {
            throw MultiVipException.BadRequest($"The {what} can be at most {max} characters long (got {value.Length}).");
        }

        if (value.Any(char.IsControl))
        {
            throw MultiVipException.BadRequest($"The {what} must not contain control characters (such as newlines or tabs).");
        }
    }
}
