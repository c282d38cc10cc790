using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using MultiVip.Contracts;
using MultiVip.Control.Nodes;
using MultiVip.Control.State;
using MultiVip.Model.Errors;
using MultiVip.Model.Operations;
using MultiVip.Server.Hosting;

namespace MultiVip.Server.Tests.Nodes;

/// <summary>
/// GET /api/nodes and the node metrics of a real server: its own record, and other nodes' records
/// written straight into its registry (the nodes table of its database), as a shared store would
/// hold them.
/// </summary>
public sealed class NodeApiTests
{
    [Fact]
    public async Task A_single_server_lists_itself_Ready_with_its_api_address_and_applied_generation()
    {
        await using var f = await ServerFixture.StartAsync(configure: o => o with { NodeName = "lb-a" });
        var operation = await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "alone" });
        Assert.Equal(OperationStatus.Succeeded, operation.OperationStatus);

        var node = Assert.Single(await f.GetAsync<List<NodeView>>(ApiRoutes.Nodes));
        Assert.Equal("lb-a", node.Name);
        Assert.Equal(f.Server.Api.ToString().TrimEnd('/'), node.ApiAddress);
        Assert.Equal("Ready", node.State);
        Assert.True(node.IsLocal);
        Assert.Equal(operation.Generation, node.AppliedGeneration);
        Assert.Equal(operation.Generation, node.CurrentGeneration);
        Assert.Equal(NodeHeartbeat.Version, node.Version);
        Assert.Empty(node.Faults);
        Assert.InRange(node.HeartbeatAgeSeconds, 0, 10);

        // Its record is in the registry too, which is what the other nodes read.
        var stored = Assert.Single(await Registry(f).ListAsync(default));
        Assert.Equal("lb-a", stored.Name);
        Assert.Equal(node.ApiAddress, stored.ApiAddress);
    }

    [Fact]
    public async Task Other_nodes_records_are_listed_with_their_state_faults_and_metrics()
    {
        await using var f = await ServerFixture.StartAsync(configure: o => o with { NodeName = "lb-a", NodeDownAfter = TimeSpan.FromSeconds(60) });
        var operation = await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "svc" });
        var now = DateTimeOffset.UtcNow;
        var registry = Registry(f);
        await registry.HeartbeatAsync(Record("lb-b", now - TimeSpan.FromMinutes(5), operation.Generation), default);
        await registry.HeartbeatAsync(Record("lb-c", now, 0) with { Faults = [new NodeFault("svc", "tcp/127.111.9.1:80", "Address already in use")] }, default);

        var nodes = await f.GetAsync<List<NodeView>>(ApiRoutes.Nodes);
        Assert.Equal(["lb-a", "lb-b", "lb-c"], nodes.Select(n => n.Name));
        Assert.Equal(["Ready", "Down", "Lagging"], nodes.Select(n => n.State));
        Assert.Equal([true, false, false], nodes.Select(n => n.IsLocal));
        var c = nodes[2];
        Assert.Equal("http://127.111.0.3:7400", c.ApiAddress);
        Assert.Equal(new NodeFaultView("svc", "tcp/127.111.9.1:80", "Address already in use"), Assert.Single(c.Faults));
        Assert.InRange(nodes[1].HeartbeatAgeSeconds, 299, 3600);

        var text = await f.Http.GetStringAsync("/metrics");
        Assert.Equal(1, Value(text, "multivip_node_up", "node=\"lb-a\""));
        Assert.Equal(0, Value(text, "multivip_node_up", "node=\"lb-b\""));
        Assert.Equal(1, Value(text, "multivip_node_up", "node=\"lb-c\""));
        Assert.Equal(1, Value(text, "multivip_node_state", "node=\"lb-c\",state=\"Lagging\""));
        Assert.Equal(0, Value(text, "multivip_node_state", "node=\"lb-c\",state=\"Ready\""));
        Assert.Equal(operation.Generation, Value(text, "multivip_node_applied_generation", "node=\"lb-b\""));
        Assert.Equal(1, Value(text, "multivip_node_listener_faults", "node=\"lb-c\""));
        Assert.InRange(Value(text, "multivip_node_heartbeat_age_seconds", "node=\"lb-b\""), 299, 3600);
    }

    [Theory]
    [InlineData("bad name")]
    [InlineData("-lead")]
    public async Task A_bad_node_name_stops_the_start_with_a_sentence(string name)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "multivip-tests", Guid.NewGuid().ToString("N"));
        var error = await Assert.ThrowsAsync<MultiVipException>(() => ServerHost.StartAsync(new ServerOptions
        {
            DataDir = dataDir, Api = "http://127.0.0.1:0", Dns = "off", VipPools = [ServerFixture.UniquePool()], NodeName = name,
        }));
        Assert.Equal(ErrorCode.BadRequest, error.Code);
        Assert.Contains($"'{name}' is not a node name", error.Message);
        Assert.Contains("--node-name", error.Message);

        // Refused before anything was created.
        Assert.False(Directory.Exists(dataDir));
    }

    [Fact]
    public async Task Node_list_needs_the_bearer_token()
    {
        await using var f = await ServerFixture.StartAsync();
        using var anonymous = new HttpClient { BaseAddress = f.Server.Api };
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(ApiRoutes.Nodes)).StatusCode);
    }

    private static SqliteNodeRegistry Registry(ServerFixture f) =>
        new(new SqliteConnectionStringBuilder { DataSource = Path.Combine(f.DataDir, SqliteStateStore.FileName) }.ToString());

    private static NodeRecord Record(string name, DateTimeOffset heartbeat, long applied) => new()
    {
        Name = name,
        ApiAddress = name == "lb-b" ? "http://127.111.0.2:7400" : "http://127.111.0.3:7400",
        StartedAt = heartbeat - TimeSpan.FromHours(1),
        LastHeartbeat = heartbeat,
        AppliedGeneration = applied,
        Version = "other",
    };

    private static double Value(string text, string metric, string labels)
    {
        var match = Regex.Match(text, $"^{Regex.Escape(metric)}\\{{{Regex.Escape(labels)}\\}} (\\S+)$", RegexOptions.Multiline);
        Assert.True(match.Success, $"{metric}{{{labels}}} not in /metrics:\n{text}");
        return double.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }
}
