using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using MultiVip.Contracts;
using MultiVip.Model.Errors;
using MultiVip.Model.Operations;
using MultiVip.Model.ReservedIps;
using MultiVip.Model.Services;

namespace MultiVip.Client;

/// <summary>
/// Typed client of the MultiVip REST API: one method per route. Mutations submit the change
/// (202 + Operation) and, unless told otherwise, poll the operation until it finished; a Failed
/// operation throws <see cref="MultiVipApiException"/>. UI-free, so the CLI and the PowerShell
/// module share it.
/// </summary>
public sealed class MultiVipClient : IDisposable
{
    private readonly HttpClient http;
    private readonly Uri baseUri;
    private readonly MultiVipClientOptions options;

    public MultiVipClient(ClientConnection connection, MultiVipClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        Connection = connection;
        this.options = options ?? new MultiVipClientOptions();

        // A trailing slash makes relative resolution keep a path prefix (a server behind a reverse proxy).
        var api = connection.Api.ToString();
        baseUri = new Uri(api.EndsWith('/') ? api : api + "/", UriKind.Absolute);
        http = new HttpClient { Timeout = this.options.RequestTimeout };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", connection.Token);
        http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("multivip-client", "1.0"));
    }

    public ClientConnection Connection { get; }

    public void Dispose() => http.Dispose();

    /// <summary>The URL as the user wrote it, for messages.</summary>
    private string ApiText => Connection.Api.OriginalString;

    // Cloud services

    public async Task<IReadOnlyList<ServiceView>> ListServicesAsync(CancellationToken cancellationToken = default) =>
        (await GetAsync<List<ServiceView>>(ApiRoutes.Services, cancellationToken).ConfigureAwait(false)).Value;

    public Task<Versioned<ServiceView>> GetServiceAsync(string service, CancellationToken cancellationToken = default) =>
        GetAsync<ServiceView>(ApiRoutes.Service(service), cancellationToken);

    public Task<Operation> CreateServiceAsync(CreateServiceRequest request, bool waitForCompletion = true, CancellationToken cancellationToken = default) =>
        MutateAsync(HttpMethod.Post, ApiRoutes.Services, request, null, waitForCompletion, cancellationToken);

    public Task<Operation> DeleteServiceAsync(string service, bool deleteAll = false, string? ifMatch = null, bool waitForCompletion = true, CancellationToken cancellationToken = default) =>
        MutateAsync(HttpMethod.Delete, $"{ApiRoutes.Service(service)}?deleteAll={(deleteAll ? "true" : "false")}", null, ifMatch, waitForCompletion, cancellationToken);

    /// <summary>This node's VIP ownership history (--announce vrrp|bgp).</summary>
    public async Task<NetworkOwnershipView> GetNetworkOwnershipAsync(CancellationToken cancellationToken = default) =>
        (await GetAsync<NetworkOwnershipView>(ApiRoutes.NetworkOwnership, cancellationToken).ConfigureAwait(false)).Value;

    public Task<Versioned<DeploymentView>> GetDeploymentAsync(string service, CancellationToken cancellationToken = default) =>
        GetAsync<DeploymentView>(ApiRoutes.Deployment(service), cancellationToken);

    // Virtual IPs

    public async Task<IReadOnlyList<VirtualIp>> ListVirtualIpsAsync(string service, CancellationToken cancellationToken = default) =>
        (await GetAsync<List<VirtualIp>>(ApiRoutes.VirtualIps(service), cancellationToken).ConfigureAwait(false)).Value;

    public Task<Operation> AddVirtualIpAsync(string service, AddVirtualIpRequest request, string? ifMatch = null, bool waitForCompletion = true, CancellationToken cancellationToken = default) =>
        MutateAsync(HttpMethod.Post, ApiRoutes.VirtualIps(service), request, ifMatch, waitForCompletion, cancellationToken);

    public Task<Operation> RemoveVirtualIpAsync(string service, string virtualIp, string? ifMatch = null, bool waitForCompletion = true, CancellationToken cancellationToken = default) =>
        MutateAsync(HttpMethod.Delete, ApiRoutes.VirtualIp(service, virtualIp), null, ifMatch, waitForCompletion, cancellationToken);

    // VMs

    public async Task<IReadOnlyList<VirtualMachine>> ListVmsAsync(string service, CancellationToken cancellationToken = default) =>
        (await GetAsync<List<VirtualMachine>>(ApiRoutes.Vms(service), cancellationToken).ConfigureAwait(false)).Value;

    public Task<Versioned<VirtualMachine>> GetVmAsync(string service, string vm, CancellationToken cancellationToken = default) =>
        GetAsync<VirtualMachine>(ApiRoutes.Vm(service, vm), cancellationToken);

    public Task<Operation> AddVmAsync(string service, AddVmRequest request, string? ifMatch = null, bool waitForCompletion = true, CancellationToken cancellationToken = default) =>
        MutateAsync(HttpMethod.Post, ApiRoutes.Vms(service), request, ifMatch, waitForCompletion, cancellationToken);

    /// <summary>Update-AzureVM: replaces the VM's endpoint list; pass the VM's ETag to refuse a stale write.</summary>
    public Task<Operation> UpdateVmAsync(string service, string vm, UpdateVmRequest request, string? ifMatch = null, bool waitForCompletion = true, CancellationToken cancellationToken = default) =>
        MutateAsync(HttpMethod.Put, ApiRoutes.Vm(service, vm), request, ifMatch, waitForCompletion, cancellationToken);

    /// <summary>Set-AzureVMState: enabled, draining or disabled (docs/operations.md#vm-maintenance).</summary>
    public Task<Operation> SetVmStateAsync(string service, string vm, SetVmStateRequest request, string? ifMatch = null, bool waitForCompletion = true, CancellationToken cancellationToken = default) =>
        MutateAsync(HttpMethod.Put, ApiRoutes.VmState(service, vm), request, ifMatch, waitForCompletion, cancellationToken);

    public Task<Operation> RemoveVmAsync(string service, string vm, string? ifMatch = null, bool waitForCompletion = true, CancellationToken cancellationToken = default) =>
        MutateAsync(HttpMethod.Delete, ApiRoutes.Vm(service, vm), null, ifMatch, waitForCompletion, cancellationToken);

    // Input endpoints

    public async Task<IReadOnlyList<InputEndpoint>> ListEndpointsAsync(string service, string vm, CancellationToken cancellationToken = default) =>
        (await GetAsync<List<InputEndpoint>>(ApiRoutes.Endpoints(service, vm), cancellationToken).ConfigureAwait(false)).Value;

    public Task<Versioned<InputEndpoint>> GetEndpointAsync(string service, string vm, string endpoint, CancellationToken cancellationToken = default) =>
        GetAsync<InputEndpoint>(ApiRoutes.Endpoint(service, vm, endpoint), cancellationToken);

    public Task<Operation> AddEndpointAsync(string service, string vm, EndpointRequest request, string? ifMatch = null, bool waitForCompletion = true, CancellationToken cancellationToken = default) =>
        MutateAsync(HttpMethod.Post, ApiRoutes.Endpoints(service, vm), request, ifMatch, waitForCompletion, cancellationToken);

    /// <summary>Set-AzureEndpoint: full replacement of the endpoint; pass the VM's ETag as <paramref name="ifMatch"/>.</summary>
    public Task<Operation> SetEndpointAsync(string service, string vm, string endpoint, EndpointRequest request, string? ifMatch = null, bool waitForCompletion = true, CancellationToken cancellationToken = default) =>
        MutateAsync(HttpMethod.Put, ApiRoutes.Endpoint(service, vm, endpoint), request, ifMatch, waitForCompletion, cancellationToken);

    public Task<Operation> RemoveEndpointAsync(string service, string vm, string endpoint, string? ifMatch = null, bool waitForCompletion = true, CancellationToken cancellationToken = default) =>
        MutateAsync(HttpMethod.Delete, ApiRoutes.Endpoint(service, vm, endpoint), null, ifMatch, waitForCompletion, cancellationToken);

    // Load-balanced sets

    public async Task<IReadOnlyList<LoadBalancedSetView>> ListLoadBalancedSetsAsync(string service, CancellationToken cancellationToken = default) =>
        (await GetAsync<List<LoadBalancedSetView>>(ApiRoutes.LoadBalancedSets(service), cancellationToken).ConfigureAwait(false)).Value;

    public async Task<LoadBalancedSetView> GetLoadBalancedSetAsync(string service, string set, CancellationToken cancellationToken = default) =>
        (await GetAsync<LoadBalancedSetView>(ApiRoutes.LoadBalancedSet(service, set), cancellationToken).ConfigureAwait(false)).Value;

    /// <summary>Set-AzureLoadBalancedEndpoint: only the given fields change, on every member.</summary>
    public Task<Operation> SetLoadBalancedSetAsync(string service, string set, SetLoadBalancedSetRequest request, string? ifMatch = null, bool waitForCompletion = true, CancellationToken cancellationToken = default) =>
        MutateAsync(HttpMethod.Patch, ApiRoutes.LoadBalancedSet(service, set), request, ifMatch, waitForCompletion, cancellationToken);

    // Reserved IPs

    public async Task<IReadOnlyList<ReservedIp>> ListReservedIpsAsync(CancellationToken cancellationToken = default) =>
        (await GetAsync<List<ReservedIp>>(ApiRoutes.ReservedIps, cancellationToken).ConfigureAwait(false)).Value;

    public async Task<ReservedIp> GetReservedIpAsync(string name, CancellationToken cancellationToken = default) =>
        (await GetAsync<ReservedIp>(ApiRoutes.ReservedIp(name), cancellationToken).ConfigureAwait(false)).Value;

    public Task<Operation> CreateReservedIpAsync(CreateReservedIpRequest request, bool waitForCompletion = true, CancellationToken cancellationToken = default) =>
        MutateAsync(HttpMethod.Post, ApiRoutes.ReservedIps, request, null, waitForCompletion, cancellationToken);

    public Task<Operation> RemoveReservedIpAsync(string name, bool waitForCompletion = true, CancellationToken cancellationToken = default) =>
        MutateAsync(HttpMethod.Delete, ApiRoutes.ReservedIp(name), null, null, waitForCompletion, cancellationToken);

    public Task<Operation> AssociateReservedIpAsync(string name, AssociateReservedIpRequest request, bool waitForCompletion = true, CancellationToken cancellationToken = default) =>
        MutateAsync(HttpMethod.Put, ApiRoutes.ReservedIpAssociation(name), request, null, waitForCompletion, cancellationToken);

    public Task<Operation> DisassociateReservedIpAsync(string name, bool waitForCompletion = true, CancellationToken cancellationToken = default) =>
        MutateAsync(HttpMethod.Delete, ApiRoutes.ReservedIpAssociation(name), null, null, waitForCompletion, cancellationToken);

    // Usage

    /// <summary>
    /// Usage over [from, to) (default: this month so far): of one service, or with
    /// <paramref name="service"/> null of every service and reserved IP (docs/usage.md).
    /// </summary>
    public async Task<UsageReport> GetUsageAsync(string? service, DateTimeOffset? from = null, DateTimeOffset? to = null, CancellationToken cancellationToken = default) =>
        (await GetAsync<UsageReport>((service is null ? ApiRoutes.Usage : ApiRoutes.ServiceUsage(service)) + UsageRange.Query(from, to), cancellationToken).ConfigureAwait(false)).Value;

    // Nodes

    /// <summary>The nodes sharing the server's state, by name, with their state as the answering node sees it.</summary>
    public async Task<IReadOnlyList<NodeView>> ListNodesAsync(CancellationToken cancellationToken = default) =>
        (await GetAsync<List<NodeView>>(ApiRoutes.Nodes, cancellationToken).ConfigureAwait(false)).Value;

    // Operations

    /// <summary>Newest first.</summary>
    public async Task<IReadOnlyList<Operation>> ListOperationsAsync(int? limit = null, CancellationToken cancellationToken = default)
    {
        var path = limit is { } n ? $"{ApiRoutes.Operations}?limit={n}" : ApiRoutes.Operations;
        return (await GetAsync<List<Operation>>(path, cancellationToken).ConfigureAwait(false)).Value;
    }

    public async Task<Operation> GetOperationAsync(Guid operationId, CancellationToken cancellationToken = default) =>
        (await GetAsync<Operation>(ApiRoutes.Operation(operationId), cancellationToken).ConfigureAwait(false)).Value;

    /// <summary>
    /// Polls until the operation is no longer InProgress (delay doubling from
    /// <see cref="MultiVipClientOptions.InitialPollDelay"/> to <see cref="MultiVipClientOptions.MaxPollDelay"/>).
    /// Throws <see cref="MultiVipApiException"/> when it Failed or did not finish within
    /// <see cref="MultiVipClientOptions.OperationTimeout"/>.
    /// </summary>
    public Task<Operation> WaitForOperationAsync(Operation operation, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(operation);
        return WaitAsync(operation, ApiRoutes.Operation(operation.OperationId), cancellationToken);
    }

    // Backup

    /// <summary>
    /// Streams a consistent snapshot of the server's state (an SQLite database file) into
    /// <paramref name="destination"/>; see <c>multivip backup</c>.
    /// </summary>
    public async Task DownloadBackupAsync(Stream destination, CancellationToken cancellationToken = default)
    {
        using var response = await SendAsync(HttpMethod.Get, ApiRoutes.Backup, null, null, cancellationToken, HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false);
        await response.Content.CopyToAsync(destination, cancellationToken).ConfigureAwait(false);
    }

    private async Task<Operation> MutateAsync(HttpMethod method, string path, object? body, string? ifMatch, bool wait, CancellationToken ct)
    {
        Operation submitted;
        string location;
        using (var response = await SendAsync(method, path, body, ifMatch, ct).ConfigureAwait(false))
        {
            submitted = await ReadAsync<Operation>(response, ct).ConfigureAwait(false);
            location = response.Headers.Location?.OriginalString ?? ApiRoutes.Operation(submitted.OperationId);
        }

        return wait ? await WaitAsync(submitted, location, ct).ConfigureAwait(false) : submitted;
    }

    private async Task<Operation> WaitAsync(Operation operation, string location, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var delay = options.InitialPollDelay;
        while (operation.OperationStatus == OperationStatus.InProgress)
        {
            if (clock.Elapsed >= options.OperationTimeout)
            {
                throw new MultiVipApiException(
                    "OperationTimeout",
                    0,
                    $"The operation {operation.OperationDescription} is still in progress after {options.OperationTimeout.TotalSeconds:0.#} s. It keeps running on the server; check it with multivip operation show --id {operation.OperationId}.",
                    operation.OperationId);
            }

            await Task.Delay(delay, ct).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, options.MaxPollDelay.Ticks));
            using var response = await SendAsync(HttpMethod.Get, location, null, null, ct).ConfigureAwait(false);
            operation = await ReadAsync<Operation>(response, ct).ConfigureAwait(false);
        }

        if (operation.OperationStatus == OperationStatus.Failed)
        {
            var code = operation.ErrorCode ?? nameof(ErrorCode.InternalError);
            var status = Enum.TryParse<ErrorCode>(code, ignoreCase: true, out var known) ? known.HttpStatus() : 500;
            throw new MultiVipApiException(
                code,
                status,
                operation.ErrorMessage ?? $"The operation {operation.OperationDescription} failed without a message.",
                operation.OperationId);
        }

        return operation;
    }

    private async Task<Versioned<T>> GetAsync<T>(string path, CancellationToken ct)
    {
        using var response = await SendAsync(HttpMethod.Get, path, null, null, ct).ConfigureAwait(false);
        var value = await ReadAsync<T>(response, ct).ConfigureAwait(false);
        return new Versioned<T>(value, response.Headers.ETag?.ToString());
    }

    /// <summary>Sends one request; returns only successful responses, turning everything else into our exceptions.</summary>
    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, object? body, string? ifMatch, CancellationToken ct, HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        var uri = Resolve(path);
        using var request = new HttpRequestMessage(method, uri);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body, body.GetType(), options: ApiJson.Options);
        }

        if (!string.IsNullOrEmpty(ifMatch))
        {
            // Sent verbatim: the ETag is opaque and already quoted as the server gave it.
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        }

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, completion, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException e) when (e.HttpRequestError == HttpRequestError.ConnectionError)
        {
            throw new MultiVipConnectionException(
                $"Cannot connect to the MultiVip server at {ApiText} ({e.Message}). Start it with `./multivip serve`, or point --api / MULTIVIP_API at the running server.",
                e);
        }
        catch (HttpRequestException e)
        {
            throw new MultiVipConnectionException($"The request to the MultiVip server at {ApiText} failed: {e.Message}", e);
        }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new MultiVipConnectionException(
                $"The MultiVip server at {ApiText} did not answer {method} {path} within {http.Timeout.TotalSeconds:0.#} s.", e);
        }

        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        using (response)
        {
            throw await ToExceptionAsync(response, ct).ConfigureAwait(false);
        }
    }

    private Uri Resolve(string path) =>
        Uri.TryCreate(path, UriKind.Absolute, out var absolute) && absolute.Scheme.StartsWith("http", StringComparison.Ordinal)
            ? absolute
            : new Uri(baseUri, path.TrimStart('/'));

    private async Task<T> ReadAsync<T>(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            var value = await response.Content.ReadFromJsonAsync<T>(ApiJson.Options, ct).ConfigureAwait(false);
            return value ?? throw new JsonException("The body is empty or null.");
        }
        catch (JsonException e)
        {
            throw new MultiVipApiException(
                "InvalidResponse",
                (int)response.StatusCode,
                $"The server at {ApiText} sent a {typeof(T).Name} this client cannot read ({e.Message}). Are client and server the same version?",
                innerException: e);
        }
    }

    private static async Task<MultiVipApiException> ToExceptionAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var status = (int)response.StatusCode;
        var text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);

        // Read {code, message} loosely: an error must never be hidden by a stricter parse failing.
        try
        {
            using var doc = JsonDocument.Parse(text);
            if (doc.RootElement.ValueKind == JsonValueKind.Object
                && TryGetString(doc.RootElement, "code") is { } code
                && TryGetString(doc.RootElement, "message") is { } message)
            {
                return new MultiVipApiException(code, status, message, errors: TryGetErrors(doc.RootElement));
            }
        }
        catch (JsonException)
        {
        }

        var fallbackCode = status switch
        {
            400 => nameof(ErrorCode.BadRequest),
            401 => nameof(ErrorCode.Unauthorized),
            404 => nameof(ErrorCode.ResourceNotFound),
            409 => nameof(ErrorCode.ConflictError),
            412 => nameof(ErrorCode.PreconditionFailed),
            413 => nameof(ErrorCode.RequestTooLarge),
            415 => nameof(ErrorCode.UnsupportedMediaType),
            507 => nameof(ErrorCode.InsufficientStorage),
            _ => nameof(ErrorCode.InternalError),
        };
        var detail = string.IsNullOrWhiteSpace(text) ? string.Empty : ": " + (text.Length > 200 ? text[..200] + "…" : text.Trim());
        return new MultiVipApiException(fallbackCode, status, $"HTTP {status} {response.ReasonPhrase ?? ((HttpStatusCode)status).ToString()}{detail}");
    }

    private static List<ErrorBody>? TryGetErrors(JsonElement element)
    {
        foreach (var property in element.EnumerateObject())
        {
            if (string.Equals(property.Name, "errors", StringComparison.OrdinalIgnoreCase) && property.Value.ValueKind == JsonValueKind.Array)
            {
                return property.Value.EnumerateArray()
                    .Where(e => e.ValueKind == JsonValueKind.Object)
                    .Select(e => (Code: TryGetString(e, "code"), Message: TryGetString(e, "message")))
                    .Where(e => e.Code is not null && e.Message is not null)
                    .Select(e => new ErrorBody(e.Code!, e.Message!))
                    .ToList();
            }
        }

        return null;
    }

    private static string? TryGetString(JsonElement element, string name)
    {
        foreach (var property in element.EnumerateObject())
        {
            if (string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase) && property.Value.ValueKind == JsonValueKind.String)
            {
                return property.Value.GetString();
            }
        }

        return null;
    }
}
