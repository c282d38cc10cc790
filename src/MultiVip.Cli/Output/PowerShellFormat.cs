using System.Text;
using MultiVip.Model.Text;

namespace MultiVip.Cli.Output;

/// <summary>A column of <see cref="PowerShellFormat.Table"/>; numbers are right-aligned as Format-Table does.</summary>
internal sealed record Column(string Header, bool AlignRight = false);

/// <summary>
/// Text in the shape of PowerShell's Format-Table and Format-List, so output matches what the
/// seed documentation shows for the Azure cmdlets. Lines end with <see cref="Environment.NewLine"/>
/// and carry no trailing spaces.
/// </summary>
internal static class PowerShellFormat
{
    /// <summary>
    /// Format-Table: each column as wide as its widest cell or header, one space between columns,
    /// headers underlined with dashes as long as the header (not the column).
    /// </summary>
    public static string Table(IReadOnlyList<Column> columns, IEnumerable<IReadOnlyList<string?>> rows)
    {
        // Cells hold what the server returned, which can quote a client's text: printed escaped (ClientText).
        var cells = rows.Select(r => columns.Select((_, i) => i < r.Count ? ClientText.Escape(r[i] ?? string.Empty) : string.Empty).ToArray()).ToList();
        var widths = columns.Select((c, i) => cells.Select(r => r[i].Length).Append(c.Header.Length).Max()).ToArray();

        var text = new StringBuilder();
        AppendLine(text, columns, widths, columns.Select(c => c.Header).ToArray());
        AppendLine(text, columns, widths, columns.Select(c => new string('-', c.Header.Length)).ToArray());
        foreach (var row in cells)
        {
            AppendLine(text, columns, widths, row);
        }

        return text.ToString();
    }

    /// <summary>
    /// Format-List: one "Name : Value" line per property, names padded to the longest name of the
    /// object, a blank line between objects.
    /// </summary>
    public static string List(IEnumerable<IReadOnlyList<(string Name, string? Value)>> objects)
    {
        var text = new StringBuilder();
        var first = true;
        foreach (var properties in objects)
        {
            if (!first)
            {
                text.Append(Environment.NewLine);
            }

            first = false;
            var width = properties.Count == 0 ? 0 : properties.Max(p => p.Name.Length);
            foreach (var (name, value) in properties)
            {
                text.Append($"{name.PadRight(width)} : {ClientText.EscapeOrNull(value)}".TrimEnd()).Append(Environment.NewLine);
            }
        }

        return text.ToString();
    }

    /// <summary>PowerShell prints booleans as True/False.</summary>
    public static string Bool(bool value) => value ? "True" : "False";

    private static void AppendLine(StringBuilder text, IReadOnlyList<Column> columns, int[] widths, string[] cells)
    {
        var line = new StringBuilder();
        for (var i = 0; i < cells.Length; i++)
        {
            if (i > 0)
            {
                line.Append(' ');
            }

            line.Append(columns[i].AlignRight ? cells[i].PadLeft(widths[i]) : cells[i].PadRight(widths[i]));
        }

        text.Append(line.ToString().TrimEnd()).Append(Environment.NewLine);
    }
}
