using System.Globalization;
using MultiVip.Contracts;
using MultiVip.Model.Errors;
using MultiVip.Model.Text;

namespace MultiVip.Server.Api;

/// <summary>
/// Query parameters are bound as strings and parsed here, so a bad value gets a message that names
/// the parameter and says what it accepts; framework binding answers an empty 400 instead.
/// </summary>
internal static class QueryValues
{
    public const int MaxOperationsLimit = ApiRoutes.MaxOperationsLimit;

    public const int DefaultOperationsLimit = 100;

    /// <summary>`?limit=`: a whole number from 1 to <see cref="MaxOperationsLimit"/>; out of range is refused, never clamped.</summary>
    public static int Limit(string? raw)
    {
        if (raw is null)
        {
            return DefaultOperationsLimit;
        }

        if (!int.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out var limit))
        {
            throw MultiVipException.BadRequest(
                $"The query parameter 'limit' must be a whole number from 1 to {MaxOperationsLimit}, not '{ClientText.Escape(raw)}'.");
        }

        if (limit is < 1 or > MaxOperationsLimit)
        {
            throw MultiVipException.BadRequest(
                $"The query parameter 'limit' must be from 1 to {MaxOperationsLimit} (got {limit}): ask for at most {MaxOperationsLimit} of the newest operations.");
        }

        return limit;
    }

    /// <summary>A true/false query flag such as `?deleteAll=true`; absent is false.</summary>
    public static bool Flag(string name, string? raw) => raw switch
    {
        null => false,
        _ when bool.TryParse(raw, out var value) => value,
        _ => throw MultiVipException.BadRequest($"The query parameter '{name}' must be true or false, not '{ClientText.Escape(raw)}'."),
    };
}
