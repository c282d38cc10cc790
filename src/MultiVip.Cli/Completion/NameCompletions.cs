using System.CommandLine;
using System.CommandLine.Completions;
using System.CommandLine.Parsing;
using MultiVip.Cli.Infrastructure;
using MultiVip.Client;
using MultiVip.Model.Services;

namespace MultiVip.Cli.Completion;

/// <summary>
/// What the shell completes after an option. Names of services, VMs, VIPs, load-balanced sets,
/// reserved IPs, endpoints and operation ids come from the server the command line points at
/// (its --api/--token/--data-dir, else the environment, else ./.multivip, as the verb itself would
/// find it); enumerated values (--protocol tcp|udp...) are fixed. Attached by option name once the
/// tree is built, so a verb added later (`usage --service`) completes without an edit here.
/// </summary>
internal static class NameCompletions
{
    /// <summary>
    /// The shell waits while this runs: a server that does not answer by then completes nothing.
    /// MULTIVIP_COMPLETION_TIMEOUT (seconds) raises it for a server across a slow link.
    /// </summary>
    private static readonly TimeSpan DefaultServerTimeout = TimeSpan.FromSeconds(3);

    public const string TimeoutVariable = "MULTIVIP_COMPLETION_TIMEOUT";

    private static TimeSpan ServerTimeout(Func<string, string?> environment) =>
        double.TryParse(environment(TimeoutVariable), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds) && seconds is > 0 and <= 600
            ? TimeSpan.FromSeconds(seconds)
            : DefaultServerTimeout;

    /// <summary>Verbs whose --name is a new name: offering the existing ones there would suggest a conflict.</summary>
    private static readonly HashSet<string> NewNameVerbs = new(StringComparer.Ordinal) { "create", "add", "new" };

    private delegate Task<IEnumerable<string>> NameList(MultiVipClient client, Scope scope, CancellationToken cancellationToken);

    /// <summary>The service and VM named on the command line, which VM, VIP, set and endpoint names belong to.</summary>
    private sealed record Scope(string? Service, string? Vm);

    public static void Attach(RootCommand root, CliContext cli)
    {
        foreach (var command in Descendants(root))
        {
            var noun = Noun(command);
            foreach (var option in command.Options)
            {
                // An option that completes already (AcceptOnlyFromAmong, an enum) keeps its own values.
                if (option.CompletionSources.Count > 0)
                {
                    continue;
                }

                if (FixedValues(option.Name) is { } values)
                {
                    option.CompletionSources.Add(values);
                }
                else if (ServerNames(noun, command.Name, option.Name) is { } list)
                {
                    option.CompletionSources.Add(context => FromServer(context, cli, list));
                }
            }
        }
    }

    private static string[]? FixedValues(string option) => option switch
    {
        "--protocol" => [.. Enum.GetValues<TransportProtocol>().Select(p => p.ToWire())],
        "--probe-protocol" => [.. Enum.GetValues<ProbeProtocol>().Select(p => p.ToWire())],
        "--distribution" => [.. Enum.GetValues<LoadBalancerDistribution>().Select(d => d.ToWire())],
        "--proxy-protocol" => [.. Enum.GetNames<ProxyProtocolVersion>().Select(n => n.ToLowerInvariant())],
        _ => null,
    };

    private static NameList? ServerNames(string noun, string verb, string option) => option switch
    {
        "--service" => Services,
        "--vm" => Vms,
        "--vip" => Vips,
        "--lb-set" => LoadBalancedSets,
        "--reserved-ip" => ReservedIps,
        "--name" when !NewNameVerbs.Contains(verb) => noun switch
        {
            "service" => Services,
            "vm" => Vms,
            "vip" => Vips,
            "lbset" => LoadBalancedSets,
            "reserved-ip" => ReservedIps,
            "endpoint" => Endpoints,
            _ => null,
        },
        "--id" when noun == "operation" => Operations,
        _ => null,
    };

