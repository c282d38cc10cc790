using System.Globalization;
using MultiVip.Model.Errors;

namespace MultiVip.Control.Commands;

/// <summary>Who asks, and what version they last read (If-Match), for one command.</summary>
public sealed record CallContext(string? Caller = null, string? IfMatch = null)
{
    public static readonly CallContext System = new("multivip");

    /// <summary>ETags are the quoted version: "7". Weak tags (W/"7") compare the same.</summary>
    public static string ETag(long version) => $"\"{version.ToString(CultureInfo.InvariantCulture)}\"";

    /// <summary>Throws 412 when the caller's If-Match names another version than <paramref name="current"/>.</summary>
    public void CheckPrecondition(string what, long current)
    {
        if (string.IsNullOrWhiteSpace(IfMatch))
        {
            return;
        }

        foreach (var raw in IfMatch.Split(','))
        {
            var tag = raw.Trim();
            if (tag == "*")
            {
                return;
            }

            if (tag.StartsWith("W/", StringComparison.Ordinal))
            {
                tag = tag[2..];
            }

            if (tag.Trim('"') == current.ToString(CultureInfo.InvariantCulture))
            {
                return;
            }
        }

        throw MultiVipException.PreconditionFailed(Messages.Stale(what, IfMatch.Trim(), ETag(current)));
    }
}
