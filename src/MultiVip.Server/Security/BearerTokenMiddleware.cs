using System.Security.Cryptography;
using System.Text;
using MultiVip.Model.Errors;

namespace MultiVip.Server.Security;

/// <summary>
/// Every route needs <c>Authorization: Bearer &lt;token&gt;</c>. Both sides are hashed first so the
/// comparison is constant-time and independent of the presented token's length.
/// </summary>
internal sealed class BearerTokenMiddleware(RequestDelegate next, string token)
{
    private readonly byte[] _expected = SHA256.HashData(Encoding.UTF8.GetBytes(token));

    public async Task InvokeAsync(HttpContext context)
    {
        if (IsAuthorized(context.Request.Headers.Authorization.ToString()))
        {
            await next(context);
            return;
        }

        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = "Bearer";
        await context.Response.WriteAsJsonAsync(new ErrorBody(
            nameof(ErrorCode.Unauthorized),
            "A valid bearer token is required: send 'Authorization: Bearer <token>'. The token is in <data-dir>/token on the server (default ./.multivip/token)."));
    }

    private bool IsAuthorized(string header)
    {
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var presented = SHA256.HashData(Encoding.UTF8.GetBytes(header[scheme.Length..].Trim()));
        return CryptographicOperations.FixedTimeEquals(presented, _expected);
    }
}
