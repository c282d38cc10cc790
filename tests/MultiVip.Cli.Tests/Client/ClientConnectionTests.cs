using MultiVip.Client;

namespace MultiVip.Cli.Tests.Client;

public sealed class ClientConnectionTests : IDisposable
{
    private readonly string dataDir = Directory.CreateTempSubdirectory("multivip-cli-").FullName;

    public void Dispose() => Directory.Delete(dataDir, recursive: true);

    private static Func<string, string?> Env(string? api = null, string? token = null) => name => name switch
    {
        ClientConnection.ApiVariable => api,
        ClientConnection.TokenVariable => token,
        _ => null,
    };

    private void WriteDataDir(string api, string token)
    {
        File.WriteAllText(Path.Combine(dataDir, "endpoint"), api + "\n");
        File.WriteAllText(Path.Combine(dataDir, "token"), token + "\r\n");
    }

    [Fact]
    public void Flags_win_over_environment_and_data_dir()
    {
        WriteDataDir("http://127.0.0.1:7001", "file-token");

        var c = ClientConnection.Resolve("http://127.0.0.1:7003", "flag-token", dataDir, Env("http://127.0.0.1:7002", "env-token"));

        Assert.Equal(new Uri("http://127.0.0.1:7003"), c.Api);
        Assert.Equal("flag-token", c.Token);
    }

    [Fact]
    public void Environment_wins_over_data_dir()
    {
        WriteDataDir("http://127.0.0.1:7001", "file-token");

        var c = ClientConnection.Resolve(null, null, dataDir, Env("http://127.0.0.1:7002", "env-token"));

        Assert.Equal(new Uri("http://127.0.0.1:7002"), c.Api);
        Assert.Equal("env-token", c.Token);
    }

    [Fact]
    public void Data_dir_files_are_read_and_trimmed()
    {
        WriteDataDir("http://127.0.0.1:7001", "file-token");

        var c = ClientConnection.Resolve(null, null, dataDir, Env());

        Assert.Equal(new Uri("http://127.0.0.1:7001"), c.Api);
        Assert.Equal("file-token", c.Token);
    }

    [Fact]
    public void Each_value_is_resolved_on_its_own()
    {
        WriteDataDir("http://127.0.0.1:7001", "file-token");

        var c = ClientConnection.Resolve(null, "flag-token", dataDir, Env(api: "http://127.0.0.1:7002"));

        Assert.Equal(new Uri("http://127.0.0.1:7002"), c.Api);
        Assert.Equal("flag-token", c.Token);
    }

    [Fact]
    public void Url_defaults_to_the_standard_port_when_only_a_token_is_known()
    {
        var c = ClientConnection.Resolve(null, "t", dataDir, Env());

        Assert.Equal(new Uri("http://127.0.0.1:7400"), c.Api);
    }

    [Fact]
    public void Nothing_found_says_every_way_to_find_the_server()
    {
        var e = Assert.Throws<MultiVipConnectionException>(() => ClientConnection.Resolve(null, null, dataDir, Env()));

        Assert.Equal(
            "No MultiVip server found: pass --api and --token, set MULTIVIP_API and MULTIVIP_TOKEN, or run in the directory where `multivip serve` keeps its data (./.multivip).",
            e.Message);
    }

    [Theory]
    [InlineData("127.0.0.1:7400")]
    [InlineData("ftp://127.0.0.1")]
    public void A_url_that_is_not_http_is_refused(string api)
    {
        var e = Assert.Throws<MultiVipConnectionException>(() => ClientConnection.Resolve(api, "t", dataDir, Env()));

        Assert.Contains(api, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_token_is_never_printed()
    {
        var c = new ClientConnection(new Uri("http://127.0.0.1:7400"), "s3cret");

        Assert.DoesNotContain("s3cret", c.ToString(), StringComparison.Ordinal);
    }
}
