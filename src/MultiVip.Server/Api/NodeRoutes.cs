using MultiVip.Contracts;
using MultiVip.Control.Nodes;

namespace MultiVip.Server.Api;

/// <summary>
/// GET /api/nodes: every node in the registry, read fresh, with its state as the answering node
/// judges it now. The answering node's own row comes from memory, so it is current even while the
/// registry cannot be written.
/// </summary>
internal static class NodeRoutes
{
    public static void MapNodesApi(this IEndpointRouteBuilder api)
    {
        api.MapGet("/nodes", async (NodeHeartbeat heartbeat, MultiVip.Control.ControlPlane control, CancellationToken ct) =>
            TypedResults.Ok(View(await heartbeat.ListAsync(ct), control.Current.Generation)))
            .WithTags("Nodes").WithName("ListNodes").WithSummary("The nodes sharing this state: API address, last heartbeat, applied generation, state (Ready, Lagging, Down), data-plane faults");
    }

    public static List<NodeView> View(IReadOnlyList<NodeStatus> nodes, long currentGeneration) =>
        [.. nodes.Select(n => new NodeView
        {
            Name = n.Record.Name,
            ApiAddress = n.Record.ApiAddress,
            State = n.State.ToString(),
            StartedAt = n.Record.StartedAt,
            LastHeartbeat = n.Record.LastHeartbeat,
            HeartbeatAgeSeconds = Math.Round(n.HeartbeatAgeSeconds, 3),
            StoppedAt = n.Record.StoppedAt,
            AppliedGeneration = n.Record.AppliedGeneration,
            CurrentGeneration = currentGeneration,
            Version = n.Record.Version,
            IsLocal = n.IsLocal,
            Faults = [.. n.Record.Faults.Select(f => new NodeFaultView(f.ServiceName, f.Listener, f.Message))],
            AnnounceAddress = n.Record.AnnounceAddress,
            Holds = [.. n.Record.Holds.Select(h => new NodeHoldView(h.Address, h.Role))],
        })];
}
