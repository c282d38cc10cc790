using System.Diagnostics;
using MultiVip.Client;

namespace MultiVip.Cli.Tests.EndToEnd;

/// <summary>`multivip serve` as a real child process (the built multivip.dll next to the tests).</summary>
internal sealed class ServerProcess : IDisposable
{
    private readonly Process _process;

    private ServerProcess(Process process, Uri api, string token, System.Text.StringBuilder output)
    {
        _process = process;
        _output = output;
        Api = api;
        Token = token;
    }

    public Uri Api { get; }

    public string Token { get; }

    public int Pid => _process.Id;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    private readonly System.Text.StringBuilder _output;

    public static Task<ServerProcess> StartAsync(string dataDir, string pool, params string[] extra) =>
        StartAsync(descriptorLimit: null, dataDir, pool, extra);

    /// <param name="descriptorLimit">
    /// When given, the server runs under `ulimit -n` of this (soft and hard: it cannot raise it back),
    /// through bash, which execs into it so <see cref="Pid"/> is the server's.
    /// </param>
    public static async Task<ServerProcess> StartAsync(int? descriptorLimit, string dataDir, string pool, params string[] extra)
    {
        var endpointFile = Path.Combine(dataDir, "endpoint");
        Directory.CreateDirectory(dataDir);
        File.Delete(endpointFile);
        var cli = Path.Combine(AppContext.BaseDirectory, "multivip.dll");
        // The server starts with SIGHUP's default disposition, as systemd starts a service: a test run
        // launched under nohup (SIGHUP ignored, inherited by every child, and .NET keeps an ignored
        // signal ignored) would otherwise never deliver SighupTests' SIGHUP. env execs, so Pid stays the server's.
        var start = new ProcessStartInfo(descriptorLimit is null ? "env" : "bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        if (descriptorLimit is int limit)
        {
            foreach (var arg in (string[])["-c", "ulimit -n \"$0\" && exec env --default-signal=HUP dotnet \"$@\"", limit.ToString(System.Globalization.CultureInfo.InvariantCulture)])
            {
                start.ArgumentList.Add(arg);
            }
        }
        else
        {
            start.ArgumentList.Add("--default-signal=HUP");
            start.ArgumentList.Add("dotnet");
        }

        foreach (var arg in (string[])[cli, "serve", "--data-dir", dataDir, "--api", "http://127.0.0.1:0", "--vip-pool", pool, "--dns", "off"])
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var arg in extra)
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start)!;
        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) =>
        {
            lock (output)
            {
                output.AppendLine(e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            lock (output)
            {
                output.AppendLine(e.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        // The endpoint file appears once the API listens.
        var deadline = Stopwatch.StartNew();
        while (!File.Exists(endpointFile))
        {
            Assert.False(process.HasExited, $"multivip serve exited with {(process.HasExited ? process.ExitCode : 0)}");
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(90), "multivip serve did not start within 90 s");
            await Task.Delay(25);
        }

        var api = new Uri((await File.ReadAllTextAsync(endpointFile)).Trim());
        var token = (await File.ReadAllTextAsync(Path.Combine(dataDir, "token"))).Trim();
        return new ServerProcess(process, api, token, output);
    }

    public MultiVipClient Client() => new(new ClientConnection(Api, Token), new MultiVipClientOptions { OperationTimeout = TimeSpan.FromSeconds(20) });

    /// <summary>SIGTERM: the server stops accepting, drains, and exits.</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
    }

    /// <summary>SIGHUP, by PID, as a closed terminal or `kill -HUP` would send it.</summary>
    public void HangUp()
    {
        using var kill = Process.Start("kill", ["-HUP", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
    }

    /// <summary>Polls the output (bounded) until it contains <paramref name="text"/>; fails if the process exits first.</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            Assert.False(_process.HasExited, $"multivip serve exited with {(_process.HasExited ? _process.ExitCode : 0)} before printing '{text}'. Output:\n{Output}");
            Assert.True(deadline.Elapsed < timeout, $"multivip serve did not print '{text}' within {timeout.TotalSeconds:0} s. Output:\n{Output}");
            await Task.Delay(25);
        }
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    public bool HasExited => _process.HasExited;

    /// <summary>SIGKILL: no shutdown code runs.</summary>
    public void Kill()
    {
        _process.Kill();
        _process.WaitForExit();
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }

        _process.Dispose();
    }
}
