using MultiVip.Client;

namespace MultiVip.Cli.Infrastructure;

/// <summary>
/// The process's streams and environment, injected so tests can run the whole CLI in-process
/// and read what it printed.
/// </summary>
internal sealed record CliConsole(
    TextWriter Out,
    TextWriter Error,
    TextReader In,
    bool IsOutputTerminal,
    bool IsInputTerminal,
    Func<string, string?> Environment)
{
    /// <summary>Client settings; tests shorten the operation timeout.</summary>
    public MultiVipClientOptions ClientOptions { get; init; } = new();

    public static CliConsole FromProcess() => new(
        Console.Out,
        Console.Error,
        Console.In,
        IsOutputTerminal: !Console.IsOutputRedirected,
        IsInputTerminal: !Console.IsInputRedirected,
        System.Environment.GetEnvironmentVariable);
}
