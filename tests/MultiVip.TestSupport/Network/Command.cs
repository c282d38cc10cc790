using System.Diagnostics;

namespace MultiVip.TestSupport.Network;

/// <summary>The outcome of a finished command.</summary>
public sealed record CommandResult(string Command, int ExitCode, string StandardOutput, string StandardError)
{
    public bool Succeeded => ExitCode == 0;

    /// <summary>Throws with the command, its exit code and stderr when it failed; returns stdout.</summary>
    public string ThrowIfFailed() => Succeeded
        ? StandardOutput
        : throw new InvalidOperationException($"'{Command}' exited with {ExitCode}: {StandardError.Trim()}{(StandardOutput.Length > 0 ? " / " + StandardOutput.Trim() : "")}");
}

/// <summary>Runs a program to completion (bounded) and captures its output.</summary>
public static class Command
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    public static async Task<CommandResult> TryRunAsync(string file, IEnumerable<string> arguments, TimeSpan? timeout = null, string? standardInput = null)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = standardInput is not null,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var text = file + " " + string.Join(' ', start.ArgumentList);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start '{text}'");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (standardInput is not null)
        {
            await process.StandardInput.WriteAsync(standardInput);
            process.StandardInput.Close();
        }

        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"'{text}' did not finish within {(timeout ?? DefaultTimeout).TotalSeconds:0} s");
        }

        return new CommandResult(text, process.ExitCode, await stdout, await stderr);
    }

    public static async Task<string> RunAsync(string file, params string[] arguments) =>
        (await TryRunAsync(file, arguments)).ThrowIfFailed();
}
