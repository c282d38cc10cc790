using System.CommandLine;
using MultiVip.Cli.Output;
using MultiVip.Client;
using MultiVip.Contracts;
using MultiVip.Model.Operations;
using Spectre.Console;

namespace MultiVip.Cli.Infrastructure;

/// <summary>One run of a verb: its parse result, the client (created on first use) and the output.</summary>
internal sealed class Invocation : IDisposable
{
    private readonly GlobalOptions global;
    private MultiVipClient? client;

    public Invocation(ParseResult parse, GlobalOptions global, CliConsole console, CancellationToken cancellationToken)
    {
        Parse = parse;
        this.global = global;
        Console = console;
        CancellationToken = cancellationToken;
        Format = global.Format(parse);
        Pascal = global.PascalCase(parse);
    }

    public ParseResult Parse { get; }

    public CliConsole Console { get; }

    public CancellationToken CancellationToken { get; }

    public OutputFormat Format { get; }

    /// <summary>--pascal: JSON keys as the text output spells them.</summary>
    public bool Pascal { get; }

    /// <summary>Resolved lazily so verbs that fail on their arguments never need a server.</summary>
    public MultiVipClient Client => client ??= CreateClient();

    public void Dispose() => client?.Dispose();

    public T? Value<T>(Option<T> option) => Parse.GetValue(option);

    /// <summary>Required options are enforced by the parser, so null here is a bug, not a user error.</summary>
    public string Required(Option<string> option) =>
        Parse.GetValue(option) ?? throw new InvalidOperationException($"{option.Name} is required.");

    /// <summary>Typed on the command line; a flag's implicit default (false) does not count.</summary>
    public bool Given(Option option) => Parse.GetResult(option) is { Implicit: false };

    /// <summary>Prints a resource: the text view, or the object itself as indented JSON (<see cref="JsonOutput"/>).</summary>
    public void Write<T>(T value, Func<T, string> text)
    {
        if (Format == OutputFormat.Json)
        {
            Console.Out.WriteLine(JsonOutput.Document(value, Pascal));
        }
        else
        {
            Console.Out.Write(text(value));
        }
    }

    /// <summary>
    /// Submits a change and waits for its operation (unless --no-wait), with a spinner when a person
    /// is watching, then prints the operation as the cmdlets did.
    /// </summary>
    public async Task RunOperationAsync(string activity, Func<MultiVipClient, bool, CancellationToken, Task<Operation>> submit)
    {
        var wait = !Parse.GetValue(global.NoWait);
        var api = Client;
        Operation operation;
        if (Console.IsOutputTerminal && Format == OutputFormat.Text)
        {
            operation = await AnsiConsole.Status()
                .Spinner(Spinner.Known.Dots)
                .StartAsync($"{Markup.Escape(activity)}...", _ => submit(api, wait, CancellationToken))
                .ConfigureAwait(false);
        }
        else
        {
            operation = await submit(api, wait, CancellationToken).ConfigureAwait(false);
        }

        Write(operation, o => ResourceText.Operations([o]));
    }

    private MultiVipClient CreateClient()
    {
        var connection = ClientConnection.Resolve(
            Parse.GetValue(global.Api),
            Parse.GetValue(global.Token),
            Parse.GetValue(global.DataDir),
            Console.Environment);
        var options = Console.ClientOptions;
        if (Parse.GetValue(global.Timeout) is { } seconds)
        {
            options = options with { OperationTimeout = TimeSpan.FromSeconds(seconds) };
        }

        return new MultiVipClient(connection, options);
    }
}
