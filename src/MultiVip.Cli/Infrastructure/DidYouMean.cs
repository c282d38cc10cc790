namespace MultiVip.Cli.Infrastructure;

/// <summary>
/// "Did you mean": the names nearest to a mistyped word by edit distance (a swap of two neighbours
/// counts as one edit, the commonest typo), or those it is the start of.
/// </summary>
internal static class DidYouMean
{
    /// <summary>At most this many suggestions: more is a list to read, not a correction.</summary>
    private const int MaxSuggestions = 3;

    /// <summary>The nearest candidates, best first; none when nothing is close enough.</summary>
    public static IReadOnlyList<string> Nearest(string word, IEnumerable<string> candidates)
    {
        var typed = Core(word);
        // Two letters are a different word more often than a typo of a longer one.
        if (typed.Length < 3)
        {
            return [];
        }

        var limit = typed.Length <= 4 ? 1 : typed.Length <= 8 ? 2 : 3;
        var scored = candidates
            .Distinct(StringComparer.Ordinal)
            .Where(c => Core(c).Length >= 2)
            .Select(c =>
            {
                var distance = Distance(typed, Core(c));
                var score = Core(c).StartsWith(typed, StringComparison.OrdinalIgnoreCase) ? Math.Min(distance, 1) : distance;
                return (Name: c, Score: score, Distance: distance);
            })
            // Score 0 is a name typed without its dashes ("service" for "--service").
            .Where(c => c.Score <= limit && !string.Equals(c.Name, word, StringComparison.Ordinal))
            .ToList();
        if (scored.Count == 0)
        {
            return [];
        }

        var best = scored.Min(c => c.Score);
        return scored
            .Where(c => c.Score == best)
            .OrderBy(c => c.Distance)
            .ThenBy(c => c.Name, StringComparer.Ordinal)
            .Take(MaxSuggestions)
            .Select(c => c.Name)
            .ToList();
    }

    /// <summary>"Did you mean '--service'?" / "Did you mean 'service' or 'serve'?".</summary>
    public static string Sentence(IReadOnlyList<string> suggestions)
    {
        var quoted = suggestions.Select(s => $"'{s}'").ToList();
        var list = quoted.Count == 1 ? quoted[0] : $"{string.Join(", ", quoted.Take(quoted.Count - 1))} or {quoted[^1]}";
        return $"Did you mean {list}?";
    }

    /// <summary>An option's name without its dashes, so "servce" finds "--service" and "--servce" finds it as well.</summary>
    private static string Core(string name) => name.TrimStart('-', '/').ToLowerInvariant();

    /// <summary>Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps.</summary>
    internal static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }
}
