using MultiVip.Cli.Infrastructure;
using MultiVip.Client;

namespace MultiVip.Cli.Tests.Cli;

internal sealed record CliRun(int ExitCode, string Out, string Error);

/// <summary>Runs the whole CLI in-process with captured streams and an empty environment.</summary>
internal static class TestCli
{
    public static async Task<CliRun> RunAsync(string[] args, bool inputIsTerminal = false, string stdin = "", IReadOnlyDictionary<string, string>? env = null, CancellationToken cancellationToken = default)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var console = new CliConsole(
            output,
            error,
            new StringReader(stdin),
            IsOutputTerminal: false,
            IsInputTerminal: inputIsTerminal,
            name => env is not null && env.TryGetValue(name, out var v) ? v : null)
        {
            ClientOptions = new MultiVipClientOptions
            {
                InitialPollDelay = TimeSpan.FromMilliseconds(5),
                MaxPollDelay = TimeSpan.FromMilliseconds(20),
                OperationTimeout = TimeSpan.FromSeconds(10),
            },
        };
        var exit = await Program.RunAsync(args, console, cancellationToken);
        return new CliRun(exit, output.ToString(), error.ToString());
    }

    /// <summary>Arguments that point at <paramref name="server"/> and at an empty data dir, so nothing on the machine leaks in.</summary>
    public static string[] Against(Uri server, params string[] args) =>
        [.. args, "--api", server.ToString(), "--token", "t0k", "--data-dir", Path.Combine(Path.GetTempPath(), "multivip-cli-tests-none")];
}
