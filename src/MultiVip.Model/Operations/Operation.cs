using System.Text.Json.Serialization;

namespace MultiVip.Model.Operations;

[JsonConverter(typeof(JsonStringEnumConverter<OperationStatus>))]
public enum OperationStatus
{
    // Azure spells statuses in PascalCase on the wire, unlike protocol and distribution values.
    [JsonStringEnumMemberName("InProgress")]
    InProgress,
    [JsonStringEnumMemberName("Succeeded")]
    Succeeded,
    [JsonStringEnumMemberName("Failed")]
    Failed,
}

/// <summary>
/// One change, as the cmdlets print it (OperationDescription / OperationId / OperationStatus), plus
/// the audit trail: when, by whom, on what.
/// </summary>
public sealed record Operation
{
    public Guid OperationId { get; init; }

    /// <summary>The cmdlet that names the change, e.g. Add-AzureVirtualIP.</summary>
    public required string OperationDescription { get; init; }

    public OperationStatus OperationStatus { get; init; }

    public string? ErrorCode { get; init; }

    public string? ErrorMessage { get; init; }

    /// <summary>The cloud service (or reserved IP) the change was made to.</summary>
    public string? Target { get; init; }

    public string? Caller { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset? CompletedAt { get; init; }

    /// <summary>The desired-state generation that contains this change; done when the data plane applied it.</summary>
    public long Generation { get; init; }
}
