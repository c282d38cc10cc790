using System.CommandLine;
using MultiVip.Cli.Commands;
using MultiVip.Cli.Infrastructure;

namespace MultiVip.Cli;

internal static class Program
{
    /// <summary>One factory per top-level verb: adding a verb (e.g. `serve`) is one line here.</summary>
    internal static readonly IReadOnlyList<Func<CliContext, Command>> Commands =
    [
        ServiceCommands.Create,
        VmCommands.Create,
        VipCommands.Create,
        DeploymentCommands.Create,
        EndpointCommands.Create,
        LoadBalancedSetCommands.Create,
        ReservedIpCommands.Create,
        OperationCommands.Create,
        NodeCommands.Create,
        UsageCommands.Create,
        Serve.ServeCommand.Create,
        BackupCommands.CreateBackup,
        BackupCommands.CreateRestore,
        StoreCommands.Create,
        Completion.CompletionCommand.Create,
    ];

    private const string Description = """
        MultiVip: several virtual IPs per cloud service, managed like Azure classic's Multi-VIP cmdlets.

        The server is found with --api/--token, then MULTIVIP_API/MULTIVIP_TOKEN, then the files
        endpoint and token in --data-dir (default ./.multivip) that `multivip serve` writes.

        Exit codes: 0 success; 1 the server refused the change, an operation failed or timed out, or no
        server could be reached; 2 usage error (unknown verb or option, missing or invalid value,
        confirmation needed without a terminal); 130 interrupted. With --output json, errors are one
        JSON object on stderr: {"code", "message", "operationId"?, "suggestions"?}.

        Shell completion: `multivip completion bash|zsh|fish|pwsh` (see its --help).
        """;

    public static Task<int> Main(string[] args)
    {
        if (args.Contains("serve"))
        {
            TuneSocketsForProxying();
        }

        return RunAsync(args, CliConsole.FromProcess());
    }

    /// <summary>
    /// Runs socket completions inline on the epoll threads, one per core, instead of handing each to
    /// the thread pool: a forwarded read then costs no thread hop, which is what event-loop proxies
    /// (HAProxy, nginx) get for free, and it cut MultiVip's latency and raised its request rate in
    /// bench/run (docs/benchmarks.md). Safe because nothing in the data plane blocks in a socket
    /// continuation. Must happen before the first socket is created; an explicit setting in the
    /// environment wins.
    /// </summary>
    private static void TuneSocketsForProxying()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
        {
            Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
            if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT") is null)
            {
                Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT", Environment.ProcessorCount.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
        }
    }

    internal static RootCommand BuildRoot(CliContext cli)
    {
        var root = new RootCommand(Description);
        foreach (var option in cli.Global.All)
        {
            root.Options.Add(option);
        }

        foreach (var create in Commands)
        {
            root.Subcommands.Add(create(cli));
        }

        // Over the whole tree, so verbs added above get them without an edit of their own.
        Completion.NameCompletions.Attach(root, cli);
        Completion.SuggestAction.Install(root, cli);
        CommandHelpAction.Install(root, cli);
        return root;
    }

    internal static async Task<int> RunAsync(string[] args, CliConsole console, CancellationToken cancellationToken = default)
    {
        var cli = new CliContext(console);
        var parse = BuildRoot(cli).Parse(args);

        var (json, pascal) = cli.Global.RequestedErrorFormat(parse);
        cli.Errors.Json = json;
        cli.Errors.Pascal = pascal;

        // System.CommandLine reports parse errors with exit code 1; ours are 2 so scripts can tell a
        // typo from a refusal by the server. Help and completion ([suggest]) win over errors
        // (`multivip vm add --help`, a half-typed line).
        if (parse.Action is not { ClearsParseErrors: true } && UsageErrors.Find(parse, cli) is { } usage)
        {
            return cli.Fail(usage, ExitCodes.UsageError);
        }

        var invocation = new InvocationConfiguration { Output = console.Out, Error = console.Error };
        if (parse.CommandResult.Command.Name == "serve")
        {
            // The server's host handles SIGTERM/Ctrl+C itself and then drains connections for up to
            // --drain-timeout; System.CommandLine's own handler would cut that short after 2 s.
            invocation.ProcessTerminationTimeout = null;
        }

        return await parse.InvokeAsync(invocation, cancellationToken).ConfigureAwait(false);
    }
}
