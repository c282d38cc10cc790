using System.CommandLine;
using MultiVip.Cli.Output;
using MultiVip.Client;
using MultiVip.Model.Errors;

namespace MultiVip.Cli.Infrastructure;

/// <summary>What command factories share: the global options and the console.</summary>
internal sealed class CliContext(CliConsole console)
{
    private readonly HashSet<Command> _clientCommands = [];
    private readonly HashSet<Command> _standaloneCommands = [];

    public GlobalOptions Global { get; } = new();

    public CliConsole Console => console;

    /// <summary>Where errors go: text or JSON, decided once the command line is parsed.</summary>
    public ErrorOutput Errors { get; } = new(console.Error);

    /// <summary>A verb that talks to the server (its action was set with <see cref="SetAction"/>): every global option applies.</summary>
    public bool IsClientCommand(Command command) => _clientCommands.Contains(command);

    /// <summary>
    /// A command with an action of its own that needs no server (serve, completion): the client-only
    /// global options neither show in its help nor are accepted. It keeps --api and --data-dir
    /// unless it is <see cref="MarkStandalone">standalone</see>.
    /// </summary>
    public bool IsLocalCommand(Command command) =>
        command is not RootCommand && command.Action is not null && !_clientCommands.Contains(command);

    /// <summary>A local command that reads no global option at all (e.g. `completion`).</summary>
    public void MarkStandalone(Command command) => _standaloneCommands.Add(command);

    /// <summary>The global options that apply to <paramref name="command"/>.</summary>
    public IEnumerable<Option> GlobalsOf(Command command) =>
        !IsLocalCommand(command) ? Global.All
        : _standaloneCommands.Contains(command) ? []
        : Global.Server;

    /// <summary>
    /// Sets <paramref name="command"/>'s action to <paramref name="body"/>, turning every error into
    /// one line on stderr ("multivip: Code: message", or a JSON object with --output json) and an exit code.
    /// </summary>
    public void SetAction(Command command, Func<Invocation, Task> body)
    {
        _clientCommands.Add(command);
        command.SetAction(async (parse, ct) =>
        {
            using var invocation = new Invocation(parse, Global, console, ct);
            try
            {
                await body(invocation).ConfigureAwait(false);
                return ExitCodes.Success;
            }
            catch (MultiVipApiException e)
            {
                var hint = e.HttpStatus == 401
                    ? $"Check the token: --token, {ClientConnection.TokenVariable}, or the token file in the data dir of `multivip serve`."
                    : null;
                return Fail(new CliError(e.Code, e.Message) { OperationId = e.OperationId, Hint = hint, CodeInText = true }, ExitCodes.ServiceError);
            }
            catch (MultiVipConnectionException e)
            {
                return Fail(new CliError(CliErrorCodes.ConnectionFailed, e.Message), ExitCodes.ServiceError);
            }
            catch (CliException e)
            {
                return Fail(new CliError(e.Code, e.Message), e.ExitCode);
            }
            catch (MultiVipException e)
            {
                // Domain rules checked before anything is sent (e.g. an ACL rule's syntax) are the user's typo.
                return Fail(new CliError(e.Code.ToString(), e.Message) { CodeInText = true }, ExitCodes.UsageError);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return Fail(new CliError(CliErrorCodes.Cancelled, "cancelled. A change already submitted keeps running on the server; see `multivip operation list`."), ExitCodes.Cancelled);
            }
        });
    }

    public int Fail(string message, int exitCode) =>
        Fail(new CliError(exitCode == ExitCodes.UsageError ? CliErrorCodes.UsageError : CliErrorCodes.CommandFailed, message), exitCode);

    public int Fail(CliError error, int exitCode)
    {
        Errors.Write(error);
        return exitCode;
    }
}
