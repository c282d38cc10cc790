using MultiVip.Contracts;

namespace MultiVip.Client;

/// <summary>
/// The server refused a request (<c>{code, message}</c> body) or an operation ended Failed.
/// <see cref="Exception.Message"/> is the server's message, unchanged, so callers can show it as is.
/// </summary>
public sealed class MultiVipApiException : Exception
{
    public MultiVipApiException(string code, int httpStatus, string message, Guid? operationId = null, Exception? innerException = null, IReadOnlyList<ErrorBody>? errors = null)
        : base(message, innerException)
    {
        Code = code;
        HttpStatus = httpStatus;
        OperationId = operationId;
        Errors = errors is { Count: > 0 } ? errors : [new ErrorBody(code, message)];
    }

    /// <summary>Each problem of a request refused for several reasons (the body's <c>errors</c>); the one error otherwise.</summary>
    public IReadOnlyList<ErrorBody> Errors { get; }

    /// <summary>Service Management error code, e.g. ConflictError.</summary>
    public string Code { get; }

    /// <summary>HTTP status of the response; for a failed operation, the status its code travels with.</summary>
    public int HttpStatus { get; }

    /// <summary>Set when an operation was accepted and then failed or did not finish in time.</summary>
    public Guid? OperationId { get; }
}

/// <summary>
/// No server could be found or reached. Kept apart from <see cref="MultiVipApiException"/> because
/// the fix is on the user's side (start the server, pass --api/--token), not in the request.
/// </summary>
public sealed class MultiVipConnectionException : Exception
{
    public MultiVipConnectionException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}
