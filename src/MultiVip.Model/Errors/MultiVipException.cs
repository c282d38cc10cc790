namespace MultiVip.Model.Errors;

/// <summary>
/// A rule of the domain was broken. Carries the Service Management code and a message that says
/// what is wrong and how to fix it; the API turns it into <c>{code, message}</c>.
/// </summary>
public sealed class MultiVipException : Exception
{
    public MultiVipException(ErrorCode code, string message)
        : base(message) => Code = code;

    /// <summary>With the failure underneath (a full disk's SQLite error), kept for the server log.</summary>
    public MultiVipException(ErrorCode code, string message, Exception inner)
        : base(message, inner) => Code = code;

    public ErrorCode Code { get; }

    public static MultiVipException BadRequest(string message) => new(ErrorCode.BadRequest, message);

    public static MultiVipException NotFound(string message) => new(ErrorCode.ResourceNotFound, message);

    public static MultiVipException Conflict(string message) => new(ErrorCode.ConflictError, message);

    public static MultiVipException PreconditionFailed(string message) => new(ErrorCode.PreconditionFailed, message);
}
