using System.Security.Cryptography;
using System.Text;

namespace MultiVip.Server.Dashboard;

/// <summary>
/// How a browser signs in with the API token. The sign-in form posts the token once; the server
/// answers with an HttpOnly, SameSite=Strict cookie holding HMAC(token, "session") — never the
/// token itself, so a leaked cookie cannot be replayed as a bearer token against /api, and
/// rotating the token (new --data-dir token) signs every browser out. Mutating forms also carry
/// HMAC(token, "csrf") in a hidden field: SameSite=Strict already keeps cross-site posts from
/// carrying the cookie, the field covers browsers that do not enforce it.
/// All comparisons are constant-time over fixed-length hashes.
/// </summary>
internal sealed class DashboardSecurity
{
    public const string CookieName = "multivip_session";
    public const string CsrfField = "csrf";

    private readonly byte[] _tokenHash;
    private readonly byte[] _session;
    private readonly byte[] _csrf;

    public DashboardSecurity(string token)
    {
        var key = Encoding.UTF8.GetBytes(token);
        _tokenHash = SHA256.HashData(key);
        _session = HMACSHA256.HashData(key, "multivip dashboard session v1"u8);
        _csrf = HMACSHA256.HashData(key, "multivip dashboard csrf v1"u8);
        SessionValue = Base64Url(_session);
        CsrfValue = Base64Url(_csrf);
    }

    public string SessionValue { get; }

    public string CsrfValue { get; }

    public bool IsToken(string? presented) =>
        presented is not null && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented.Trim())), _tokenHash);

    /// <summary>Signed in by cookie, or by the API's bearer header (scripts may fetch dashboard pages too).</summary>
    public bool IsSignedIn(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && IsToken(header["Bearer ".Length..]))
        {
            return true;
        }

        return context.Request.Cookies.TryGetValue(CookieName, out var cookie) && Matches(cookie, _session);
    }

    public bool IsValidCsrf(string? presented) => Matches(presented, _csrf);

    public void SignIn(HttpContext context) =>
        context.Response.Cookies.Append(CookieName, SessionValue, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = context.Request.IsHttps,
            Path = "/",
            IsEssential = true,
        });

    public static void SignOut(HttpContext context) =>
        context.Response.Cookies.Delete(CookieName, new CookieOptions { Path = "/", SameSite = SameSiteMode.Strict, HttpOnly = true });

    private static bool Matches(string? presented, byte[] expected)
    {
        if (string.IsNullOrEmpty(presented))
        {
            return false;
        }

        // Hash both sides so the comparison does not depend on the presented length.
        var given = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        return CryptographicOperations.FixedTimeEquals(given, SHA256.HashData(Encoding.UTF8.GetBytes(Base64Url(expected))));
    }

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

/// <summary>
/// Guards the dashboard's paths: the API's bearer middleware guards everything else. A browser that
/// is not signed in is sent to the sign-in page instead of getting a JSON 401.
/// </summary>
internal sealed partial class DashboardSessionMiddleware(RequestDelegate next, DashboardSecurity security, ILogger<DashboardSessionMiddleware> logger)
{
    public const string SignInPath = "/signin";
    public const string SignOutPath = "/signout";
    public const string UiPrefix = "/ui";
    public const string StaticPrefix = "/ui/static";

    /// <summary>Paths the dashboard owns (and authenticates itself); the rest is the API's.</summary>
    public static bool Owns(PathString path) =>
        path == "/" || path.StartsWithSegments(UiPrefix) || path.StartsWithSegments(SignInPath) || path.StartsWithSegments(SignOutPath);

    public async Task InvokeAsync(HttpContext context)
    {
        var path = context.Request.Path;
        context.Response.Headers.XContentTypeOptions = "nosniff";
        context.Response.Headers["X-Frame-Options"] = "DENY";
        context.Response.Headers.ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'";
        context.Response.Headers["Referrer-Policy"] = "no-referrer";
        if (path.StartsWithSegments(SignInPath) || path.StartsWithSegments(StaticPrefix))
        {
            await next(context);
            return;
        }

        if (!security.IsSignedIn(context))
        {
            var shownPath = MultiVip.Model.Text.ClientText.Escape(path.Value ?? "/");
            Log.NotSignedIn(logger, context.Request.Method, shownPath, context.Connection.RemoteIpAddress);
            if (HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method))
            {
                context.Response.Redirect(SignInPath);
                return;
            }

            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            await context.Response.WriteAsync("Sign in first: " + SignInPath);
            return;
        }

        // Every mutating dashboard request is a form post that must carry the CSRF field.
        if (HttpMethods.IsPost(context.Request.Method))
        {
            var form = context.Request.HasFormContentType ? await context.Request.ReadFormAsync(context.RequestAborted) : null;
            if (!security.IsValidCsrf(form?[DashboardSecurity.CsrfField]))
            {
                var shownPath = MultiVip.Model.Text.ClientText.Escape(path.Value ?? "/");
                Log.CsrfRejected(logger, shownPath, context.Connection.RemoteIpAddress);
                context.Response.StatusCode = StatusCodes.Status403Forbidden;
                await context.Response.WriteAsync("The form is stale or came from another site. Reload the page and try again.");
                return;
            }
        }

        await next(context);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3001, EventName = "DashboardNotSignedIn", Level = LogLevel.Debug, Message = "Dashboard {Method} {Path} from {Remote} without a session; sent to sign-in")]
        public static partial void NotSignedIn(ILogger logger, string method, string path, System.Net.IPAddress? remote);

        [LoggerMessage(EventId = 3002, EventName = "DashboardCsrfRejected", Level = LogLevel.Warning, Message = "Dashboard post to {Path} from {Remote} rejected: missing or wrong CSRF field")]
        public static partial void CsrfRejected(ILogger logger, string path, System.Net.IPAddress? remote);
    }
}
