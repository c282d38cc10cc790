using MultiVip.Model.Operations;

namespace MultiVip.PowerShell.Objects;

/// <summary>What every mutating cmdlet returns; shown as the seed's OperationDescription / OperationId / OperationStatus table.</summary>
public class ManagementOperationContext
{
    public ManagementOperationContext(Operation operation)
    {
        ArgumentNullException.ThrowIfNull(operation);
        OperationDescription = operation.OperationDescription;
        OperationId = operation.OperationId.ToString();
        OperationStatus = operation.OperationStatus.ToString();
    }

    public string OperationDescription { get; }

    /// <summary>A string, as in Azure, so it prints as the bare GUID.</summary>
    public string OperationId { get; }

    public string OperationStatus { get; }
}

/// <summary>Get-AzureOperationStatus: the operation row plus its outcome and audit fields.</summary>
public sealed class OperationStatusContext : ManagementOperationContext
{
    public OperationStatusContext(Operation operation)
        : base(operation)
    {
        ErrorCode = operation.ErrorCode;
        ErrorMessage = operation.ErrorMessage;
        Target = operation.Target;
        Caller = operation.Caller;
        CreatedAt = operation.CreatedAt;
        CompletedAt = operation.CompletedAt;
    }

    public string? ErrorCode { get; }

    public string? ErrorMessage { get; }

    public string? Target { get; }

    public string? Caller { get; }

    public DateTimeOffset CreatedAt { get; }

    public DateTimeOffset? CompletedAt { get; }
}
