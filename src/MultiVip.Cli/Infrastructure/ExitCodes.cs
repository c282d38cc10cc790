namespace MultiVip.Cli.Infrastructure;

/// <summary>Process exit codes; documented in the root command's help and src/MultiVip.Cli/README.md.</summary>
internal static class ExitCodes
{
    public const int Success = 0;

    /// <summary>The server refused the change, an operation Failed or timed out, or no server was reachable.</summary>
    public const int ServiceError = 1;

    /// <summary>The command line was wrong: unknown verb or option, missing or invalid value, missing --force.</summary>
    public const int UsageError = 2;

    /// <summary>Interrupted with Ctrl+C (128 + SIGINT, as shells report it).</summary>
    public const int Cancelled = 130;
}

/// <summary>An error the CLI itself detects after parsing, with the exit code it ends the process with.</summary>
internal sealed class CliException(string message, int exitCode, string? code = null) : Exception(message)
{
    public int ExitCode { get; } = exitCode;

    /// <summary>The "code" of the error with --output json (see <see cref="Output.CliErrorCodes"/>).</summary>
    public string Code { get; } = code ?? (exitCode == ExitCodes.UsageError ? Output.CliErrorCodes.UsageError : Output.CliErrorCodes.NotDone);

    /// <summary>A usage mistake found after parsing, e.g. a confirmation that cannot be asked.</summary>
    public static CliException Usage(string message) => new(message, ExitCodes.UsageError, Output.CliErrorCodes.UsageError);

    /// <summary>The command did not do what was asked (e.g. the user declined), without a server error.</summary>
    public static CliException NotDone(string message, string code = Output.CliErrorCodes.NotDone) => new(message, ExitCodes.ServiceError, code);
}
