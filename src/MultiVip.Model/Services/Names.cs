namespace MultiVip.Model.Services;

/// <summary>All names in the domain compare case-insensitively, as Azure's did.</summary>
public static class Names
{
    public static readonly StringComparer Comparer = StringComparer.OrdinalIgnoreCase;

    public static bool Equal(string? a, string? b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);
}
