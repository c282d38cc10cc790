using System.ComponentModel.DataAnnotations;
using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using MultiVip.Contracts;

namespace MultiVip.Server.Api;

/// <summary>
/// What the generated OpenAPI document cannot infer from the handlers, told once: the bearer
/// scheme (applied to the whole document; an anonymous endpoint would get <c>security: []</c>),
/// the <c>{code, message}</c> error responses every operation can answer, the ETag a read returns
/// and the If-Match a change accepts (marked on the routes with <see cref="WithETag"/> and
/// <see cref="AcceptsIfMatch"/>), request enums and required fields (attributes on the contract
/// types), and the rule that a response always carries every field the serializer writes.
/// Linted by Redocly's recommended rules in tests/MultiVip.Server.Tests/OpenApi.
/// </summary>
internal static class OpenApiDocumentation
{
    public const string BearerScheme = "bearer";

    private static readonly Dictionary<string, string> TagDescriptions = new(StringComparer.Ordinal)
    {
        ["Cloud services"] = "Cloud services, their Production deployment, virtual IPs, VMs, input endpoints and load-balanced sets.",
        ["Reserved IPs"] = "Addresses reserved from the pool, and their association with a service's VIP.",
        ["Operations"] = "Every change is an operation: 202 with its Location, then InProgress, Succeeded or Failed.",
        ["Backup"] = "A consistent snapshot of the state store.",
        ["Usage"] = "What Azure would bill: VIP-hours of extra VIPs, reserved-IP hours, bytes per VIP.",
        ["Network"] = "How VIP addresses reach the network: which this node holds or announces (--announce local, vrrp, bgp) and the failover history.",
        ["Nodes"] = "The nodes sharing the state: API address, heartbeat, applied generation, state (Ready, Lagging, Down), data-plane faults, and the VIPs each holds.",
    };

    /// <summary>Error statuses by what an operation does (docs/api.md#errors lists them all).</summary>
    private static readonly (int Status, string Description)[] EveryOperation =
    [
        (400, "BadRequest: a value cannot be read or breaks a rule; every problem is listed in `errors`."),
        (401, "Unauthorized: no or a wrong bearer token."),
        (404, "ResourceNotFound: the service, VM, endpoint or other resource named in the path does not exist."),
        (421, "MisdirectedRequest: the Host header does not name this server."),
        (429, "TooManyRequests: too many wrong tokens from this address; see Retry-After."),
        (500, "InternalError: a bug; nothing was changed."),
        (503, "ServiceUnavailable: the change could not be committed; nothing changed, retry."),
    ];

    private static readonly (int Status, string Description)[] EveryChange =
    [
        (409, "ConflictError: the change conflicts with the state (a duplicate, a limit, a VIP in use, an exhausted pool)."),
        (507, "InsufficientStorage: the disk of the data dir is full; retry once there is space."),
    ];

    private static readonly (int Status, string Description)[] EveryBody =
    [
        (413, "RequestTooLarge: the body is larger than --max-request-body."),
        (415, "UnsupportedMediaType: the body is not sent as application/json."),
    ];

    public static IServiceCollection AddMultiVipOpenApi(this IServiceCollection services) =>
        services.AddOpenApi(options =>
        {
            options.AddDocumentTransformer(DocumentAsync);
            options.AddOperationTransformer(OperationAsync);
            options.AddSchemaTransformer(SchemaAsync);
        });

    /// <summary>A read that returns <c>ETag: "&lt;version&gt;"</c>.</summary>
    public static RouteHandlerBuilder WithETag(this RouteHandlerBuilder builder, string of) =>
        builder.WithMetadata(new ETagMetadata(of));

    /// <summary>A change that honours <c>If-Match</c> (412 when stale).</summary>
    public static RouteHandlerBuilder AcceptsIfMatch(this RouteHandlerBuilder builder, string of) =>
        builder.WithMetadata(new IfMatchMetadata(of));

    private static Task DocumentAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        var version = typeof(OpenApiDocumentation).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "1.0.0";
        document.Info = new OpenApiInfo
        {
            Title = "MultiVip",
            Version = version.Split('+')[0],
            Description = "Azure classic cloud services' VIPs, input endpoints and load-balanced sets on machines you own. Every route takes `Authorization: Bearer <token>` (the token is in <data-dir>/token). Errors are `{code, message}`.",
        };

