using System.Diagnostics;

namespace MultiVip.Cli.Tests.Operations;

/// <summary>packaging/systemd/multivip.service as systemd reads it (nothing is started).</summary>
public sealed class SystemdUnitTests : IDisposable
{
    private const string Analyze = "/usr/bin/systemd-analyze";

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "multivip-unit", Guid.NewGuid().ToString("N"));

    public SystemdUnitTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task The_unit_passes_systemd_analyze_verify_without_a_warning()
    {
        Assert.True(File.Exists(Analyze), $"{Analyze} is missing: install Debian's systemd package (test.sh does).");
        var unit = await File.ReadAllTextAsync(Path.Combine(ServeConfigurationTests.RepositoryRoot(), "packaging", "systemd", "multivip.service"));

        // The unit's facts this project relies on.
        Assert.Contains("\nType=notify\n", unit);
        Assert.Contains("\nCapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_RAW\n", unit);
        Assert.Contains("\nAmbientCapabilities=CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_RAW\n", unit);
        Assert.Contains("\nLimitNOFILE=1048576\n", unit);
        Assert.Contains("\nKillSignal=SIGTERM\n", unit);
        Assert.Contains("\nExecStart=/usr/local/bin/multivip serve --config /etc/multivip/multivip.toml --data-dir %S/multivip\n", unit);
        Assert.DoesNotContain("\nMemoryDenyWriteExecute=yes", unit); // the JIT needs it off

        // verify checks that ExecStart's program exists: point it at a stand-in.
        var program = Path.Combine(_dir, "multivip");
        await File.WriteAllTextAsync(program, "#!/bin/sh\n");
        File.SetUnixFileMode(program, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var copy = Path.Combine(_dir, "multivip.service");
        await File.WriteAllTextAsync(copy, unit.Replace("/usr/local/bin/multivip", program, StringComparison.Ordinal));

        var start = new ProcessStartInfo(Analyze) { RedirectStandardError = true, RedirectStandardOutput = true, ArgumentList = { "verify", "--man=no", copy } };
        using var verify = Process.Start(start)!;
        var errors = verify.StandardError.ReadToEndAsync();
        var output = verify.StandardOutput.ReadToEndAsync();
        await verify.WaitForExitAsync();

        // Unknown keys and bad values are warnings (exit 0) that name the file: none may appear.
        var complaints = (await errors + await output).Split('\n').Where(l => l.Contains(copy, StringComparison.Ordinal)).ToList();
        Assert.True(verify.ExitCode == 0 && complaints.Count == 0, $"systemd-analyze verify exited {verify.ExitCode}:\n{string.Join('\n', complaints)}\n{await errors}");
    }
}
