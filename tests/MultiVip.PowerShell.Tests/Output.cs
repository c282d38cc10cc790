using System.Text.RegularExpressions;

namespace MultiVip.PowerShell.Tests;

/// <summary>Reads pwsh's formatted output back into fields.</summary>
internal static partial class Output
{
    /// <summary>The seed's header line, character for character.</summary>
    public const string OperationHeader = "OperationDescription OperationId                          OperationStatus";

    /// <summary>Asserts an operation table with one row per expected description, all Succeeded; returns the ids.</summary>
    public static IReadOnlyList<Guid> AssertOperations(string section, params string[] descriptions)
    {
        var lines = NonEmpty(section);
        var ids = new List<Guid>();
        var rows = lines.Where(l => !l.StartsWith("OperationDescription", StringComparison.Ordinal) && !l.StartsWith("---", StringComparison.Ordinal) && !l.StartsWith("ERROR", StringComparison.Ordinal)).ToList();
        Assert.True(rows.Count == descriptions.Length, $"Expected {descriptions.Length} operation row(s), got:\n{section}");
        for (var i = 0; i < descriptions.Length; i++)
        {
            var match = OperationRow().Match(rows[i]);
            Assert.True(match.Success, $"Not an operation row: '{rows[i]}'");
            Assert.Equal(descriptions[i], match.Groups[1].Value);
            Assert.Equal("Succeeded", match.Groups[3].Value);
            ids.Add(Guid.Parse(match.Groups[2].Value));
        }

        return ids;
    }

    /// <summary>Format-List output: one dictionary per object, plus the raw lines to check the layout.</summary>
    public static IReadOnlyList<Dictionary<string, string>> List(string section)
    {
        var records = new List<Dictionary<string, string>>();
        Dictionary<string, string>? current = null;
        foreach (var raw in section.Split('\n'))
        {
            var line = raw.TrimEnd();
            if (line.Length == 0)
            {
                current = null;
                continue;
            }

            var colon = line.IndexOf(" : ", StringComparison.Ordinal);
            if (colon < 0 && line.EndsWith(" :", StringComparison.Ordinal))
            {
                colon = line.Length - 2;
            }

            Assert.True(colon > 0, $"Not a list line: '{line}'");
            if (current is null)
            {
                current = [];
                records.Add(current);
            }

            current[line[..colon].TrimEnd()] = colon + 3 <= line.Length ? line[(colon + 3)..] : string.Empty;
        }

        return records;
    }

    public static IReadOnlyList<string> NonEmpty(string section) =>
        section.Split('\n').Select(l => l.TrimEnd()).Where(l => l.Length > 0).ToList();

    public static IReadOnlyList<string> Errors(string section) =>
        NonEmpty(section).Where(l => l.StartsWith("ERROR: ", StringComparison.Ordinal)).Select(l => l["ERROR: ".Length..]).ToList();

    [GeneratedRegex(@"^(\S+)\s+([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\s+(\S+)$")]
    private static partial Regex OperationRow();
}
