using System.Globalization;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using MultiVip.Contracts;
using MultiVip.Model.Errors;

namespace MultiVip.Server.Security;

/// <summary>
/// DNS rebinding defence. A web page on evil.example can make its own name resolve to 127.0.0.1
/// and then call the API or the dashboard from the victim's browser as "same origin"; the one thing
/// it cannot change is the Host header, which still says evil.example. So before any
/// authentication, a request must name the server as the client reached it: the address the
/// client connected to (an IP literal cannot be rebound), <c>localhost</c> on a loopback
/// connection, a name in the TLS certificate, or a name given with --allowed-host. Anything else
/// gets 421 Misdirected Request. The port must be the one the client connected to, unless an
/// allowed-host entry names another (a port forward).
/// </summary>
internal sealed partial class HostCheckMiddleware(RequestDelegate next, AllowedHosts allowed, ILogger<HostCheckMiddleware> logger)
{
    private readonly LogThrottle _throttle = new(TimeSpan.FromMinutes(1));

    public async Task InvokeAsync(HttpContext context)
    {
        var host = context.Request.Host;

        // Every browser sends Host (HTTP/1.1 and HTTP/2 require it, and Kestrel refuses HTTP/1.1
        // without one); only a non-browser HTTP/1.0 client leaves it out, which no page can make.
        if (!host.HasValue || allowed.Admits(host, context.Connection.LocalIpAddress, context.Connection.LocalPort, context.Request.IsHttps))
        {
            await next(context);
            return;
        }

        var shown = LogText.Escape(host.Value, 100);
        if (_throttle.ShouldLog(allowed.Time.GetUtcNow(), out var suppressed))
        {
            Log.Refused(logger, shown, context.Connection.RemoteIpAddress, suppressed);
        }

        context.Response.StatusCode = StatusCodes.Status421MisdirectedRequest;
        await context.Response.WriteAsJsonAsync(new ErrorBody(
            nameof(ErrorCode.MisdirectedRequest),
            $"This server does not answer to the host name '{shown}' (Host header): it answers to {allowed.Describe(context.Connection.LocalIpAddress, context.Connection.LocalPort)}. " +
            "Use one of those in the URL; if you reach the server through another name or a port forward, start it with --allowed-host NAME[:PORT]. (This check keeps web pages from reaching the server through DNS rebinding.)"));
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3025, EventName = "HostRefused", Level = LogLevel.Warning,
            Message = "Request for host '{Host}' from {Remote} refused with 421: not a name of this server (DNS rebinding?); {Suppressed} more such requests since the last line")]
        public static partial void Refused(ILogger logger, string host, IPAddress? remote, long suppressed);
    }
}

/// <summary>The Host names the server answers to; see <see cref="HostCheckMiddleware"/>.</summary>
internal sealed class AllowedHosts
{
    private readonly List<(string Name, int? Port)> _extra = [];
    private readonly List<string> _certificateNames = [];

    public AllowedHosts(IEnumerable<string> extra, string? tlsCertificatePem, TimeProvider time)
    {
        Time = time;
        foreach (var entry in extra)
        {
            _extra.Add(Parse(entry));
        }

        if (tlsCertificatePem is not null)
        {
            // The certificate's DNS names are names the server is meant to be reached by; a
            // rebinding page cannot present one of them without the private key.
            using var certificate = X509Certificate2.CreateFromPem(tlsCertificatePem);
            foreach (var extension in certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>())
            {
                _certificateNames.AddRange(extension.EnumerateDnsNames());
            }
        }
    }

    public TimeProvider Time { get; }

    /// <summary>An --allowed-host value: a DNS name or IP address, optionally with :port.</summary>
    public static (string Name, int? Port) Parse(string entry)
    {
        var text = entry.Trim();
        var host = HostString.FromUriComponent(text);
        var name = host.Host.Trim('[', ']');
        var valid = name.Length > 0
            && (IPAddress.TryParse(name, out _) || Uri.CheckHostName(name) == UriHostNameType.Dns)
            && (host.Port is null || host.Port is > 0 and <= 65535)
            && !text.Contains('/', StringComparison.Ordinal);
        if (!valid)
        {
            throw MultiVipException.BadRequest($"'{entry}' is not a host name for --allowed-host. Give a DNS name or an IP address, optionally with :port, like lb.example.com or 127.0.0.1:8080.");
        }

        return (Normalize(name), host.Port);
    }

