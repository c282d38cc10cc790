using System.Text.Json;
using Microsoft.Data.Sqlite;
using MultiVip.Cli.Tests.Cli;
using MultiVip.Control.Nodes;
using MultiVip.Control.State;
using MultiVip.Server.Hosting;

namespace MultiVip.Cli.Tests.EndToEnd;

/// <summary>
/// `multivip node list` against a real server, with a second node's record written into its
/// registry; and the serve options that name and judge nodes.
/// </summary>
public sealed class NodeListTests : IAsyncLifetime
{
    private RunningServer _server = null!;
    private string _dataDir = null!;

    public async Task InitializeAsync()
    {
        _dataDir = Path.Combine(Path.GetTempPath(), "multivip-cli-nodes", Guid.NewGuid().ToString("N"));
        _server = await ServerHost.StartAsync(new ServerOptions
        {
            DataDir = _dataDir,
            Api = "http://127.0.0.1:0",
            Dns = "off",
            VipPools = [$"127.111.{Random.Shared.Next(10, 250)}.0/24"],
            NodeName = "lb-a",
        });
        var registry = new SqliteNodeRegistry(new SqliteConnectionStringBuilder { DataSource = Path.Combine(_dataDir, SqliteStateStore.FileName) }.ToString());
        var old = DateTimeOffset.UtcNow - TimeSpan.FromMinutes(10);
        await registry.HeartbeatAsync(new NodeRecord
        {
            Name = "lb-b",
            ApiAddress = "http://127.111.0.2:7400",
            StartedAt = old - TimeSpan.FromHours(1),
            LastHeartbeat = old,
            AppliedGeneration = 0,
            Faults = [new NodeFault("myService", "tcp/127.111.3.1:80", "Address already in use")],
            Version = "0.9.0",
            AnnounceAddress = "127.111.0.2",
            Holds = [new NodeHold("198.51.100.10", "MASTER")],
        }, default);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_dataDir, recursive: true);
    }

    [Fact]
    public async Task Node_list_prints_a_table_marking_this_node()
    {
        var run = await TestCli.RunAsync(["node", "list", "--data-dir", _dataDir]);
        Assert.True(run.ExitCode == 0, run.Error);
        var lines = run.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Matches(@"^Name\s+State\s+ApiAddress\s+LastHeartbeat\s+Age\s+Applied\s+Version\s+AnnounceFrom\s+Holds\s+Faults$", lines[0]);
        Assert.Matches($@"^lb-a \*\s+Ready\s+{_server.Api.ToString().TrimEnd('/')}\s+\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+\d+\.\ds\s+0\s+\S+$", lines[2]);
        Assert.Matches(@"^lb-b\s+Down\s+http://127\.111\.0\.2:7400\s+.*\s+0\s+0\.9\.0\s+127\.111\.0\.2\s+198\.51\.100\.10 \(MASTER\)\s+tcp/127\.111\.3\.1:80 \(myService\): Address already in use$", lines[3]);
        Assert.Equal(4, lines.Length);
    }

    [Fact]
    public async Task Node_list_as_json_has_every_field()
    {
        var run = await TestCli.RunAsync(["node", "list", "--data-dir", _dataDir, "-o", "json"]);
        Assert.True(run.ExitCode == 0, run.Error);
        var nodes = JsonDocument.Parse(run.Out).RootElement.EnumerateArray().ToList();
        Assert.Equal(["lb-a", "lb-b"], nodes.Select(n => n.GetProperty("name").GetString()));
        Assert.Equal(["Ready", "Down"], nodes.Select(n => n.GetProperty("state").GetString()));
        Assert.True(nodes[0].GetProperty("isLocal").GetBoolean());
        Assert.Equal("http://127.111.0.2:7400", nodes[1].GetProperty("apiAddress").GetString());
        Assert.Equal("127.111.0.2", nodes[1].GetProperty("announceAddress").GetString());
        var hold = Assert.Single(nodes[1].GetProperty("holds").EnumerateArray());
        Assert.Equal("198.51.100.10", hold.GetProperty("address").GetString());
        Assert.Equal("MASTER", hold.GetProperty("role").GetString());
        var fault = Assert.Single(nodes[1].GetProperty("faults").EnumerateArray());
        Assert.Equal("Address already in use", fault.GetProperty("message").GetString());
        foreach (var field in new[] { "startedAt", "lastHeartbeat", "heartbeatAgeSeconds", "appliedGeneration", "currentGeneration", "version" })
        {
            Assert.True(nodes[0].TryGetProperty(field, out _), field);
        }
    }

    [Theory]
    [InlineData("bad name", "'bad name' is not a node name")]
    [InlineData("-x", "'-x' is not a node name")]
    public async Task Serve_refuses_a_bad_node_name_before_starting(string name, string expected)
    {
        var run = await TestCli.RunAsync(["serve", "--node-name", name, "--data-dir", Path.Combine(_dataDir, "never")]);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains(expected, run.Error);
        Assert.Contains("--node-name", run.Error);
        Assert.False(Directory.Exists(Path.Combine(_dataDir, "never")));

        var env = await TestCli.RunAsync(["serve", "--data-dir", Path.Combine(_dataDir, "never")], env: new Dictionary<string, string> { ["MULTIVIP_NODE_NAME"] = name });
        Assert.Equal(2, env.ExitCode);
        Assert.Contains("MULTIVIP_NODE_NAME", env.Error);
        Assert.Contains(expected, env.Error);
    }

    [Fact]
    public async Task Serve_refuses_a_node_down_after_below_three_heartbeats()
    {
        var run = await TestCli.RunAsync(["serve", "--node-down-after", "2"]);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--node-down-after is in seconds and must be at least 3", run.Error);
    }

    [Fact]
    public async Task Print_config_shows_the_host_name_as_the_default_node_name()
    {
        var run = await TestCli.RunAsync(["serve", "--print-config"]);
        Assert.Equal(0, run.ExitCode);
        Assert.Matches($@"(?m)^node-name = ""{System.Text.RegularExpressions.Regex.Escape(NodeName.Default())}""\s+# default$", run.Out);
        Assert.Matches(@"(?m)^node-down-after = 10\s+# default$", run.Out);
    }
}
