using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using MultiVip.Contracts;
using MultiVip.Model.Errors;

namespace MultiVip.Server.Security;

/// <summary>
/// Every route needs <c>Authorization: Bearer &lt;token&gt;</c>. Both sides are hashed first so the
/// comparison is constant-time and independent of the presented token's length. A wrong token is
/// counted by the <see cref="AuthFailureLimiter"/>; past the limit it is answered 429. A missing
/// header is not counted: it guesses nothing (a browser or a scraper without its token).
/// </summary>
internal sealed class BearerTokenMiddleware(RequestDelegate next, BearerToken token, AuthFailureLimiter limiter)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var presented = BearerToken.Presented(context);
        if (presented is not null && token.Matches(presented))
        {
            await next(context);
            return;
        }

        if (presented is not null)
        {
            var remote = context.Connection.RemoteIpAddress;
            var verdict = limiter.RecordFailure(remote, $"wrong bearer token on {context.Request.Method} {LogText.Escape(context.Request.Path.Value ?? "/", 100)}");
            if (verdict.Throttled)
            {
                await BearerToken.WriteTooManyAsync(context, verdict, limiter.Explain(remote, verdict, "wrong bearer tokens"));
                return;
            }
        }

        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = "Bearer";
        await context.Response.WriteAsJsonAsync(new ErrorBody(
            nameof(ErrorCode.Unauthorized),
            "A valid bearer token is required: send 'Authorization: Bearer <token>'. The token is in <data-dir>/token on the server (default ./.multivip/token)."));
    }
}

/// <summary>The server's token, kept only as its hash.</summary>
internal sealed class BearerToken(string token)
{
    private const string Scheme = "Bearer ";
    private readonly byte[] _expected = SHA256.HashData(Encoding.UTF8.GetBytes(token));

    /// <summary>The credential of an <c>Authorization: Bearer</c> header, or null when the request carries none.</summary>
    public static string? Presented(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        return header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase) ? header[Scheme.Length..] : null;
    }

    public bool Matches(string? presented) =>
        presented is not null && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented.Trim())), _expected);

    public static Task WriteTooManyAsync(HttpContext context, AuthFailureVerdict verdict, string message)
    {
        context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        context.Response.Headers.RetryAfter = verdict.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        return context.Response.WriteAsJsonAsync(new ErrorBody(nameof(ErrorCode.TooManyRequests), message));
    }
}
