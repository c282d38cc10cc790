namespace MultiVip.Contracts;

/// <summary>
/// The REST API's resource URLs, shared by the server and the client so they cannot drift.
/// Names in paths are escaped by the client.
/// </summary>
public static class ApiRoutes
{
    public const string DefaultApi = "http://127.0.0.1:7400";

    public const string Services = "/api/services";

    public const string OpenApiDocument = "/openapi/v1.json";

    public static string Service(string service) => $"{Services}/{E(service)}";

    public static string Deployment(string service) => $"{Service(service)}/deployment";

    public static string VirtualIps(string service) => $"{Service(service)}/virtual-ips";

    public static string VirtualIp(string service, string vip) => $"{VirtualIps(service)}/{E(vip)}";

    public static string Vms(string service) => $"{Service(service)}/vms";

    public static string Vm(string service, string vm) => $"{Vms(service)}/{E(vm)}";

    /// <summary>PUT: a VM's maintenance state (enabled, draining, disabled).</summary>
    public static string VmState(string service, string vm) => $"{Vm(service, vm)}/state";

    public static string Endpoints(string service, string vm) => $"{Vm(service, vm)}/endpoints";

    public static string Endpoint(string service, string vm, string endpoint) => $"{Endpoints(service, vm)}/{E(endpoint)}";

    public static string LoadBalancedSets(string service) => $"{Service(service)}/load-balanced-sets";

    public static string LoadBalancedSet(string service, string set) => $"{LoadBalancedSets(service)}/{E(set)}";

    public const string ReservedIps = "/api/reserved-ips";

    public static string ReservedIp(string name) => $"{ReservedIps}/{E(name)}";

    public static string ReservedIpAssociation(string name) => $"{ReservedIp(name)}/association";

    public const string Operations = "/api/operations";

    /// <summary>The most operations one list returns (`?limit=`, 1 to this); more is refused, not clamped.</summary>
    public const int MaxOperationsLimit = 1000;

    public static string Operation(Guid id) => $"{Operations}/{id}";

    /// <summary>The nodes sharing this state, with their heartbeat, applied generation, state and faults.</summary>
    public const string Nodes = "/api/nodes";

    /// <summary>A consistent snapshot of the state store (SQLite file), for <c>multivip backup</c>.</summary>
    public const string Backup = "/api/backup";

    /// <summary>Usage of every service and reserved IP (docs/usage.md).</summary>
    public const string Usage = "/api/usage";

    /// <summary>This node's VIP ownership history with --announce vrrp or bgp (docs/network.md#several-nodes).</summary>
    public const string NetworkOwnership = "/api/network/ownership";

    public static string ServiceUsage(string service) => $"{Service(service)}/usage";

    private static string E(string segment) => Uri.EscapeDataString(segment);
}

/// <summary>JSON settings both ends use: camelCase, enums as strings, unknown fields rejected.</summary>
public static class ApiJson
{
    public static readonly System.Text.Json.JsonSerializerOptions Options = Create();

    public static System.Text.Json.JsonSerializerOptions Create()
    {
        var options = new System.Text.Json.JsonSerializerOptions(System.Text.Json.JsonSerializerDefaults.Web)
        {
            UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
            DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.Never,
            MaxDepth = 32,
        };
        Configure(options);
        return options;
    }

    /// <summary>Applies the API's settings to options someone else created (ASP.NET Core's).</summary>
    public static void Configure(System.Text.Json.JsonSerializerOptions options)
    {
        // Numbers are JSON numbers, as the OpenAPI document types them (the web defaults would also
        // read "8080", and document every number as integer-or-string).
        options.NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict;
        options.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.CamelCase;
        options.UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow;
        options.MaxDepth = 32;
        options.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter(System.Text.Json.JsonNamingPolicy.CamelCase, allowIntegerValues: false));
    }
}
