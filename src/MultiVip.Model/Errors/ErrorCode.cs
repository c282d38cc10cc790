namespace MultiVip.Model.Errors;

/// <summary>Service Management error codes, with the HTTP status each one travels with.</summary>
public enum ErrorCode
{
    BadRequest,
    ResourceNotFound,
    ConflictError,
    PreconditionFailed,
    Unauthorized,
    TooManyRequests,
    MisdirectedRequest,
    RequestTooLarge,
    UnsupportedMediaType,
    DataPlaneError,

    /// <summary>The disk holding the data dir is full: the change was not stored (HTTP 507 Insufficient Storage).</summary>
    InsufficientStorage,
    InternalError,

    /// <summary>The change could not be committed for a reason that is not the request's (retry it).</summary>
    ServiceUnavailable,
}

public static class ErrorCodes
{
    public static int HttpStatus(this ErrorCode code) => code switch
    {
        ErrorCode.BadRequest => 400,
        ErrorCode.Unauthorized => 401,
        ErrorCode.TooManyRequests => 429,
        ErrorCode.MisdirectedRequest => 421,
        ErrorCode.ResourceNotFound => 404,
        ErrorCode.ConflictError => 409,
        ErrorCode.PreconditionFailed => 412,
        ErrorCode.RequestTooLarge => 413,
        ErrorCode.UnsupportedMediaType => 415,
        ErrorCode.DataPlaneError => 500,
        ErrorCode.ServiceUnavailable => 503,
        ErrorCode.InsufficientStorage => 507,
        _ => 500,
    };
}
