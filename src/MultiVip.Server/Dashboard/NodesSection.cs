using System.Globalization;
using MultiVip.Control.Nodes;

namespace MultiVip.Server.Dashboard;

/// <summary>The overview's Nodes card: every node sharing the state, as `multivip node list` shows it.</summary>
internal static class NodesSection
{
    public static string Render(IReadOnlyList<NodeStatus> nodes, long currentGeneration)
    {
        var h = new Html();
        h.Raw("<section class=\"card\" id=\"nodes\"><h2>Nodes <span class=\"muted small\">current generation ").Text(currentGeneration).Raw("</span></h2>");
        h.Raw("<table id=\"nodes-table\"><thead><tr><th>Node</th><th>State</th><th>API address</th><th>Announces from</th><th>Holds</th><th>Last heartbeat</th><th>Applied generation</th><th>Version</th><th>Faults</th></tr></thead><tbody>");
        foreach (var node in nodes)
        {
            var r = node.Record;
            h.Raw("<tr").Attr("data-node", r.Name).Raw("><td>").Text(r.Name).Raw(node.IsLocal ? " <span class=\"badge info\">this node</span>" : "")
                .Raw("</td><td class=\"node-state\">").Raw(Badge(node.State))
                .Raw("</td><td class=\"mono small\">").Text(r.ApiAddress)
                .Raw("</td><td class=\"mono small node-announce\">").Text(r.AnnounceAddress ?? "")
                .Raw("</td><td class=\"mono small node-holds\">").Text(NodeText.Holds(r.Holds))
                .Raw("</td><td class=\"small\">").Text(Html.When(r.LastHeartbeat)).Raw(" (").Text(node.HeartbeatAgeSeconds.ToString("0.0", CultureInfo.InvariantCulture)).Raw(" s ago)")
                .Raw("</td><td class=\"node-applied\">").Text(r.AppliedGeneration)
                .Raw("</td><td class=\"small\">").Text(r.Version)
                .Raw("</td><td class=\"small node-faults\">");
            foreach (var fault in r.Faults)
            {
                h.Raw("<div>").Text($"{fault.Listener} ({fault.ServiceName}): {fault.Message}").Raw("</div>");
            }

            h.Raw("</td></tr>");
        }

        h.Raw("</tbody></table>");
        h.Raw("<p class=\"muted small\">Ready: applied the current generation. Lagging: behind; operations wait for it. Down: no heartbeat for --node-down-after; nothing waits for it. See docs/operations.md#nodes.</p></section>");
        return h.ToString();
    }

    private static string Badge(NodeState state) => state switch
    {
        NodeState.Ready => "<span class=\"badge ok\">Ready</span>",
        NodeState.Lagging => "<span class=\"badge\">Lagging</span>",
        _ => "<span class=\"badge bad\">Down</span>",
    };
}

/// <summary>How a node's held VIPs read in the Nodes card: "198.51.100.10 (MASTER), 198.51.100.11 (MASTER)".</summary>
internal static class NodeText
{
    public static string Holds(IEnumerable<NodeHold> holds) => string.Join(", ", holds.Select(h => $"{h.Address} ({h.Role})"));
}
