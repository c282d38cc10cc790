using System.Text.Json.Serialization;
using MultiVip.Model.Errors;

namespace MultiVip.Contracts;

/// <summary>
/// The wire shape of an error: <c>{"code": "BadRequest", "message": "..."}</c>. A request refused
/// for several reasons also carries <c>errors</c>, each of them as its own <c>{code, message}</c>;
/// the top-level code is the first one's and the message lists them all.
/// </summary>
public sealed record ErrorBody(string Code, string Message)
{
    /// <summary>Every problem, when there is more than one; absent otherwise.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<ErrorBody>? Errors { get; init; }

    public static ErrorBody From(MultiVipException e) => new(e.Code.ToString(), e.Message)
    {
        Errors = e.Errors.Count > 1 ? e.Errors.Select(d => new ErrorBody(d.Code.ToString(), d.Message)).ToList() : null,
    };
}
