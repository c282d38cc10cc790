using System.Globalization;
using System.Text;

namespace MultiVip.Model.Text;

/// <summary>
/// Text that came from a client (a User-Agent, a name, a path, a message that quotes them) made safe
/// to store, log and print: control characters become visible escapes (<c>\x1b</c>, <c>\r</c>,
/// <c>\n</c>), so nothing a client sends can recolour a terminal, clear a screen or forge a log line.
/// The one place that does it: operation records, the server log and the CLI's output all call it.
/// </summary>
public static class ClientText
{
    /// <summary>
    /// Escapes C0 and C1 control characters, DEL, and the Unicode bidirectional overrides and
    /// isolates (which can make a log line read differently from what it says, "Trojan Source").
    /// Everything else, printable non-ASCII included, is left as it is.
    /// </summary>
    public static string Escape(string value)
    {
        var first = IndexOfUnsafe(value);
        if (first < 0)
        {
            return value;
        }

        var text = new StringBuilder(value.Length + 16);
        text.Append(value, 0, first);
        for (var i = first; i < value.Length; i++)
        {
            var c = value[i];
            if (!IsUnsafe(c))
            {
                text.Append(c);
                continue;
            }

            text.Append(c switch
            {
                '\r' => @"\r",
                '\n' => @"\n",
                '\t' => @"\t",
                < '\u0100' => "\\x" + ((int)c).ToString("x2", CultureInfo.InvariantCulture),
                _ => "\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture),
            });
        }

        return text.ToString();
    }

    /// <summary><see cref="Escape(string)"/> that passes null through.</summary>
    public static string? EscapeOrNull(string? value) => value is null ? null : Escape(value);

    private static int IndexOfUnsafe(string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            if (IsUnsafe(value[i]))
            {
                return i;
            }
        }

        return -1;
    }

    private static bool IsUnsafe(char c) =>
        char.IsControl(c) // U+0000-001F, U+007F-009F
        || c is >= '\u202A' and <= '\u202E' // LRE, RLE, PDF, LRO, RLO
        || c is >= '\u2066' and <= '\u2069' // LRI, RLI, FSI, PDI
        || c is '\u2028' or '\u2029'; // line and paragraph separators break lines like \n
}
