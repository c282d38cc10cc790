using System.Text.Json;
using MultiVip.Contracts;
using MultiVip.Model.Errors;
using MultiVip.Model.Text;

namespace MultiVip.Server.Api;

/// <summary>
/// Reads JSON bodies ourselves rather than through parameter binding, so a malformed body, an unknown
/// field or a wrong type gets a message that names the field, instead of an empty 400.
/// </summary>
internal static class RequestBody
{
    public static async Task<T> ReadAsync<T>(HttpRequest request, CancellationToken cancellationToken)
        where T : class
    {
        if (request.ContentLength == 0 || (request.ContentLength is null && !request.Body.CanSeek && request.Headers.TransferEncoding.Count == 0))
        {
            throw MultiVipException.BadRequest($"The request needs a JSON body ({typeof(T).Name}).");
        }

        if (request.ContentType is { } type && !type.Contains("json", StringComparison.OrdinalIgnoreCase))
        {
            throw new MultiVipException(ErrorCode.UnsupportedMediaType, NotJson(type));
        }

        T? value;
        try
        {
            value = await JsonSerializer.DeserializeAsync<T>(request.Body, ApiJson.Options, cancellationToken);
        }
        catch (JsonException ex)
        {
            throw MultiVipException.BadRequest(Describe(ex, typeof(T).Name));
        }

        return value ?? throw MultiVipException.BadRequest($"The request body must be a JSON object ({typeof(T).Name}), not null.");
    }

    /// <summary>The 415 message; the routing layer answers 415 before a handler runs, so it shares this text.</summary>
    public static string NotJson(string? contentType) => contentType is null
        ? "The request body must be JSON: send it with 'Content-Type: application/json'."
        : $"The request body must be JSON (Content-Type: application/json), not '{ClientText.Escape(contentType)}'.";

    public static string Describe(JsonException ex, string? type = null)
    {
        var where = string.IsNullOrEmpty(ex.Path) || ex.Path == "$" ? "" : $" at {ex.Path}";
        var what = ex.Message.Contains("could not be mapped", StringComparison.Ordinal)
            ? "it has a field the API does not know (check the spelling against /openapi/v1.json)"
            : ex.Message.Contains("could not be converted", StringComparison.Ordinal)
                ? "a value has the wrong type (numbers for ports and timeouts, true/false for flags, strings for names)"
                : "it is not well-formed JSON";
        return $"The request body{(type is null ? "" : $" ({type})")} is invalid{where}: {what}.";
    }
}
