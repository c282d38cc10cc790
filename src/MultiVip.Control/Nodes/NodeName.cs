using System.Net;

namespace MultiVip.Control.Nodes;

/// <summary>What a node may be called: it appears in URLs-free places only (records, metrics labels, messages), but must be readable and unambiguous there.</summary>
public static class NodeName
{
    public const int MaxLength = 64;

    /// <summary>The host name, the default of --node-name.</summary>
    public static string Default()
    {
        try
        {
            return Dns.GetHostName();
        }
        catch (System.Net.Sockets.SocketException)
        {
            return Environment.MachineName;
        }
    }

    /// <summary>Null when <paramref name="name"/> is a valid node name, else a sentence saying what is wrong and how to fix it.</summary>
    public static string? Problem(string? name)
    {
        const string rule = "use 1 to 64 letters, digits, '-', '_' or '.', starting and ending with a letter or digit, like lb-a or lb1.example.net";
        if (string.IsNullOrEmpty(name))
        {
            return $"The node name is empty: {rule} (--node-name).";
        }

        var shown = Model.Text.ClientText.Escape(name.Length > MaxLength + 16 ? name[..(MaxLength + 16)] + "..." : name);
        if (name.Length > MaxLength)
        {
            return $"'{shown}' is not a node name: it has {name.Length} characters; {rule} (--node-name).";
        }

        if (!char.IsAsciiLetterOrDigit(name[0]) || !char.IsAsciiLetterOrDigit(name[^1]) || name.Any(c => !char.IsAsciiLetterOrDigit(c) && c is not '-' and not '_' and not '.'))
        {
            return $"'{shown}' is not a node name: {rule} (--node-name).";
        }

        return null;
    }
}
