using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Management.Automation.Runspaces;
using MultiVip.Client;
using MultiVip.PowerShell.Infrastructure;
using MultiVip.PowerShell.Objects;

namespace MultiVip.PowerShell.Completion;

/// <summary>
/// Reads names from the server for the argument completers. Tab completion must never hang or
/// throw at the user: each completion gets a short deadline, and an unreachable or refusing server
/// simply completes nothing (the cmdlet itself reports the problem when it runs).
/// </summary>
internal static class ServerNames
{
    /// <summary>Long enough for a loaded local server, short enough that a dead one costs one blink.</summary>
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(3);

    /// <summary>Runs <paramref name="read"/> against the session's server; empty on any failure.</summary>
    public static IReadOnlyList<CompletionName> Read(Func<MultiVipClient, CancellationToken, Task<IEnumerable<CompletionName>>> read)
    {
        try
        {
            using var client = new MultiVipClient(Connect(), new MultiVipClientOptions { RequestTimeout = Deadline });
            using var deadline = new CancellationTokenSource(Deadline);
            return read(client, deadline.Token).GetAwaiter().GetResult().ToList();
        }
        catch (Exception e) when (e is MultiVipApiException or MultiVipConnectionException or OperationCanceledException or HttpRequestException or RuntimeException)
        {
            return [];
        }
    }

    /// <summary>The service a name belongs to: -ServiceName on this command, else on the command that feeds the pipeline (Get-AzureVM -ServiceName s | Add-AzureEndpoint ...).</summary>
    public static string? ServiceName(CommandAst commandAst, IDictionary fakeBoundParameters) =>
        BoundText(fakeBoundParameters, "ServiceName")
        ?? (fakeBoundParameters["VM"] is { } vm && Unwrap(vm) is PersistentVMRoleContext context ? context.ServiceName : null)
        ?? Upstream(commandAst, "ServiceName");

    /// <summary>The VM named by the command that feeds the pipeline: Get-AzureVM -ServiceName s -Name v | Set-AzureEndpoint -Name ...</summary>
    public static (string Service, string Vm)? UpstreamVm(CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        if (fakeBoundParameters["VM"] is { } bound && Unwrap(bound) is PersistentVMRoleContext context)
        {
            return (context.ServiceName, context.Name);
        }

        var service = Upstream(commandAst, "ServiceName");
        var vm = Upstream(commandAst, "Name");
        return service is null || vm is null ? null : (service, vm);
    }

    /// <summary>The completions for names that start with what was typed (case-insensitive, as names are).</summary>
    public static IEnumerable<CompletionResult> Complete(IEnumerable<CompletionName> names, string wordToComplete)
    {
        var typed = wordToComplete.Trim('\'', '"');
        return names
            .Where(n => n.Name.StartsWith(typed, StringComparison.OrdinalIgnoreCase))
            .DistinctBy(n => n.Name, StringComparer.OrdinalIgnoreCase)
            .OrderBy(n => n.Name, StringComparer.OrdinalIgnoreCase)
            .Select(n => new CompletionResult(Quote(n.Name), n.Name, CompletionResultType.ParameterValue, n.ToolTip ?? n.Name));
    }

    private static ClientConnection Connect()
    {
        var (api, token, dataDir) = SessionContext.Current;
        return ClientConnection.Resolve(api, token, dataDir ?? Path.Combine(CurrentLocation(), ClientConnection.DefaultDataDir));
    }

    /// <summary>
    /// pwsh's current file-system location (not the process's directory), as the cmdlets use for the
    /// data dir. A completer runs inside TabExpansion2's pipeline, where the runspace refuses
    /// SessionStateProxy calls; a nested command on the current runspace may read it.
    /// </summary>
    private static string CurrentLocation()
    {
        if (Runspace.DefaultRunspace is null)
        {
            return Environment.CurrentDirectory;
        }

        using var shell = System.Management.Automation.PowerShell.Create(RunspaceMode.CurrentRunspace);
        var location = shell.AddScript("$ExecutionContext.SessionState.Path.CurrentFileSystemLocation.ProviderPath").Invoke<string>();
        return location.Count == 1 && !string.IsNullOrEmpty(location[0]) ? location[0] : Environment.CurrentDirectory;
    }

    private static string? BoundText(IDictionary parameters, string name) =>
        parameters.Contains(name) && Unwrap(parameters[name]) is string { Length: > 0 } text ? text : null;

    private static object? Unwrap(object? value) => value is PSObject o ? o.BaseObject : value;

    /// <summary>A constant argument of an earlier command in the same pipeline, bound as pwsh would bind it (named or positional).</summary>
    private static string? Upstream(CommandAst commandAst, string parameter)
    {
        if (commandAst.Parent is not PipelineAst pipeline)
        {
            return null;
        }

        foreach (var element in pipeline.PipelineElements.TakeWhile(e => e != commandAst).Reverse())
        {
            if (element is CommandAst upstream
                && StaticParameterBinder.BindCommand(upstream, resolve: true).BoundParameters.TryGetValue(parameter, out var bound)
                && bound.ConstantValue is string { Length: > 0 } value)
            {
                return value;
            }
        }

        return null;
    }

    private static string Quote(string name) =>
        name.Any(c => char.IsWhiteSpace(c) || "'\"`$&|;,(){}[]@#<>".Contains(c, StringComparison.Ordinal))
            ? "'" + name.Replace("'", "''", StringComparison.Ordinal) + "'"
            : name;
}

/// <summary>A name to offer, with what the completion menu shows beside it.</summary>
internal sealed record CompletionName(string Name, string? ToolTip = null);
