namespace MultiVip.Control.Nodes;

/// <summary>How a node stands, as `multivip node list` and /metrics show it.</summary>
public enum NodeState
{
    /// <summary>Heartbeat fresh and its data plane runs the current generation.</summary>
    Ready,

    /// <summary>Heartbeat fresh but its data plane is behind: operations wait for it.</summary>
    Lagging,

    /// <summary>No heartbeat for --node-down-after, or stopped cleanly: it holds no operation up.</summary>
    Down,
}

/// <summary>The rules that turn a node's record into its state; pure, so they are tested without clocks or sockets.</summary>
public static class NodeStates
{
    public static readonly TimeSpan DefaultDownAfter = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Down when it stopped or its last heartbeat is older than <paramref name="downAfter"/>; otherwise Ready when
    /// it applied <paramref name="currentGeneration"/> (or later: a node that read a newer
    /// generation from the shared store than this one has seen yet), else Lagging.
    /// </summary>
    public static NodeState Of(NodeRecord node, long currentGeneration, DateTimeOffset now, TimeSpan downAfter)
    {
        if (!IsLive(node, now, downAfter))
        {
            return NodeState.Down;
        }

        return node.AppliedGeneration >= currentGeneration ? NodeState.Ready : NodeState.Lagging;
    }

    /// <summary>
    /// Alive while it has not said it stopped and its last heartbeat is at most
    /// <paramref name="downAfter"/> old. A heartbeat "from the future" (the other node's clock runs
    /// ahead) counts as fresh: skew must not declare a working node down.
    /// </summary>
    public static bool IsLive(NodeRecord node, DateTimeOffset now, TimeSpan downAfter) =>
        node.StoppedAt is null && now - node.LastHeartbeat <= downAfter;

    /// <summary>Seconds since the last heartbeat, never negative.</summary>
    public static double HeartbeatAgeSeconds(NodeRecord node, DateTimeOffset now) =>
        Math.Max(0, (now - node.LastHeartbeat).TotalSeconds);
}
