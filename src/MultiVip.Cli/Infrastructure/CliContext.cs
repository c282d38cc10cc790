using System.CommandLine;
using MultiVip.Client;
using MultiVip.Model.Errors;
using MultiVip.Model.Text;

namespace MultiVip.Cli.Infrastructure;

/// <summary>What command factories share: the global options and the console.</summary>
internal sealed class CliContext(CliConsole console)
{
    public GlobalOptions Global { get; } = new();

    public CliConsole Console => console;

    /// <summary>
    /// Sets <paramref name="command"/>'s action to <paramref name="body"/>, turning every error into
    /// one line on stderr ("multivip: Code: message") and an exit code.
    /// </summary>
    public void SetAction(Command command, Func<Invocation, Task> body) =>
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
                var operation = e.OperationId is { } id ? $" (operation {id})" : string.Empty;
                var hint = e.HttpStatus == 401
                    ? $" Check the token: --token, {ClientConnection.TokenVariable}, or the token file in the data dir of `multivip serve`."
                    : string.Empty;
                return Fail($"{e.Code}: {e.Message}{operation}{hint}", ExitCodes.ServiceError);
            }
            catch (MultiVipConnectionException e)
            {
                return Fail(e.Message, ExitCodes.ServiceError);
            }
            catch (CliException e)
            {
                return Fail(e.Message, e.ExitCode);
            }
            catch (MultiVipException e)
            {
                // Domain rules checked before anything is sent (e.g. an ACL rule's syntax) are the user's typo.
                return Fail($"{e.Code}: {e.Message}", ExitCodes.UsageError);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return Fail("cancelled. A change already submitted keeps running on the server; see `multivip operation list`.", ExitCodes.Cancelled);
            }
        });

    public int Fail(string message, int exitCode)
    {
        // Server messages quote what clients sent (names, values): no control character reaches the terminal.
        console.Error.WriteLine($"multivip: {ClientText.Escape(message)}");
        return exitCode;
    }
}
