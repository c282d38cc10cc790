using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using MultiVip.Contracts;
using MultiVip.Model.Operations;
using MultiVip.Server.Hosting;

namespace MultiVip.Server.Tests;

/// <summary>A real server on 127.0.0.1:0 with its own data dir, and a raw HTTP client for it.</summary>
internal sealed class ServerFixture : IAsyncDisposable
{
    private ServerFixture(RunningServer server, string dataDir, ServerOptions options)
    {
        Server = server;
        DataDir = dataDir;
        Options = options;
        Http = new HttpClient { BaseAddress = server.Api, Timeout = TimeSpan.FromSeconds(30) };
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", server.Token);
    }

    public RunningServer Server { get; private set; }

    public string DataDir { get; }

    public ServerOptions Options { get; }

    public HttpClient Http { get; private set; }

    public static async Task<ServerFixture> StartAsync(string? dataDir = null, Func<ServerOptions, ServerOptions>? configure = null)
    {
        dataDir ??= Path.Combine(Path.GetTempPath(), "multivip-tests", Guid.NewGuid().ToString("N"));
        var options = new ServerOptions { DataDir = dataDir, Api = "http://127.0.0.1:0", Dns = "127.0.0.1:0", VipPools = [UniquePool()] };
        options = configure?.Invoke(options) ?? options;
        return new ServerFixture(await ServerHost.StartAsync(options), dataDir, options);
    }

    /// <summary>Each test server gets its own /24 inside 127.100.0.0/16 so parallel tests never share VIP addresses.</summary>
    public static string UniquePool()
    {
        var n = Interlocked.Increment(ref s_pools);
        return $"127.100.{n % 250}.0/24";
    }

    private static int s_pools = Random.Shared.Next(0, 250);

    /// <summary>Stops and starts the server on the same data dir: what a restart sees.</summary>
    public async Task RestartAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
        Server = await ServerHost.StartAsync(Options);
        Http = new HttpClient { BaseAddress = Server.Api };
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Server.Token);
    }

    public async Task<Operation> SendAsync(HttpMethod method, string path, object? body = null, string? ifMatch = null)
    {
        var response = await SendRawAsync(method, path, body, ifMatch);
        var text = await response.Content.ReadAsStringAsync();
        if (response.StatusCode != HttpStatusCode.Accepted)
        {
            throw new ApiError(response.StatusCode, JsonSerializer.Deserialize<ErrorBodyDto>(text, ApiJson.Options)!);
        }

        Assert.Equal($"/api/operations/", response.Headers.Location!.OriginalString[..16]);
        var operation = JsonSerializer.Deserialize<Operation>(text, ApiJson.Options)!;
        return await WaitAsync(operation);
    }

    public async Task<HttpResponseMessage> SendRawAsync(HttpMethod method, string path, object? body = null, string? ifMatch = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body, body.GetType(), options: ApiJson.Options);
        }

        if (ifMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        }

        return await Http.SendAsync(request);
    }

    /// <summary>Polls the operation until it leaves InProgress (bounded).</summary>
    public async Task<Operation> WaitAsync(Operation operation)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (operation.OperationStatus == OperationStatus.InProgress)
        {
            Assert.True(DateTime.UtcNow < deadline, $"operation {operation.OperationId} still InProgress");
            await Task.Delay(20);
            operation = (await GetAsync<Operation>(ApiRoutes.Operation(operation.OperationId)))!;
        }

        return operation;
    }

    public async Task<T> GetAsync<T>(string path)
    {
        var response = await Http.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new ApiError(response.StatusCode, JsonSerializer.Deserialize<ErrorBodyDto>(text, ApiJson.Options)!);
        }

        return JsonSerializer.Deserialize<T>(text, ApiJson.Options)!;
    }

    public async Task<ApiError> ExpectErrorAsync(HttpMethod method, string path, object? body = null)
    {
        var error = await Assert.ThrowsAsync<ApiError>(() => method == HttpMethod.Get ? GetAsync<JsonElement>(path) : SendAsync(method, path, body));
        return error;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

internal sealed record ErrorBodyDto(string Code, string Message);

internal sealed class ApiError(HttpStatusCode status, ErrorBodyDto body) : Exception($"{(int)status} {body.Code}: {body.Message}")
{
    public HttpStatusCode Status { get; } = status;

    public string Code { get; } = body.Code;

    public string Text { get; } = body.Message;
}