    private static async Task<IEnumerable<string>> Services(MultiVipClient c, Scope s, CancellationToken ct) =>
        (await c.ListServicesAsync(ct).ConfigureAwait(false)).Select(x => x.Name);

    private static async Task<IEnumerable<string>> Vms(MultiVipClient c, Scope s, CancellationToken ct) =>
        s.Service is null ? [] : (await c.ListVmsAsync(s.Service, ct).ConfigureAwait(false)).Select(x => x.Name);

    private static async Task<IEnumerable<string>> Vips(MultiVipClient c, Scope s, CancellationToken ct) =>
        s.Service is null ? [] : (await c.ListVirtualIpsAsync(s.Service, ct).ConfigureAwait(false)).Select(x => x.Name);

    private static async Task<IEnumerable<string>> LoadBalancedSets(MultiVipClient c, Scope s, CancellationToken ct) =>
        s.Service is null ? [] : (await c.ListLoadBalancedSetsAsync(s.Service, ct).ConfigureAwait(false)).Select(x => x.Name);

    private static async Task<IEnumerable<string>> ReservedIps(MultiVipClient c, Scope s, CancellationToken ct) =>
        (await c.ListReservedIpsAsync(ct).ConfigureAwait(false)).Select(x => x.Name);

    private static async Task<IEnumerable<string>> Endpoints(MultiVipClient c, Scope s, CancellationToken ct) =>
        s.Service is null || s.Vm is null ? [] : (await c.ListEndpointsAsync(s.Service, s.Vm, ct).ConfigureAwait(false)).Select(x => x.Name);

    private static async Task<IEnumerable<string>> Operations(MultiVipClient c, Scope s, CancellationToken ct) =>
        (await c.ListOperationsAsync(20, ct).ConfigureAwait(false)).Select(x => x.OperationId.ToString("D"));

    private static IEnumerable<CompletionItem> FromServer(CompletionContext context, CliContext cli, NameList list)
    {
        var parse = context.ParseResult;
        try
        {
            var connection = ClientConnection.Resolve(Typed(parse, "--api"), Typed(parse, "--token"), Typed(parse, "--data-dir"), cli.Console.Environment);
            var wait = ServerTimeout(cli.Console.Environment);
            using var client = new MultiVipClient(connection, cli.Console.ClientOptions with { RequestTimeout = wait });
            using var timeout = new CancellationTokenSource(wait);
            var names = list(client, new Scope(Typed(parse, "--service"), Typed(parse, "--vm")), timeout.Token).GetAwaiter().GetResult();
            return [.. names.Order(StringComparer.OrdinalIgnoreCase).Select(n => new CompletionItem(n))];
        }
        catch (Exception)
        {
            // No server, a wrong token, a timeout: the shell completes nothing rather than print an
            // error into the middle of the line being typed.
            return [];
        }
    }

    /// <summary>The last value typed for an option on the line being completed (the innermost command's or an inherited one).</summary>
    private static string? Typed(ParseResult parse, string name)
    {
        for (SymbolResult? result = parse.CommandResult; result is not null; result = result.Parent)
        {
            if (result is not CommandResult command)
            {
                continue;
            }

            foreach (var option in command.Children.OfType<OptionResult>())
            {
                if ((option.Option.Name == name || option.Option.Aliases.Contains(name)) && option.Tokens.Count > 0)
                {
                    return option.Tokens[^1].Value;
                }
            }
        }

        return null;
    }

    /// <summary>The top-level verb a command belongs to: "vm" for `vm show`.</summary>
    private static string Noun(Command command)
    {
        var current = command;
        while (current.Parents.OfType<Command>().FirstOrDefault() is { } parent and not RootCommand)
        {
            current = parent;
        }

        return current.Name;
    }

    private static IEnumerable<Command> Descendants(Command command)
    {
        foreach (var child in command.Subcommands)
        {
            yield return child;
            foreach (var grandchild in Descendants(child))
            {
                yield return grandchild;
            }
        }
    }
}
