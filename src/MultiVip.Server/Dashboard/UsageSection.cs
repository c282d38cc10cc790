using System.Globalization;
using MultiVip.Contracts;

namespace MultiVip.Server.Dashboard;

/// <summary>The service page's usage card: this month so far, as `multivip usage` reports it.</summary>
internal static class UsageSection
{
    public static string Render(UsageReport report)
    {
        var h = new Html();
        h.Raw("<section class=\"card\" id=\"usage\"><h2>Usage <span class=\"muted small\">")
            .Raw(Html.Time(report.From)).Raw(" – ").Raw(Html.Time(report.GeneratedAt < report.To ? report.GeneratedAt : report.To)).Raw("</span></h2>");
        h.Raw("<p class=\"muted small\">Billed as Azure did: an extra VIP while it holds an address, a reserved IP while it backs a VIP of this service. See docs/usage.md.</p>");
        h.Raw("<table id=\"usage-vips\"><thead><tr><th>VIP</th><th>VIP-hours</th><th>Bytes in</th><th>Bytes out</th></tr></thead><tbody>");
        foreach (var vip in report.VirtualIps)
        {
            h.Raw("<tr").Attr("data-vip", vip.Name).Raw("><td>").Text(vip.Name).Raw(vip.IsDnsProgrammed ? " <span class=\"badge info\">default, not billed</span>" : "")
                .Raw("</td><td class=\"vip-hours\">").Text(vip.IsDnsProgrammed ? "" : Hours(vip.Hours))
                .Raw("</td><td>").Text(Html.Bytes(vip.BytesIn)).Raw("</td><td>").Text(Html.Bytes(vip.BytesOut)).Raw("</td></tr>");
        }

        h.Raw("<tr class=\"total\"><td><strong>Total</strong></td><td id=\"usage-vip-hours\"><strong>").Text(Hours(report.VipHours))
            .Raw("</strong></td><td>").Text(Html.Bytes(report.BytesIn)).Raw("</td><td>").Text(Html.Bytes(report.BytesOut)).Raw("</td></tr></tbody></table>");
        if (report.ReservedIps.Count > 0)
        {
            h.Raw("<table id=\"usage-reserved\"><thead><tr><th>Reserved IP</th><th>Address</th><th>Hours</th></tr></thead><tbody>");
            foreach (var reserved in report.ReservedIps)
            {
                h.Raw("<tr><td>").Text(reserved.Name).Raw("</td><td>").Text(reserved.Address).Raw("</td><td>").Text(Hours(reserved.Hours)).Raw("</td></tr>");
            }

            h.Raw("</tbody></table>");
        }

        h.Raw("</section>");
        return h.ToString();
    }

    private static string Hours(double hours) => hours.ToString("0.00##", CultureInfo.InvariantCulture);
}
