using System.Globalization;
using System.Net;
using System.Text;

namespace MultiVip.Server.Dashboard;

/// <summary>
/// A small HTML writer: every piece of data goes through <see cref="Text"/> or <see cref="Attr"/>
/// (HTML-encoded), markup only through <see cref="Raw"/> with literals. No template engine, no build step.
/// </summary>
internal sealed class Html
{
    private readonly StringBuilder _out = new();

    public static string E(string? value) => WebUtility.HtmlEncode(value ?? "");

    /// <summary>A URL path segment: escaped for the URL, then for the attribute.</summary>
    public static string Seg(string value) => Uri.EscapeDataString(value);

    public Html Raw(string markup)
    {
        _out.Append(markup);
        return this;
    }

    public Html Text(string? value)
    {
        _out.Append(E(value));
        return this;
    }

    public Html Text(long value)
    {
        _out.Append(value.ToString(CultureInfo.InvariantCulture));
        return this;
    }

    public Html Attr(string name, string? value)
    {
        _out.Append(' ').Append(name).Append("=\"").Append(E(value)).Append('"');
        return this;
    }

    public override string ToString() => _out.ToString();

    public static string Bytes(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.#} KiB"),
        < 1024L * 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024):0.#} MiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024 * 1024):0.##} GiB"),
    };

    /// <summary>
    /// The one time format of the dashboard: UTC, to the second, "2026-12-01 22:25:07Z" (the same
    /// as dashboard.js's <c>when()</c>, which formats the times the browser adds). Empty for null.
    /// </summary>
    public const string TimeFormat = "yyyy-MM-dd HH:mm:ss'Z'";

    public static string When(DateTimeOffset? at) =>
        at is { } t ? t.ToUniversalTime().ToString(TimeFormat, CultureInfo.InvariantCulture) : "";

    /// <summary>A <c>&lt;time&gt;</c> element in <see cref="When"/>'s format, with the exact instant in its datetime attribute.</summary>
    public static string Time(DateTimeOffset? at) =>
        at is { } t
            ? $"<time datetime=\"{t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)}\">{When(t)}</time>"
            : "";
}