        // The generator names the URL the document was fetched from with a trailing slash, which
        // joins into "//api" with the paths.
        foreach (var server in document.Servers ?? [])
        {
            server.Url = server.Url?.TrimEnd('/');
        }

        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            Description = "The server's API token: <data-dir>/token (generated at first start), or --token.",
        };
        document.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, document)] = [] }];

        foreach (var tag in document.Tags ?? new HashSet<OpenApiTag>())
        {
            if (tag.Name is { } name && TagDescriptions.TryGetValue(name, out var description))
            {
                tag.Description = description;
            }
        }

        return Task.CompletedTask;
    }

    private static async Task OperationAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var metadata = context.Description.ActionDescriptor.EndpointMetadata;
        if (metadata.OfType<IAllowAnonymous>().Any())
        {
            // Public: no token needed, overriding the document-wide requirement.
            operation.Security = [];
        }

        var method = context.Description.HttpMethod ?? "GET";
        var isChange = !HttpMethods.IsGet(method);
        var errors = EveryOperation.AsEnumerable();
        if (isChange)
        {
            errors = errors.Concat(EveryChange);
        }

        if (operation.RequestBody is not null)
        {
            errors = errors.Concat(EveryBody);
        }

        var ifMatch = metadata.OfType<IfMatchMetadata>().FirstOrDefault();
        if (ifMatch is not null)
        {
            errors = errors.Append((412, $"PreconditionFailed: If-Match names an older version of {ifMatch.Of}; read it again and retry."));
            operation.Parameters ??= new List<IOpenApiParameter>();
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = "If-Match",
                In = ParameterLocation.Header,
                Required = false,
                Description = $"The ETag of {ifMatch.Of} as last read (\"<version>\", several separated by commas, or *): the change is refused with 412 when it has changed since.",
                Schema = new OpenApiSchema { Type = JsonSchemaType.String },
            });
        }

        var errorSchema = await context.GetOrCreateSchemaAsync(typeof(ErrorBody), null, cancellationToken);
        context.Document?.AddComponent(nameof(ErrorBody), errorSchema);
        operation.Responses ??= new OpenApiResponses();
        foreach (var (status, description) in errors)
        {
            operation.Responses[status.ToString(System.Globalization.CultureInfo.InvariantCulture)] = new OpenApiResponse
            {
                Description = description,
                Content = new Dictionary<string, OpenApiMediaType>
                {
                    ["application/json"] = new() { Schema = new OpenApiSchemaReference(nameof(ErrorBody), context.Document) },
                },
            };
        }

        if (metadata.OfType<ETagMetadata>().FirstOrDefault() is { } etag && operation.Responses.TryGetValue("200", out var ok) && ok is OpenApiResponse okResponse)
        {
            okResponse.Headers ??= new Dictionary<string, IOpenApiHeader>();
            okResponse.Headers["ETag"] = new OpenApiHeader
            {
                Description = $"The version of {etag.Of} (\"<version>\"): send it as If-Match with a change to refuse the change if someone changed it first.",
                Schema = new OpenApiSchema { Type = JsonSchemaType.String },
            };
        }

        if (operation.Responses.TryGetValue("202", out var accepted) && accepted is OpenApiResponse acceptedResponse)
        {
            acceptedResponse.Description = "The change is stored; the body is its operation (usually already Succeeded), Location names it for polling.";
            acceptedResponse.Headers ??= new Dictionary<string, IOpenApiHeader>();
            acceptedResponse.Headers["Location"] = new OpenApiHeader
            {
                Description = "/api/operations/{id} of the operation.",
                Schema = new OpenApiSchema { Type = JsonSchemaType.String },
            };
        }
    }

    private static Task SchemaAsync(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        if (context.JsonPropertyInfo is { } property)
        {
            Property(schema, property);
            return Task.CompletedTask;
        }

        var type = context.JsonTypeInfo;
        if (type.Kind != JsonTypeInfoKind.Object || schema.Properties is null || type.Type.Namespace?.StartsWith("MultiVip.", StringComparison.Ordinal) != true)
        {
            return Task.CompletedTask;
        }

        schema.Required ??= new HashSet<string>(StringComparer.Ordinal);
        if (IsRequest(type.Type))
        {
            foreach (var member in type.Type.GetCustomAttribute<RequiredMembersAttribute>()?.Names ?? [])
            {
                schema.Required.Add(System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(member));
            }

            // [Required] fields: present and not null (the server answers 400 otherwise).
            foreach (var name in schema.Required)
            {
                if (schema.Properties.TryGetValue(name, out var field) && field is OpenApiSchema concrete && concrete.Type is { } t)
                {
                    concrete.Type = t & ~JsonSchemaType.Null;
                    if (concrete.Enum is { } spellings)
                    {
                        concrete.Enum = [.. spellings.Where(v => !JsonNullSentinel.IsJsonNullSentinel(v))];
                    }
                }
            }

            return Task.CompletedTask;
        }

        // A response carries every field the serializer writes (nulls included: the API never
        // omits a null), except those marked to be left out when empty.
        foreach (var p in type.Properties)
        {
            if (p.AttributeProvider?.GetCustomAttributes(typeof(JsonIgnoreAttribute), inherit: true).Length is null or 0 && p.Get is not null)
            {
                schema.Required.Add(p.Name);
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>A request's enumeration travels as a string (parsed with the domain's messages): its spellings as an enum.</summary>
    private static void Property(OpenApiSchema schema, JsonPropertyInfo property)
    {
        if (property.AttributeProvider?.GetCustomAttributes(typeof(AllowedValuesAttribute), inherit: true).FirstOrDefault() is AllowedValuesAttribute allowed)
        {
            var values = allowed.Values.Select(v => (JsonNode)JsonValue.Create(Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture))!).ToList();
            if (schema.Type?.HasFlag(JsonSchemaType.Null) == true)
            {
                values.Add(JsonNullSentinel.JsonNull);
            }

            schema.Enum = values;
        }
    }

    private static bool IsRequest(Type type) =>
        type.Name.EndsWith("Request", StringComparison.Ordinal) || typeof(EndpointSettings).IsAssignableFrom(type);

    private sealed record ETagMetadata(string Of);

    private sealed record IfMatchMetadata(string Of);
}
