using System.Globalization;
using System.Text;
using MultiVip.Client;

namespace MultiVip.PowerShell.Infrastructure;

/// <summary>
/// A service error as the classic Azure module surfaced it: the code and message wrapped in
/// Azure's sentence, so scripts that matched on "Service Management Error Code: ConflictError" keep working.
/// </summary>
public sealed class ServiceManagementException : Exception
{
    // Azure: Resources.ServiceManagementClientExceptionStringFormat.
    private static readonly CompositeFormat Format = CompositeFormat.Parse(
        "An exception occurred when calling the ServiceManagement API. HTTP Status Code: {0}. Service Management Error Code: {1}. Message: {2}. Operation Tracking ID: {3}.");

    public ServiceManagementException()
        : this(string.Empty)
    {
    }

    public ServiceManagementException(string message)
        : base(message)
    {
        ErrorCode = string.Empty;
    }

    public ServiceManagementException(string message, Exception innerException)
        : base(message, innerException)
    {
        ErrorCode = string.Empty;
    }

    internal ServiceManagementException(MultiVipApiException inner)
        : base(Wrap(inner), inner)
    {
        ErrorCode = inner.Code;
        HttpStatusCode = inner.HttpStatus;
        OperationTrackingId = inner.OperationId;
        ServiceMessage = inner.Message;
    }

    /// <summary>Service Management error code, e.g. BadRequest or ConflictError.</summary>
    public string ErrorCode { get; }

    public int HttpStatusCode { get; }

    /// <summary>The failed operation, when the change was accepted before it failed; null when it was refused at once.</summary>
    public Guid? OperationTrackingId { get; }

    /// <summary>The server's message alone, without Azure's wrapping.</summary>
    public string? ServiceMessage { get; }

    internal static string Wrap(MultiVipApiException e) => string.Format(
        CultureInfo.InvariantCulture,
        Format,
        e.HttpStatus,
        e.Code,
        e.Message.TrimEnd('.'),
        e.OperationId?.ToString() ?? string.Empty);
}
