namespace MultiVip.Server.Dashboard;

/// <summary>
/// The service page's charts: connections/s and bytes/s per VIP and per backend over the last 15
/// minutes. The page holds empty boxes; dashboard.js draws them with the vendored uPlot from the
/// JSON at <c>/ui/services/{service}/traffic</c> (<see cref="TrafficHistory"/>) and redraws every interval.
/// </summary>
internal static class TrafficCharts
{
    public static string Render(string servicePath)
    {
        var h = new Html();
        h.Raw("<section class=\"card\" id=\"charts\"").Attr("data-traffic-url", servicePath + "/traffic")
            .Raw("><h2>Traffic, last 15 minutes <span class=\"muted small\" id=\"charts-status\"></span></h2>");
        h.Raw("<p class=\"muted small\">Sampled every ").Text((long)TrafficHistory.Interval.TotalSeconds).Raw(" s; bytes are both directions. Times in UTC.</p>");
        h.Raw("<div class=\"charts\">");
        foreach (var (id, title) in new[]
        {
            ("chart-vip-connections", "Connections/s per VIP"),
            ("chart-vip-bytes", "Bytes/s per VIP"),
            ("chart-backend-connections", "Connections/s per backend"),
            ("chart-backend-bytes", "Bytes/s per backend"),
        })
        {
            h.Raw("<figure class=\"chart\"><figcaption>").Text(title).Raw("</figcaption><div").Attr("id", id).Raw(" class=\"chart-box\"></div></figure>");
        }

        h.Raw("</div></section>");
        return h.ToString();
    }
}
