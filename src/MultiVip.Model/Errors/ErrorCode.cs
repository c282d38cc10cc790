namespace MultiVip.Model.Errors;

/// <summary>Service Management error codes, with the HTTP status each one travels with.</summary>
public enum ErrorCode
{
    BadRequest,
    ResourceNotFound,
    ConflictError,
    PreconditionFailed,
    Unauthorized,
    RequestTooLarge,
    UnsupportedMediaType,
    DataPlaneError,
    InternalError,
}

public static class ErrorCodes
{
    public static int HttpStatus(this ErrorCode code) => code switch
    {
        ErrorCode.BadRequest => 400,
        ErrorCode.Unauthorized => 401,
        ErrorCode.ResourceNotFound => 404,
        ErrorCode.ConflictError => 409,
        ErrorCode.PreconditionFailed => 412,
        ErrorCode.RequestTooLarge => 413,
        ErrorCode.UnsupportedMediaType => 415,
        ErrorCode.DataPlaneError => 500,
        _ => 500,
    };
}