    public bool Admits(HostString host, IPAddress? local, int localPort, bool https)
    {
        var name = Normalize(host.Host.Trim('[', ']'));
        var port = host.Port ?? (https ? 443 : 80);
        foreach (var (allowedName, allowedPort) in _extra)
        {
            if (allowedName == name && (allowedPort is null || allowedPort == port))
            {
                return true;
            }
        }

        if (port != localPort)
        {
            return false;
        }

        local = local is { IsIPv4MappedToIPv6: true } ? local.MapToIPv4() : local;
        var loopback = local is not null && IPAddress.IsLoopback(local);
        if (IPAddress.TryParse(name, out var literal))
        {
            literal = literal.IsIPv4MappedToIPv6 ? literal.MapToIPv4() : literal;
            return literal.Equals(local) || (loopback && IPAddress.IsLoopback(literal));
        }

        return (loopback && name == "localhost") || _certificateNames.Any(c => CertificateNameMatches(c, name));
    }

    /// <summary>For the 421 message: what this connection may name.</summary>
    public string Describe(IPAddress? local, int localPort)
    {
        local = local is { IsIPv4MappedToIPv6: true } ? local.MapToIPv4() : local;
        var names = new List<string>();
        if (local is not null)
        {
            names.Add(local.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{local}]:{localPort}" : $"{local}:{localPort}");
            if (IPAddress.IsLoopback(local))
            {
                names.Add(string.Create(CultureInfo.InvariantCulture, $"localhost:{localPort}"));
            }
        }

        names.AddRange(_certificateNames.Select(n => string.Create(CultureInfo.InvariantCulture, $"{n}:{localPort}")));
        names.AddRange(_extra.Select(e => e.Port is null ? e.Name : string.Create(CultureInfo.InvariantCulture, $"{e.Name}:{e.Port}")));
        return string.Join(", ", names);
    }

    private static bool CertificateNameMatches(string certificateName, string name)
    {
        var pattern = Normalize(certificateName);
        if (pattern.StartsWith("*.", StringComparison.Ordinal))
        {
            // A wildcard covers exactly one label, as TLS clients match it (RFC 6125 6.4.3).
            var dot = name.IndexOf('.', StringComparison.Ordinal);
            return dot > 0 && name[(dot + 1)..] == pattern[2..];
        }

        return pattern == name;
    }

    private static string Normalize(string name) => name.TrimEnd('.').ToLowerInvariant();
}

/// <summary>At most one log line per interval; the lines in between are counted and reported with the next one.</summary>
internal sealed class LogThrottle(TimeSpan interval)
{
    private readonly Lock _lock = new();
    private DateTimeOffset _last = DateTimeOffset.MinValue;
    private long _suppressed;

    public bool ShouldLog(DateTimeOffset now, out long suppressed)
    {
        lock (_lock)
        {
            if (now - _last < interval)
            {
                _suppressed++;
                suppressed = 0;
                return false;
            }

            _last = now;
            suppressed = _suppressed;
            _suppressed = 0;
            return true;
        }
    }
}

/// <summary>Client-sent text made safe for one log line or message: control characters escaped, length bounded.</summary>
internal static class LogText
{
    public static string Escape(string text, int max)
    {
        var builder = new System.Text.StringBuilder(Math.Min(text.Length, max) + 8);
        foreach (var c in text.Length > max ? text[..max] : text)
        {
            if (char.IsControl(c))
            {
                builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
            }
            else
            {
                builder.Append(c);
            }
        }

        return text.Length > max ? builder.Append('…').ToString() : builder.ToString();
    }
}
