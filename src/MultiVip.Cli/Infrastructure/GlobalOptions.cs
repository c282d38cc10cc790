using System.CommandLine;
using MultiVip.Cli.Output;
using MultiVip.Contracts;

namespace MultiVip.Cli.Infrastructure;

/// <summary>Options every verb accepts (recursive, so they can follow the verb).</summary>
internal sealed class GlobalOptions
{
    public GlobalOptions() =>
        Timeout.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is < 1)
            {
                r.AddError("--timeout must be at least 1 second.");
            }
        });

    // --api and --data-dir mean the same place to `serve` (where it listens, where it keeps its
    // state) and to the client verbs (where they connect, where they find endpoint and token).
    public Option<string?> Api { get; } = new("--api")
    {
        Description = $"URL of the server's API: where `serve` listens and the client verbs connect (clients: else MULTIVIP_API, then <data-dir>/endpoint). Default {ApiRoutes.DefaultApi}.",
        Recursive = true,
    };

    public Option<string?> Token { get; } = new("--token")
    {
        Description = "Bearer token (default: MULTIVIP_TOKEN, then <data-dir>/token).",
        Recursive = true,
    };

    public Option<string?> DataDir { get; } = new("--data-dir")
    {
        Description = "Directory of the server's data: `serve` keeps its state there and writes the endpoint and token files the client verbs read. Default ./.multivip.",
        Recursive = true,
    };

    public Option<string> Output { get; } = new Option<string>("--output", "-o")
    {
        Description = "text (PowerShell-style tables and lists) or json (indented, for scripts).",
        DefaultValueFactory = _ => "text",
        Recursive = true,
    }.AcceptOnlyFromAmong("text", "json");

    public Option<int?> Timeout { get; } = new("--timeout")
    {
        Description = "Seconds to wait for an operation to finish (default 60). It keeps running on the server after that.",
        Recursive = true,
    };

    public Option<bool> NoWait { get; } = new("--no-wait")
    {
        Description = "Return as soon as the server accepted a change (OperationStatus InProgress); check it with `operation show`.",
        Recursive = true,
    };

    public Option<bool> Pascal { get; } = new("--pascal")
    {
        Description = "With --output json: PascalCase keys (ServiceName), as in text output and the cmdlets' objects, instead of the REST API's camelCase.",
        Recursive = true,
    };

    public OutputFormat Format(ParseResult parse) =>
        string.Equals(parse.GetValue(Output), "json", StringComparison.OrdinalIgnoreCase) ? OutputFormat.Json : OutputFormat.Text;

    public bool PascalCase(ParseResult parse) => parse.GetValue(Pascal);

    /// <summary>
    /// --output json and --pascal read from the tokens, so that even a command line with errors
    /// (an unknown option, a missing value) gets its errors in the format it asked for.
    /// </summary>
    public (bool Json, bool Pascal) RequestedErrorFormat(ParseResult parse)
    {
        var json = parse.GetResult(Output) is { Implicit: false, Tokens: [.., var last] }
            && string.Equals(last.Value, "json", StringComparison.OrdinalIgnoreCase);
        var pascal = parse.GetResult(Pascal) is { Implicit: false } flag
            && (flag.Tokens.Count == 0 || !bool.TryParse(flag.Tokens[^1].Value, out var on) || on);
        return (json, pascal);
    }

    public IEnumerable<Option> All => [Api, Token, DataDir, Output, Pascal, Timeout, NoWait];

    /// <summary>
    /// Where the server is and keeps its data: shared by the client verbs and the commands that run
    /// the server. The others (--token, --output, --pascal, --timeout, --no-wait) only client verbs read.
    /// </summary>
    public IReadOnlyList<Option> Server => [Api, DataDir];
}
