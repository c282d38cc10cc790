namespace MultiVip.Contracts;

/// <summary>The wire shape of an error: <c>{"code": "BadRequest", "message": "..."}</c>.</summary>
public sealed record ErrorBody(string Code, string Message);
