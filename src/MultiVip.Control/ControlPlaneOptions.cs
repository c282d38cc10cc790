using MultiVip.Model.Networking;
using MultiVip.Model.Validation;

namespace MultiVip.Control;

/// <summary>Settings of the control plane.</summary>
public sealed record ControlPlaneOptions
{
    /// <summary>Where VIP addresses come from. Default 127.100.0.0/16: loopback, so it runs unprivileged on any Linux box.</summary>
    public AddressPool Pool { get; init; } = AddressPool.Parse([AddressPool.DefaultPool]);

    public ServiceLimits Limits { get; init; } = ServiceLimits.Default;

    /// <summary>
    /// How long a mutating call waits for the data plane before answering 202 InProgress. Most changes
    /// apply in well under this, so clients usually get Succeeded without polling; a slow apply never
    /// holds the caller longer than this.
    /// </summary>
    public TimeSpan AcknowledgeWait { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// How often the state store is read for what other writers (nodes sharing the database)
    /// committed, besides whenever it notifies a commit: the catch-up that makes a missed
    /// notification never a missed change.
    /// </summary>
    public TimeSpan CatchUpInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How often a snapshot with faults (an address that cannot be bound) is applied again.</summary>
    public TimeSpan FaultRetryInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>This node's name in the node registry (--node-name); the server defaults it to the host name.</summary>
    public string NodeName { get; init; } = "local";

    /// <summary>A node whose heartbeat is older than this is Down and holds no operation up (--node-down-after).</summary>
    public TimeSpan NodeDownAfter { get; init; } = Nodes.NodeStates.DefaultDownAfter;
}
