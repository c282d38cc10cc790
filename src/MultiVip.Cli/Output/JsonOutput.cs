using System.Text.Json;
using System.Text.Json.Serialization;
using MultiVip.Contracts;

namespace MultiVip.Cli.Output;

/// <summary>
/// The JSON that --output json prints. Keys are the REST API's camelCase by default, so the CLI,
/// curl and the OpenAPI document show the same names and a jq filter works on all three; --pascal
/// gives the .NET property names (ServiceName, ReservedIpName), the casing of the text output and
/// of the cmdlets' objects. Only keys change: values (enum names, dictionary keys) are the data.
/// The default encoder stays: it escapes control and non-ASCII characters, so no text a client
/// once sent can drive the terminal.
/// </summary>
internal static class JsonOutput
{
    private static readonly JsonSerializerOptions CamelIndented = new(ApiJson.Options) { WriteIndented = true };

    private static readonly JsonSerializerOptions PascalIndented = new(CamelIndented) { PropertyNamingPolicy = null };

    // Errors are one line each, so `2>&1 >/dev/null | jq` and log collectors read one object per line.
    private static readonly JsonSerializerOptions CamelLine = new(ApiJson.Options) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    private static readonly JsonSerializerOptions PascalLine = new(CamelLine) { PropertyNamingPolicy = null };

    /// <summary>A resource, indented.</summary>
    public static string Document<T>(T value, bool pascal) => JsonSerializer.Serialize(value, pascal ? PascalIndented : CamelIndented);

    /// <summary>One object on one line, null members left out.</summary>
    public static string Line<T>(T value, bool pascal) => JsonSerializer.Serialize(value, pascal ? PascalLine : CamelLine);
}
