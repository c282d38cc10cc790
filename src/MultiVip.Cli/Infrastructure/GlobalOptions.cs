using System.CommandLine;
using MultiVip.Cli.Output;

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

    public Option<string?> Api { get; } = new("--api")
    {
        Description = "Base URL of the MultiVip server (default: MULTIVIP_API, then <data-dir>/endpoint, then http://127.0.0.1:7400).",
        Recursive = true,
    };

    public Option<string?> Token { get; } = new("--token")
    {
        Description = "Bearer token (default: MULTIVIP_TOKEN, then <data-dir>/token).",
        Recursive = true,
    };

    public Option<string?> DataDir { get; } = new("--data-dir")
    {
        Description = "Directory where `multivip serve` keeps its data, read for the endpoint and token (default: ./.multivip).",
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

    public OutputFormat Format(ParseResult parse) =>
        string.Equals(parse.GetValue(Output), "json", StringComparison.OrdinalIgnoreCase) ? OutputFormat.Json : OutputFormat.Text;

    public IEnumerable<Option> All => [Api, Token, DataDir, Output, Timeout, NoWait];
}
