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
    // Azure: Resources.ServiceManagementClientExceptionStringFormat. Azure always had a request id to
    // print; a request we refuse before creating an operation has none, so that sentence is left out
    // rather than printed empty ("Operation Tracking ID: .").
    private static readonly CompositeFormat Format = CompositeFormat.Parse(
        "An exception occurred when calling the ServiceManagement API. HTTP Status Code: {0}. Service Management Error Code: {1}. Message: {2}.");

    private static readonly CompositeFormat TrackedFormat = CompositeFormat.Parse(" Operation Tracking ID: {0}.");

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

    internal static string Wrap(MultiVipApiException e)
    {
        var text = string.Format(CultureInfo.InvariantCulture, Format, e.HttpStatus, e.Code, e.Message.TrimEnd('.'));
        return e.OperationId is { } id ? text + string.Format(CultureInfo.InvariantCulture, TrackedFormat, id) : text;
    }
}
