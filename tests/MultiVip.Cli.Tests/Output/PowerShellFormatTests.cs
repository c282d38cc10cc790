using MultiVip.Cli.Output;
using MultiVip.Cli.Tests.Support;
using MultiVip.Contracts;
using MultiVip.Model.Operations;

namespace MultiVip.Cli.Tests.Output;

public sealed class PowerShellFormatTests
{
    private static string Lines(params string[] lines) => string.Concat(lines.Select(l => l + Environment.NewLine));

    [Fact]
    public void Operation_table_matches_the_seed()
    {
        var text = ResourceText.Operations([Samples.Operation(OperationStatus.Succeeded)]);

        Assert.Equal(
            Lines(
                "OperationDescription OperationId                          OperationStatus",
                "-------------------- -----------                          ---------------",
                "Add-AzureVirtualIP   4bd7b638-d2e7-216f-ba38-5221233d70ce Succeeded"),
            text);
    }

    [Fact]
    public void Table_columns_grow_with_their_widest_cell_and_dashes_stay_header_long()
    {
        var text = ResourceText.Operations([Samples.Operation(OperationStatus.InProgress, description: "Set-AzureLoadBalancedEndpoint")]);

        Assert.Equal(
            Lines(
                "OperationDescription          OperationId                          OperationStatus",
                "--------------------          -----------                          ---------------",
                "Set-AzureLoadBalancedEndpoint 4bd7b638-d2e7-216f-ba38-5221233d70ce InProgress"),
            text);
    }

    [Fact]
    public void Numeric_columns_are_right_aligned_and_empty_cells_leave_no_trailing_spaces()
    {
        var text = PowerShellFormat.Table([new("Name"), new("Port", AlignRight: true), new("Label")], [["a", "8080", null], ["bb", "81", "x"]]);

        Assert.Equal(
            Lines(
                "Name Port Label",
                "---- ---- -----",
                "a    8080",
                "bb     81 x"),
            text);
    }

    [Fact]
    public void Virtual_ips_match_the_seed_list()
    {
        var text = ResourceText.VirtualIps(Samples.SeedVips);

        Assert.Equal(
            Lines(
                "Address         : 191.238.74.148",
                "IsDnsProgrammed : True",
                "Name            : Vip1",
                "ReservedIPName  :",
                "ExtensionData   :",
                "",
                "Address         : 191.238.74.13",
                "IsDnsProgrammed :",
                "Name            : Vip2",
                "ReservedIPName  :",
                "ExtensionData   :",
                "",
                "Address         :",
                "IsDnsProgrammed :",
                "Name            : Vip3",
                "ReservedIPName  :",
                "ExtensionData   :"),
            text);
    }

    [Fact]
    public void Deployment_shows_header_vips_vms_endpoints_and_sets()
    {
        var text = ResourceText.Deployment(Samples.Deployment());

        Assert.StartsWith(
            Lines(
                "ServiceName    : myService",
                "DeploymentName : myService",
                "DeploymentSlot : Production",
                "ReservedIPName :",
                "CreatedAt      : 2025-01-02 03:04:05Z",
                "Version        : 12",
                "",
                "VirtualIPs",
                "",
                "Address         : 191.238.74.148"),
            text);
        Assert.Contains(Lines("Name  IpAddress State   Endpoints Version", "----  --------- -----   --------- -------", "myVM1 10.0.0.4  Enabled         1       7"), text, StringComparison.Ordinal);
        Assert.Contains("myVM1 myEndpoint tcp           8181   81 Vip2          myLBSet   tcp:8181 15s/31s 100:permit:10.0.0.0/8", text, StringComparison.Ordinal);
        Assert.Contains("myLBSet   Vip2          tcp        81 tcp:8181 15s/31s none         myVM1/myEndpoint:8181", text, StringComparison.Ordinal);
        Assert.EndsWith(Lines("Health", "", "(none)", "", "Network", "", "(none)"), text);
    }

    [Fact]
    public void Deployment_ends_with_whether_this_node_holds_each_vip_address()
    {
        var text = ResourceText.Deployment(Samples.Deployment() with
        {
            Network =
            [
                new VipNetworkView { VirtualIpName = "Vip1", Address = "192.0.2.100", AddressFamily = "IPv4", Announcer = "local", Held = true, HeldSince = new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero) },
                new VipNetworkView { VirtualIpName = "Vip2", Address = "2001:db8::100", AddressFamily = "IPv6", Announcer = "local", LastError = "cannot add 2001:db8::100 to eth0: denied", LastErrorAt = new DateTimeOffset(2025, 1, 2, 3, 4, 6, TimeSpan.Zero) },
                new VipNetworkView { VirtualIpName = "Vip3", AddressFamily = "IPv4", Announcer = "local" },
            ],
        });
        Assert.Contains("Vip1          192.0.2.100   IPv4   local     True      2025-01-02 03:04:05Z", text, StringComparison.Ordinal);
        Assert.Contains("Vip2          2001:db8::100 IPv6   local     False                          2025-01-02 03:04:06Z cannot add 2001:db8::100 to eth0: denied", text, StringComparison.Ordinal);
    }

    [Fact]
    public void List_pads_names_per_object()
    {
        var text = PowerShellFormat.List([[("A", "1"), ("Longer", "2")], [("B", null)]]);

        Assert.Equal(Lines("A      : 1", "Longer : 2", "", "B :"), text);
    }
}
