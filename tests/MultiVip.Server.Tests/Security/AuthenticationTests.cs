using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Time.Testing;
using MultiVip.Contracts;
using MultiVip.Model.Errors;
using MultiVip.Server.Hosting;

namespace MultiVip.Server.Tests.Security;

/// <summary>
/// The API's and the dashboard's defences against a hostile client, against a real server: the
/// failed-credential limiter, dashboard session expiry and revocation, and the Host check. Time is
/// a fake clock the test moves, so windows and lifetimes end exactly when the test says.
/// </summary>
public sealed partial class AuthenticationTests
{
    private static async Task<(ServerFixture Server, FakeTimeProvider Clock)> StartAsync(Func<ServerOptions, ServerOptions>? configure = null)
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var f = await ServerFixture.StartAsync(configure: o =>
        {
            o = o with { Authentication = o.Authentication with { Time = clock } };
            return configure?.Invoke(o) ?? o;
        });
        return (f, clock);
    }

    private static HttpClient Client(ServerFixture f, string? token, IPAddress? from = null)
    {
        var handler = new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false };
        if (from is not null)
        {
            // Connect from another loopback address: the server sees another client.
            handler.ConnectCallback = async (context, ct) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    socket.Bind(new IPEndPoint(from, 0));
                    await socket.ConnectAsync(context.DnsEndPoint, ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
        }

        var client = new HttpClient(handler) { BaseAddress = f.Server.Api };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return client;
    }

    private static IPAddress OtherClientAddress() => IPAddress.Parse($"127.65.{Random.Shared.Next(1, 250)}.{Random.Shared.Next(1, 250)}");

    private static async Task<ErrorBodyDto> ErrorAsync(HttpResponseMessage response) =>
        JsonSerializer.Deserialize<ErrorBodyDto>(await response.Content.ReadAsStringAsync(), ApiJson.Options)!;

    private static Task<HttpResponseMessage> SignInAsync(HttpClient client, string token) =>
        client.PostAsync("/signin", new FormUrlEncodedContent([new("token", token)]));

    /// <summary>The session cookie's name=value from a sign-in answer.</summary>
    private static string SessionCookie(HttpResponseMessage signIn) =>
        Assert.Single(signIn.Headers.GetValues("Set-Cookie"), c => c.StartsWith("multivip_session=", StringComparison.Ordinal)).Split(';')[0];

    private static async Task<HttpResponseMessage> GetWithCookieAsync(HttpClient client, string path, string cookie)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("Cookie", cookie);
        return await client.SendAsync(request);
    }

    [Fact]
    public async Task Wrong_bearer_tokens_past_the_limit_get_429_with_retry_after_until_the_window_ends()
    {
        var (f, clock) = await StartAsync();
        await using var _ = f;
        using var anonymous = Client(f, token: null);
        using var wrong = Client(f, "not-the-token");

        // A request without a token guesses nothing and is not counted.
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(ApiRoutes.Services)).StatusCode);
        }

        // Ten wrong tokens in the minute get 401, as before.
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.GetAsync(ApiRoutes.Services)).StatusCode);
        }

        // The eleventh gets 429 with Retry-After and a message that says when.
        var throttled = await wrong.GetAsync(ApiRoutes.Services);
        Assert.Equal(HttpStatusCode.TooManyRequests, throttled.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(60), throttled.Headers.RetryAfter?.Delta);
        var body = await ErrorAsync(throttled);
        Assert.Equal(nameof(ErrorCode.TooManyRequests), body.Code);
        Assert.Contains("Try again in 60 s", body.Message);
        Assert.Contains("127.0.0.1", body.Message);

        // /metrics and the dashboard's bearer header share the same count.
        var metrics = await wrong.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.TooManyRequests, metrics.StatusCode);
        Assert.Equal(nameof(ErrorCode.TooManyRequests), (await ErrorAsync(metrics)).Code);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await wrong.GetAsync("/")).StatusCode);

        clock.Advance(TimeSpan.FromSeconds(35));
        var later = await wrong.GetAsync(ApiRoutes.Services);
        Assert.Equal(HttpStatusCode.TooManyRequests, later.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(25), later.Headers.RetryAfter?.Delta);

        // The window ends: the address starts over.
        clock.Advance(TimeSpan.FromSeconds(25));
        Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.GetAsync(ApiRoutes.Services)).StatusCode);
    }

    [Fact]
    public async Task The_right_token_is_answered_while_its_address_is_throttled_and_other_addresses_are_not_affected()
    {
        var (f, _) = await StartAsync();
        await using var __ = f;
        using var wrong = Client(f, "not-the-token");
        for (var i = 0; i < 11; i++)
        {
            await wrong.GetAsync(ApiRoutes.Services);
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, (await wrong.GetAsync(ApiRoutes.Services)).StatusCode);

        // Same address (127.0.0.1), right token: an attacker sharing the operator's address does not lock the operator out.
        using var right = Client(f, f.Server.Token);
        Assert.Equal(HttpStatusCode.OK, (await right.GetAsync(ApiRoutes.Services)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await right.GetAsync("/metrics")).StatusCode);
        using var browser = Client(f, token: null);
        Assert.Equal(HttpStatusCode.Redirect, (await SignInAsync(browser, f.Server.Token)).StatusCode);

        // Another client address has its own count.
        using var elsewhere = Client(f, "not-the-token", OtherClientAddress());
        Assert.Equal(HttpStatusCode.Unauthorized, (await elsewhere.GetAsync(ApiRoutes.Services)).StatusCode);
    }

    [Fact]
    public async Task Wrong_sign_ins_past_the_limit_get_429_with_retry_after()
    {
        var (f, clock) = await StartAsync();
        await using var _ = f;
        using var browser = Client(f, token: null);
        for (var i = 0; i < 10; i++)
        {
            var refused = await SignInAsync(browser, "guess-" + i);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.False(refused.Headers.Contains("Set-Cookie"));
        }

        var throttled = await SignInAsync(browser, "guess-10");
        Assert.Equal(HttpStatusCode.TooManyRequests, throttled.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(60), throttled.Headers.RetryAfter?.Delta);
        Assert.False(throttled.Headers.Contains("Set-Cookie"));
        var page = WebUtility.HtmlDecode(await throttled.Content.ReadAsStringAsync());
        Assert.Contains("Too many failed sign-ins from 127.0.0.1", page);
        Assert.Contains("Try again in 60 s", page);

        // The right token still signs in.
        var signedIn = await SignInAsync(browser, f.Server.Token);
        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await GetWithCookieAsync(browser, "/", SessionCookie(signedIn))).StatusCode);

        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(HttpStatusCode.Unauthorized, (await SignInAsync(browser, "guess-11")).StatusCode);
    }

    [Fact]
    public async Task A_dashboard_session_ends_after_its_lifetime()
    {
        var (f, clock) = await StartAsync();
        await using var _ = f;
        using var browser = Client(f, token: null);
        var signIn = await SignInAsync(browser, f.Server.Token);
        Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
        var setCookie = Assert.Single(signIn.Headers.GetValues("Set-Cookie"));
        Assert.Contains("max-age=43200", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("expires=", setCookie, StringComparison.OrdinalIgnoreCase);
        var cookie = SessionCookie(signIn);
        Assert.Equal(HttpStatusCode.OK, (await GetWithCookieAsync(browser, "/", cookie)).StatusCode);

        clock.Advance(TimeSpan.FromHours(12) - TimeSpan.FromSeconds(1));
        Assert.Equal(HttpStatusCode.OK, (await GetWithCookieAsync(browser, "/", cookie)).StatusCode);

        clock.Advance(TimeSpan.FromSeconds(1));
        var expired = await GetWithCookieAsync(browser, "/", cookie);
        Assert.Equal(HttpStatusCode.Redirect, expired.StatusCode);
        Assert.Equal("/signin", expired.Headers.Location?.OriginalString);
    }

    [Fact]
    public async Task The_session_lifetime_is_configurable()
    {
        var (f, clock) = await StartAsync(o => o with { Authentication = o.Authentication with { SessionLifetime = TimeSpan.FromMinutes(30) } });
        await using var _ = f;
        using var browser = Client(f, token: null);
        var signIn = await SignInAsync(browser, f.Server.Token);
        Assert.Contains("max-age=1800", Assert.Single(signIn.Headers.GetValues("Set-Cookie")), StringComparison.OrdinalIgnoreCase);
        var cookie = SessionCookie(signIn);
        clock.Advance(TimeSpan.FromMinutes(29));
        Assert.Equal(HttpStatusCode.OK, (await GetWithCookieAsync(browser, "/", cookie)).StatusCode);
        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(HttpStatusCode.Redirect, (await GetWithCookieAsync(browser, "/", cookie)).StatusCode);
    }

    [Fact]
    public async Task Sign_out_ends_the_session_on_the_server_so_a_copied_cookie_stops_working()
    {
        await using var f = await ServerFixture.StartAsync();
        using var browser = Client(f, token: null);
        var cookie = SessionCookie(await SignInAsync(browser, f.Server.Token));
        var copy = cookie;
        var overview = await GetWithCookieAsync(browser, "/", cookie);
        Assert.Equal(HttpStatusCode.OK, overview.StatusCode);
        var csrf = CsrfField().Match(await overview.Content.ReadAsStringAsync()).Groups[1].Value;
        Assert.NotEmpty(csrf);

        using var signOut = new HttpRequestMessage(HttpMethod.Post, "/signout") { Content = new FormUrlEncodedContent([new("csrf", WebUtility.HtmlDecode(csrf))]) };
        signOut.Headers.Add("Cookie", cookie);
        var signedOut = await browser.SendAsync(signOut);
        Assert.Equal(HttpStatusCode.Redirect, signedOut.StatusCode);
        Assert.Equal("/signin", signedOut.Headers.Location?.OriginalString);

        // The browser dropped its cookie; a copy taken before sign-out is refused too.
        var replayed = await GetWithCookieAsync(browser, "/", copy);
        Assert.Equal(HttpStatusCode.Redirect, replayed.StatusCode);
        Assert.Equal("/signin", replayed.Headers.Location?.OriginalString);
        using var post = new HttpRequestMessage(HttpMethod.Post, "/ui/services/any/vips/add") { Content = new FormUrlEncodedContent([new("csrf", WebUtility.HtmlDecode(csrf)), new("name", "Replayed")]) };
        post.Headers.Add("Cookie", copy);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.SendAsync(post)).StatusCode);

        // Signing in again gives a new session; the old one stays dead.
        var again = SessionCookie(await SignInAsync(browser, f.Server.Token));
        Assert.NotEqual(copy, again);
        Assert.Equal(HttpStatusCode.OK, (await GetWithCookieAsync(browser, "/", again)).StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await GetWithCookieAsync(browser, "/", copy)).StatusCode);
    }

    [Theory]
    [InlineData("/api/services")]
    [InlineData("/metrics")]
    [InlineData("/openapi/v1.json")]
    [InlineData("/")]
    [InlineData("/signin")]
    [InlineData("/ui/static/dashboard.css")]
    public async Task A_host_name_the_server_does_not_have_is_refused_with_421_before_authentication(string path)
    {
        await using var f = await ServerFixture.StartAsync();
        using var client = Client(f, f.Server.Token);
        var port = f.Server.Api.Port;

        foreach (var host in new[] { "evil.example", $"evil.example:{port}", $"127.0.0.1:{(port == 65535 ? 1 : port + 1)}", $"localhost.evil.example:{port}" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Host = host;
            var response = await client.SendAsync(request);
            Assert.True(response.StatusCode == HttpStatusCode.MisdirectedRequest, $"{host} {path}: {response.StatusCode}");
            var body = await ErrorAsync(response);
            Assert.Equal(nameof(ErrorCode.MisdirectedRequest), body.Code);
            Assert.Contains($"'{host}'", body.Message);
            Assert.Contains($"127.0.0.1:{port}", body.Message);
            Assert.Contains("--allowed-host", body.Message);
            Assert.False(response.Headers.Contains("Set-Cookie"));
        }

        // The names of a loopback server are fine, with the port the client connected to.
        foreach (var host in new[] { $"127.0.0.1:{port}", $"localhost:{port}", $"LocalHost:{port}", $"[::1]:{port}" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Host = host;
            var response = await client.SendAsync(request);
            Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Redirect, $"{host} {path}: {response.StatusCode}");
        }
    }

    [Fact]
    public async Task A_sign_in_through_a_foreign_host_name_gets_no_session()
    {
        await using var f = await ServerFixture.StartAsync();
        using var browser = Client(f, token: null);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/signin") { Content = new FormUrlEncodedContent([new("token", f.Server.Token)]) };
        request.Headers.Host = "evil.example";
        var response = await browser.SendAsync(request);
        Assert.Equal(HttpStatusCode.MisdirectedRequest, response.StatusCode);
        Assert.False(response.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task Allowed_host_names_are_answered_and_a_bad_one_is_refused_at_start()
    {
        await using var f = await ServerFixture.StartAsync(configure: o => o with { Authentication = o.Authentication with { AllowedHosts = ["MultiVip.Test", "127.0.0.1:8080"] } });
        using var client = Client(f, f.Server.Token);
        foreach (var (host, expected) in new[]
        {
            ("multivip.test", HttpStatusCode.OK),
            ("multivip.test:443", HttpStatusCode.OK),
            ("127.0.0.1:8080", HttpStatusCode.OK),
            ("evil.example", HttpStatusCode.MisdirectedRequest),
        })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, ApiRoutes.Services);
            request.Headers.Host = host;
            Assert.Equal(expected, (await client.SendAsync(request)).StatusCode);
        }

        var dataDir = Path.Combine(Path.GetTempPath(), "multivip-auth", Guid.NewGuid().ToString("N"));
        var error = await Assert.ThrowsAsync<MultiVipException>(() => ServerHost.StartAsync(new ServerOptions
        {
            DataDir = dataDir,
            Api = "http://127.0.0.1:0",
            Dns = "off",
            VipPools = [ServerFixture.UniquePool()],
            Authentication = new() { AllowedHosts = ["http://evil.example/"] },
        }));
        Assert.Contains("'http://evil.example/' is not a host name for --allowed-host", error.Message);
        Assert.False(Directory.Exists(dataDir));
    }

    [Fact]
    public async Task Over_https_the_names_in_the_certificate_are_answered()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "multivip-auth", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dataDir);
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=multivip-test", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("lb.multivip.test");
        names.AddDnsName("*.pool.multivip.test");
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var certPath = Path.Combine(dataDir, "api.crt");
        var keyPath = Path.Combine(dataDir, "api.key");
        await File.WriteAllTextAsync(certPath, certificate.ExportCertificatePem());
        await File.WriteAllTextAsync(keyPath, key.ExportPkcs8PrivateKeyPem());

        await using var f = await ServerFixture.StartAsync(dataDir, o => o with { Api = "https://127.0.0.1:0", TlsCertificate = certPath, TlsKey = keyPath });
        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, cert, _, _) => cert?.Thumbprint == certificate.Thumbprint };
        using var client = new HttpClient(handler) { BaseAddress = f.Server.Api };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", f.Server.Token);
        var port = f.Server.Api.Port;
        foreach (var (host, expected) in new[]
        {
            ($"lb.multivip.test:{port}", HttpStatusCode.OK),
            ($"a.pool.multivip.test:{port}", HttpStatusCode.OK),
            ($"a.b.pool.multivip.test:{port}", HttpStatusCode.MisdirectedRequest),
            ($"evil.example:{port}", HttpStatusCode.MisdirectedRequest),
        })
        {
            using var message = new HttpRequestMessage(HttpMethod.Get, ApiRoutes.Services);
            message.Headers.Host = host;
            Assert.Equal(expected, (await client.SendAsync(message)).StatusCode);
        }
    }

    [GeneratedRegex("name=\"csrf\" value=\"([^\"]+)\"")]
    private static partial Regex CsrfField();
}
