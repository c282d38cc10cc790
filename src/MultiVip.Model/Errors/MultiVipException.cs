namespace MultiVip.Model.Errors;

/// <summary>
/// A rule of the domain was broken. Carries the Service Management code and a message that says
/// what is wrong and how to fix it; the API turns it into <c>{code, message}</c>. A change refused
/// for several reasons carries each of them in <see cref="Errors"/>: its code is the first one's,
/// and its message lists them all.
/// </summary>
public sealed class MultiVipException : Exception
{
    public MultiVipException(ErrorCode code, string message)
        : base(message)
    {
        Code = code;
        Errors = [new ErrorDetail(code, message)];
    }

    /// <summary>With the failure underneath (a full disk's SQLite error), kept for the server log.</summary>
    public MultiVipException(ErrorCode code, string message, Exception inner)
        : base(message, inner)
    {
        Code = code;
        Errors = [new ErrorDetail(code, message)];
    }

    /// <summary>Every problem of one refused change, in the order they were found (at least one).</summary>
    public MultiVipException(IReadOnlyList<ErrorDetail> errors)
        : base(Messages.All(errors.Select(e => e.Message).ToList()))
    {
        ArgumentOutOfRangeException.ThrowIfZero(errors.Count);
        Code = errors[0].Code;
        Errors = errors;
    }

    public ErrorCode Code { get; }

    /// <summary>Each problem with its own code; a single one for an exception made from one message.</summary>
    public IReadOnlyList<ErrorDetail> Errors { get; }

    public static MultiVipException BadRequest(string message) => new(ErrorCode.BadRequest, message);

    public static MultiVipException NotFound(string message) => new(ErrorCode.ResourceNotFound, message);

    public static MultiVipException Conflict(string message) => new(ErrorCode.ConflictError, message);

    public static MultiVipException PreconditionFailed(string message) => new(ErrorCode.PreconditionFailed, message);
}

/// <summary>One problem of a change: its code and the message that says how to fix it.</summary>
public sealed record ErrorDetail(ErrorCode Code, string Message);
