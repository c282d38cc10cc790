using System.Security.Cryptography;
using System.Text;
using MultiVip.Server.Security;

namespace MultiVip.Server.Dashboard;

/// <summary>
/// How a browser signs in with the API token. The sign-in form posts the token once; the server
/// answers with an HttpOnly, SameSite=Strict cookie holding a random session id from
/// <see cref="DashboardSessions"/> — never the token, so a leaked cookie cannot be replayed as a
/// bearer token against /api. The session ends after its lifetime (the cookie's Expires says the
/// same) or at sign-out, which removes it on the server: a copied cookie dies with it. Mutating
/// forms also carry HMAC(token, "csrf") in a hidden field: SameSite=Strict already keeps
/// cross-site posts from carrying the cookie, the field covers browsers that do not enforce it.
/// Wrong tokens, at the form or in a bearer header, are counted by the <see cref="AuthFailureLimiter"/>.
/// All comparisons are constant-time over fixed-length hashes.
/// </summary>
internal sealed class DashboardSecurity
{
    public const string CookieName = "multivip_session";
    public const string CsrfField = "csrf";

    private readonly BearerToken _token;
    private readonly DashboardSessions _sessions;
    private readonly byte[] _csrf;

    public DashboardSecurity(string token, BearerToken bearer, DashboardSessions sessions, AuthFailureLimiter limiter)
    {
        _token = bearer;
        _sessions = sessions;
        Limiter = limiter;
        _csrf = HMACSHA256.HashData(Encoding.UTF8.GetBytes(token), "multivip dashboard csrf v1"u8);
        CsrfValue = DashboardSessions.Base64Url(_csrf);
    }

    public string CsrfValue { get; }

    public AuthFailureLimiter Limiter { get; }

    public bool IsToken(string? presented) => _token.Matches(presented);

    /// <summary>Signed in by cookie, or by the API's bearer header (scripts may fetch dashboard pages too).</summary>
    public bool IsSignedIn(HttpContext context) => Check(context) == SignInState.SignedIn;

    public SignInState Check(HttpContext context)
    {
        if (BearerToken.Presented(context) is { } presented)
        {
            return _token.Matches(presented) ? SignInState.SignedIn : SignInState.WrongBearer;
        }

        return context.Request.Cookies.TryGetValue(CookieName, out var cookie) && _sessions.IsValid(cookie)
            ? SignInState.SignedIn
            : SignInState.NotSignedIn;
    }

    public bool IsValidCsrf(string? presented) => Matches(presented, _csrf);

    public void SignIn(HttpContext context)
    {
        var (id, expires) = _sessions.Create();
        context.Response.Cookies.Append(CookieName, id, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = context.Request.IsHttps,
            Path = "/",
            IsEssential = true,
            Expires = expires,
            MaxAge = _sessions.Lifetime,
        });
    }

    /// <summary>Ends the session on the server (a copy of the cookie stops working) and asks the browser to drop it.</summary>
    public void SignOut(HttpContext context)
    {
        if (context.Request.Cookies.TryGetValue(CookieName, out var cookie))
        {
            _sessions.Revoke(cookie);
        }

        context.Response.Cookies.Delete(CookieName, new CookieOptions { Path = "/", SameSite = SameSiteMode.Strict, HttpOnly = true });
    }

    private static bool Matches(string? presented, byte[] expected)
    {
        if (string.IsNullOrEmpty(presented))
        {
            return false;
        }

        // Hash both sides so the comparison does not depend on the presented length.
        var given = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        return CryptographicOperations.FixedTimeEquals(given, SHA256.HashData(Encoding.UTF8.GetBytes(DashboardSessions.Base64Url(expected))));
    }
}

internal enum SignInState
{
    NotSignedIn,
    SignedIn,

    /// <summary>A bearer header with the wrong token: counted as a failed attempt.</summary>
    WrongBearer,
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

        var state = security.Check(context);
        if (state == SignInState.WrongBearer)
        {
            var remote = context.Connection.RemoteIpAddress;
            var verdict = security.Limiter.RecordFailure(remote, $"wrong bearer token on dashboard {context.Request.Method} {LogText.Escape(path.Value ?? "/", 100)}");
            if (verdict.Throttled)
            {
                await BearerToken.WriteTooManyAsync(context, verdict, security.Limiter.Explain(remote, verdict, "wrong bearer tokens"));
                return;
            }
        }

        if (state != SignInState.SignedIn)
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
