using MultiVip.Cli.Tests.Cli;

namespace MultiVip.Cli.Tests.Operations;

/// <summary>
/// `serve --token-file FILE`: the nodes of one cluster (or any servers) given the same file accept
/// the same token, and write it into their data dirs for local clients; a file that cannot serve
/// as a token stops the start with a sentence that says why.
/// </summary>
public sealed class TokenFileTests
{
    [Fact]
    public async Task Two_servers_given_the_same_token_file_accept_the_same_token()
    {
        using var first = new ServiceManager("mv-token", "mvt");
        using var second = new ServiceManager("mv-token", "mvt");
        var tokenFile = Path.Combine(first.WorkDir, "cluster-token");
        var token = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        await File.WriteAllTextAsync(tokenFile, token + "\n");

        var octet = Random.Shared.Next(1, 120);
        using var a = first.Serve($"127.126.{octet}.0/24", drainTimeoutSeconds: 1, "--token-file", tokenFile);
        using var b = second.Serve($"127.126.{octet + 120}.0/24", drainTimeoutSeconds: 1, "--token-file", tokenFile);
        foreach (var (manager, server) in new[] { (first, a), (second, b) })
        {
            var api = await manager.WaitForApiAsync(server, TimeSpan.FromSeconds(90));
            Assert.Equal(System.Net.HttpStatusCode.OK, await ServiceManager.GetServicesAsync(api, token));
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, await ServiceManager.GetServicesAsync(api, "not-the-cluster-token"));
            Assert.Equal(token, (await File.ReadAllTextAsync(Path.Combine(manager.DataDir, "token"))).Trim());
        }

        a.Terminate();
        b.Terminate();
        Assert.Equal(0, await a.WaitForExitAsync(CliProcess.Bound));
        Assert.Equal(0, await b.WaitForExitAsync(CliProcess.Bound));
    }

    [Theory]
    [InlineData(null, "cannot be read")]
    [InlineData("short\n", "must hold the API token on one line")]
    [InlineData("first-line-of-a-token\nsecond-line-of-a-token\n", "must hold the API token on one line")]
    public async Task A_token_file_that_cannot_serve_stops_the_start_with_the_reason(string? content, string expected)
    {
        var dir = Path.Combine(Path.GetTempPath(), "mv-token", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var file = Path.Combine(dir, "token-file");
            if (content is not null)
            {
                await File.WriteAllTextAsync(file, content);
            }

            var run = await TestCli.RunAsync(["serve", "--token-file", file, "--data-dir", Path.Combine(dir, "data"), "--api", "http://127.0.0.1:0", "--dns", "off"]);
            Assert.Equal(2, run.ExitCode);
            Assert.Contains($"--token-file {file} {expected}", run.Error);
            Assert.False(Directory.Exists(Path.Combine(dir, "data")), "nothing may be created when the start is refused");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
