using MultiVip.Model.Errors;

namespace MultiVip.Model.Validation;

/// <summary>
/// Collects every problem of one change, so that it is refused once with all of them instead of
/// one per attempt (YARP validates its configuration the same way). Each rule adds at most one
/// problem per value it checks; the same problem found twice (a local port and the public port
/// that defaults to it, say) is kept once.
/// </summary>
public sealed class Violations
{
    private readonly List<ErrorDetail> _errors = [];

    public bool Any => _errors.Count > 0;

    public IReadOnlyList<ErrorDetail> Errors => _errors;

    /// <summary>Runs <paramref name="check"/> with a fresh collector and throws what it found.</summary>
    public static void Throw(Action<Violations> check)
    {
        var violations = new Violations();
        check(violations);
        violations.ThrowIfAny();
    }

    public void Add(ErrorCode code, string message)
    {
        var error = new ErrorDetail(code, message);
        if (!_errors.Contains(error))
        {
            _errors.Add(error);
        }
    }

    public void Add(MultiVipException exception)
    {
        foreach (var error in exception.Errors)
        {
            Add(error.Code, error.Message);
        }
    }

    public void BadRequest(string message) => Add(ErrorCode.BadRequest, message);

    public void Conflict(string message) => Add(ErrorCode.ConflictError, message);

    public void NotFound(string message) => Add(ErrorCode.ResourceNotFound, message);

    /// <summary>
    /// Runs a parser that throws the domain's error (<see cref="Services.EnumParsing"/>), recording
    /// the error and answering null instead, so the rest of the request is still checked.
    /// </summary>
    public T? Read<T>(Func<T> parse)
        where T : struct
    {
        try
        {
            return parse();
        }
        catch (MultiVipException e)
        {
            Add(e);
            return null;
        }
    }

    public void ThrowIfAny()
    {
        if (Any)
        {
            throw new MultiVipException(_errors.ToList());
        }
    }
}
