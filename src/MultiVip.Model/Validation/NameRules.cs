using System.Net;
using System.Net.Sockets;
using MultiVip.Model.Errors;

namespace MultiVip.Model.Validation;

/// <summary>
/// Names and addresses users type. Each rule adds its problem to a <see cref="Violations"/>; the
/// overloads without one throw it, for callers that check a single value.
/// </summary>
public static class NameRules
{
    /// <summary>
    /// A cloud service name is a DNS label (it becomes &lt;name&gt;.&lt;zone&gt;): 1-63 letters,
    /// digits and hyphens, starting with a letter and not ending with a hyphen.
    /// </summary>
    public static void ServiceName(string? name) => Violations.Throw(v => ServiceName(name, v));

    public static void ServiceName(string? name, Violations violations)
    {
        const string rule = "use 1 to 63 letters, digits and hyphens, start with a letter and end with a letter or digit.";
        if (string.IsNullOrEmpty(name))
        {
            violations.BadRequest(Messages.Required("The cloud service name (ServiceName)"));
        }
        else if (name.Length > 63 || !char.IsAsciiLetter(name[0]) || name[^1] == '-' || !name.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
        {
            violations.BadRequest(Messages.Name("cloud service", name, rule));
        }
    }

    /// <summary>VM, VIP, endpoint, LB set and reserved IP names: 1-64 of [A-Za-z0-9._-], starting with a letter or digit.</summary>
    public static void ResourceName(string kind, string? name) => Violations.Throw(v => ResourceName(kind, name, v));

    public static void ResourceName(string kind, string? name, Violations violations)
    {
        const string rule = "use 1 to 64 letters, digits, '.', '_' and '-', starting with a letter or digit.";
        if (string.IsNullOrEmpty(name))
        {
            violations.BadRequest(Messages.Required($"The {kind} name"));
        }
        else if (name.Length > 64 || !char.IsAsciiLetterOrDigit(name[0]) || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
        {
            violations.BadRequest(Messages.Name(kind, name, rule));
        }
    }

    /// <summary>A VM's internal address: an IPv4 dotted quad or an IPv6 literal; returns the canonical text.</summary>
    public static string VmAddress(string? address)
    {
        var violations = new Violations();
        var canonical = VmAddress(address, violations);
        violations.ThrowIfAny();
        return canonical!;
    }

    /// <summary>The canonical text of a VM's internal address, or null (and the problem recorded).</summary>
    public static string? VmAddress(string? address, Violations violations)
    {
        if (string.IsNullOrWhiteSpace(address))
        {
            violations.BadRequest(Messages.Required("The VM's internal address (--address / -IPAddress)"));
            return null;
        }

        var canonical = CanonicalVmAddress(address);
        if (canonical is null)
        {
            violations.BadRequest(Messages.InvalidAddress(address));
        }

        return canonical;
    }

    /// <summary>The canonical text of an IPv4 dotted quad or an IPv6 literal; null for anything else.</summary>
    public static string? CanonicalVmAddress(string? address)
    {
        var text = address?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        if (Networking.Ipv4.TryParseStrict(text, out var v4))
        {
            return Networking.Ipv4.ToText(v4);
        }

        return text.Contains(':', StringComparison.Ordinal) && IPAddress.TryParse(text, out var parsed) && parsed.AddressFamily == AddressFamily.InterNetworkV6
            ? parsed.ToString()
            : null;
    }

    /// <summary>Free text (labels, descriptions): bounded, no control characters.</summary>
    public static void Text(string what, string? value, int max = 256) => Violations.Throw(v => Text(what, value, v, max));

    public static void Text(string what, string? value, Violations violations, int max = 256)
    {
        if (value is null)
        {
            return;
        }

        if (value.Length > max)
        {
            violations.BadRequest($"The {what} can be at most {max} characters long (got {value.Length}).");
        }
        else if (value.Any(char.IsControl))
        {
            violations.BadRequest($"The {what} must not contain control characters (such as newlines or tabs).");
        }
    }
}
