using MultiVip.Control.Nodes;

namespace MultiVip.Control.Tests.Nodes;

/// <summary>The pure rules of a node's state: Ready, Lagging, Down; and what a node may be called.</summary>
public sealed class NodeStatesTests
{
    private static readonly DateTimeOffset Now = new(2030, 1, 15, 10, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan DownAfter = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData(0.0, 7L, 7L, NodeState.Ready)]
    [InlineData(9.9, 7L, 7L, NodeState.Ready)]
    [InlineData(10.0, 7L, 7L, NodeState.Ready)] // exactly --node-down-after old: still alive
    [InlineData(10.001, 7L, 7L, NodeState.Down)]
    [InlineData(0.0, 6L, 7L, NodeState.Lagging)]
    [InlineData(0.0, 8L, 7L, NodeState.Ready)] // ahead of this node: it read a newer generation first
    [InlineData(3600.0, 7L, 7L, NodeState.Down)]
    [InlineData(3600.0, 2L, 7L, NodeState.Down)] // down wins over lagging: nothing waits for it
    [InlineData(-5.0, 7L, 7L, NodeState.Ready)] // its clock runs ahead: skew never makes a node down
    public void State_follows_heartbeat_age_and_applied_generation(double ageSeconds, long applied, long current, NodeState expected)
    {
        var node = Record(Now - TimeSpan.FromSeconds(ageSeconds), applied);
        Assert.Equal(expected, NodeStates.Of(node, current, Now, DownAfter));
        Assert.Equal(expected != NodeState.Down, NodeStates.IsLive(node, Now, DownAfter));
    }

    [Fact]
    public void A_node_that_stopped_cleanly_is_Down_at_once_whatever_its_heartbeat()
    {
        var stopped = Record(Now, 7) with { StoppedAt = Now };
        Assert.Equal(NodeState.Down, NodeStates.Of(stopped, 7, Now, DownAfter));
        Assert.False(NodeStates.IsLive(stopped, Now, DownAfter));
    }

    [Fact]
    public void Heartbeat_age_is_never_negative()
    {
        Assert.Equal(0, NodeStates.HeartbeatAgeSeconds(Record(Now + TimeSpan.FromSeconds(3), 0), Now));
        Assert.Equal(2.5, NodeStates.HeartbeatAgeSeconds(Record(Now - TimeSpan.FromSeconds(2.5), 0), Now));
    }

    [Fact]
    public void Live_progress_is_this_node_and_the_others_with_a_fresh_heartbeat()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(Now);
        var cluster = new NodeCluster("a", DownAfter, time);
        cluster.LocalAppliedGeneration(5, []);
        cluster.OthersRead([Record(Now, 4) with { Name = "b" }, Record(Now - TimeSpan.FromMinutes(1), 1) with { Name = "c" }, Record(Now, 0) with { Name = "A" }]);

        // "A" is this node's own old record (names compare without case): memory wins over it.
        Assert.Equal(["a", "b"], cluster.Live().Select(n => n.Name));
        Assert.Equal([5L, 4L], cluster.Live().Select(n => n.Applied));
        Assert.True(cluster.AnyOtherLive());

        time.Advance(TimeSpan.FromSeconds(11));
        Assert.Equal(["a"], cluster.Live().Select(n => n.Name));
        Assert.False(cluster.AnyOtherLive());
    }

    [Theory]
    [InlineData("lb-a")]
    [InlineData("vm")]
    [InlineData("LB1.example.net")]
    [InlineData("node_2")]
    [InlineData("a")]
    public void Good_node_names_are_accepted(string name) => Assert.Null(NodeName.Problem(name));

    [Theory]
    [InlineData("", "empty")]
    [InlineData("-a", "starting and ending with a letter or digit")]
    [InlineData("a-", "starting and ending with a letter or digit")]
    [InlineData("a b", "letters, digits")]
    [InlineData("a/b", "letters, digits")]
    [InlineData("knoten-ä", "letters, digits")]
    public void Bad_node_names_get_a_sentence_naming_the_rule_and_the_option(string name, string expected)
    {
        var problem = NodeName.Problem(name);
        Assert.NotNull(problem);
        Assert.Contains(expected, problem);
        Assert.Contains("--node-name", problem);
    }

    [Fact]
    public void A_name_too_long_says_how_long_it_is()
    {
        var problem = NodeName.Problem(new string('n', 65));
        Assert.Contains("65 characters", problem);
        Assert.Null(NodeName.Problem(new string('n', 64)));
    }

    [Fact]
    public void A_control_character_in_a_name_is_escaped_in_the_message()
    {
        var problem = NodeName.Problem("a\u001b[31mb");
        Assert.NotNull(problem);
        Assert.DoesNotContain('\u001b', problem);
    }

    private static NodeRecord Record(DateTimeOffset heartbeat, long applied) => new()
    {
        Name = "b",
        ApiAddress = "http://127.111.0.2:7400",
        StartedAt = heartbeat - TimeSpan.FromMinutes(5),
        LastHeartbeat = heartbeat,
        AppliedGeneration = applied,
        Version = "test",
    };
}
