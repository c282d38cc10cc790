using System.Collections.Concurrent;
using System.Collections.Specialized;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using MultiVip.Contracts;

namespace MultiVip.Cli.Tests.Support;

internal sealed record RecordedRequest(string Method, string PathAndQuery, NameValueCollection Headers, string Body);

internal sealed record FakeResponse(int Status, string? Body = null, IReadOnlyDictionary<string, string>? Headers = null)
{
    public static FakeResponse Json(int status, object body, IReadOnlyDictionary<string, string>? headers = null) =>
        new(status, JsonSerializer.Serialize(body, body.GetType(), ApiJson.Options), headers);

    public static FakeResponse Error(int status, string code, string message) =>
        new(status, JsonSerializer.Serialize(new { code, message }));
}

/// <summary>
/// A real HTTP server on a loopback port whose answers each test scripts: the client under test
/// goes through real sockets and HttpClient, nothing is mocked.
/// </summary>
internal sealed class FakeServer : IAsyncDisposable
{
    private readonly HttpListener listener;
    private readonly Func<RecordedRequest, FakeResponse> handler;
    private readonly Task loop;

    public FakeServer(Func<RecordedRequest, FakeResponse> handler)
    {
        this.handler = handler;
        (listener, Url) = Start();
        loop = Task.Run(ServeAsync);
    }

    public Uri Url { get; }

    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    public async ValueTask DisposeAsync()
    {
        // Close alone (no Stop first): after Stop, the managed HttpListener's Close looks the port up
        // again and re-binds it, which fails if another test has taken the port meanwhile.
        try
        {
            listener.Close();
        }
        catch (HttpListenerException)
        {
        }

        try
        {
            await loop;
        }
        catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
        {
        }
    }

    /// <summary>HttpListener cannot bind port 0, so borrow a free port from the OS and retry if it was taken meanwhile.</summary>
    private static (HttpListener, Uri) Start()
    {
        for (var attempt = 0; ; attempt++)
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            var port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            var url = new Uri($"http://127.0.0.1:{port}/");
            var http = new HttpListener();
            http.Prefixes.Add(url.ToString());
            try
            {
                http.Start();
                return (http, url);
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                http.Close();
            }
        }
    }

    private async Task ServeAsync()
    {
        while (listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
            var request = new RecordedRequest(
                context.Request.HttpMethod,
                context.Request.Url!.PathAndQuery,
                context.Request.Headers,
                await reader.ReadToEndAsync());
            Requests.Enqueue(request);

            FakeResponse response;
            try
            {
                response = handler(request);
            }
            catch (Exception e)
            {
                response = FakeResponse.Error(500, "InternalError", "test handler failed: " + e.Message);
            }

            context.Response.StatusCode = response.Status;
            foreach (var (name, value) in response.Headers ?? new Dictionary<string, string>())
            {
                context.Response.AddHeader(name, value);
            }

            var bytes = Encoding.UTF8.GetBytes(response.Body ?? string.Empty);
            if (response.Body is not null)
            {
                context.Response.ContentType = "application/json; charset=utf-8";
            }

            context.Response.ContentLength64 = bytes.Length;
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        }
    }
}
