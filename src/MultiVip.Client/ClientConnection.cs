using MultiVip.Contracts;

namespace MultiVip.Client;

/// <summary>Where the server is and how to authenticate to it.</summary>
public sealed record ClientConnection(Uri Api, string Token)
{
    public const string ApiVariable = "MULTIVIP_API";
    public const string TokenVariable = "MULTIVIP_TOKEN";
    public const string DefaultDataDir = ".multivip";

    /// <summary>File in the data dir where <c>multivip serve</c> writes its base URL.</summary>
    public const string EndpointFile = "endpoint";

    /// <summary>File in the data dir where <c>multivip serve</c> writes the bearer token.</summary>
    public const string TokenFile = "token";

    public const string NotFoundMessage =
        "No MultiVip server found: pass --api and --token, set MULTIVIP_API and MULTIVIP_TOKEN, or run in the directory where `multivip serve` keeps its data (./.multivip).";

    public override string ToString() => Api.ToString(); // never print the token

    /// <summary>
    /// Resolves each of URL and token on its own: flag, then environment, then the data dir
    /// (default ./.multivip). The URL falls back to <see cref="ApiRoutes.DefaultApi"/>; the token
    /// has no default, and without one nothing can be called.
    /// </summary>
    public static ClientConnection Resolve(string? api, string? token, string? dataDir) =>
        Resolve(api, token, dataDir, Environment.GetEnvironmentVariable);

    /// <summary>As <see cref="Resolve(string?, string?, string?)"/> with the environment supplied (tests).</summary>
    public static ClientConnection Resolve(string? api, string? token, string? dataDir, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var dir = string.IsNullOrWhiteSpace(dataDir) ? DefaultDataDir : dataDir;

        var apiText = NonEmpty(api) ?? NonEmpty(environment(ApiVariable)) ?? ReadLine(dir, EndpointFile);
        var tokenText = NonEmpty(token) ?? NonEmpty(environment(TokenVariable)) ?? ReadLine(dir, TokenFile);
        if (tokenText is null)
        {
            throw new MultiVipConnectionException(NotFoundMessage);
        }

        apiText ??= ApiRoutes.DefaultApi;
        if (!Uri.TryCreate(apiText, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new MultiVipConnectionException(
                $"'{apiText}' is not a MultiVip server URL. Give an absolute http(s) URL, for example {ApiRoutes.DefaultApi}.");
        }

        return new ClientConnection(uri, tokenText);
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private static string? ReadLine(string dir, string file)
    {
        var path = Path.Combine(dir, file);
        try
        {
            // Single-line files; tolerate a trailing newline or CRLF written by an editor.
            return File.Exists(path) ? NonEmpty(File.ReadAllText(path)) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MultiVipConnectionException($"Cannot read {path}: {e.Message}", e);
        }
    }
}
