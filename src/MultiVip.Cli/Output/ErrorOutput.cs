using MultiVip.Model.Text;

namespace MultiVip.Cli.Output;

/// <summary>
/// An error as the CLI reports it. Text: one line "multivip: [Code: ]Message[ (operation id)]";
/// with --output json: one JSON object {code, message, operationId?, suggestions?} on stderr.
/// </summary>
internal sealed record CliError(string Code, string Message)
{
    /// <summary>The operation that failed, when the server said which.</summary>
    public Guid? OperationId { get; init; }

    /// <summary>Advice of the CLI's own (e.g. where the token comes from), after the server's message.</summary>
    public string? Hint { get; init; }

    /// <summary>Server and domain errors show their code in text; the CLI's own messages read better without.</summary>
    public bool CodeInText { get; init; }

    /// <summary>Did-you-mean candidates of a usage error.</summary>
    public IReadOnlyList<string>? Suggestions { get; init; }

    /// <summary>Text output only: one "multivip: " line each instead of <see cref="Text"/> (several parse errors).</summary>
    public IReadOnlyList<string>? TextLines { get; init; }

    /// <summary>Text output only: a last line without the prefix, e.g. "Run 'multivip vm add --help' for usage.".</summary>
    public string? TextFooter { get; init; }

    public string Text
    {
        get
        {
            var text = CodeInText ? $"{Code}: {Message}" : Message;
            if (OperationId is { } id)
            {
                text += $" (operation {id:D})";
            }

            return Hint is null ? text : $"{text} {Hint}";
        }
    }
}

/// <summary>Codes of errors the CLI finds itself (the server's are <see cref="Model.Errors.ErrorCode"/>).</summary>
internal static class CliErrorCodes
{
    /// <summary>The command line was wrong: exit code 2.</summary>
    public const string UsageError = "UsageError";

    /// <summary>No server was found or it could not be reached.</summary>
    public const string ConnectionFailed = "ConnectionFailed";

    /// <summary>Ctrl+C.</summary>
    public const string Cancelled = "Cancelled";

    /// <summary>The command did not do what was asked, e.g. the user declined a confirmation.</summary>
    public const string NotDone = "NotDone";

    /// <summary>Any other failure of a command that runs without a server (e.g. serve cannot start).</summary>
    public const string CommandFailed = "CommandFailed";
}

/// <summary>Writes errors to stderr as text or, when the command line asked for --output json, as JSON.</summary>
internal sealed class ErrorOutput(TextWriter error)
{
    /// <summary>Set once the command line is parsed; a command line too broken to tell gets text.</summary>
    public bool Json { get; set; }

    public bool Pascal { get; set; }

    public void Write(CliError e)
    {
        if (Json)
        {
            error.WriteLine(JsonOutput.Line(new JsonError(e.Code, e.Hint is null ? e.Message : $"{e.Message} {e.Hint}", e.OperationId, e.Suggestions), Pascal));
            return;
        }

        // Server messages quote what clients sent (names, values): no control character reaches the terminal.
        foreach (var line in e.TextLines ?? [e.Text])
        {
            error.WriteLine($"multivip: {ClientText.Escape(line)}");
        }

        if (e.TextFooter is not null)
        {
            error.WriteLine(e.TextFooter);
        }
    }

    /// <summary>The JSON shape: the API's error body ({code, message}) plus what a script needs next.</summary>
    private sealed record JsonError(string Code, string Message, Guid? OperationId, IReadOnlyList<string>? Suggestions);
}
