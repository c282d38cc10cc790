namespace MultiVip.PowerShell.Tests;

/// <summary>
/// Every PowerShell block of the seed (shared/seed/000_5d8dde946eaeeadf.txt), verbatim and in order.
/// <see cref="SeedWalkthroughTests.Blocks_are_the_seeds_verbatim"/> checks them against the seed
/// whenever the seed is beside the repository.
/// </summary>
internal static class SeedBlocks
{
    public static readonly IReadOnlyList<string> All =
    [
        """
        Add-AzureVirtualIP -VirtualIPName Vip3 -ServiceName myService
        """,
        """
        Remove-AzureVirtualIP -VirtualIPName Vip3 -ServiceName myService
        """,
        """
        $deployment = Get-AzureDeployment -ServiceName myService
        $deployment.VirtualIPs
        """,
        """
        Get-AzureVM -ServiceName myService -Name myVM1 `
        | Add-AzureEndpoint -Name myEndpoint -Protocol tcp -LocalPort 8080 -PublicPort 80 -VirtualIPName Vip2 `
        | Update-AzureVM
        """,
        """
        $deployment = Get-AzureDeployment -ServiceName myService
        $deployment.VirtualIPs
        """,
        """
        Get-AzureVM -ServiceName myService -Name myVM1 `
        | Add-AzureEndpoint -Name myEndpoint -LoadBalancedEndpointSetName myLBSet `
            -Protocol tcp -LocalPort 8181 -PublicPort 81 -VirtualIPName Vip2  -DefaultProbe `
        | Update-AzureVM

        Get-AzureVM -ServiceName myService -Name myVM2 `
        | Add-AzureEndpoint -Name myEndpoint -LoadBalancedEndpointSetName myLBSet `
            -Protocol tcp -LocalPort 8181 -PublicPort 81 -VirtualIPName Vip2  -DefaultProbe `
        | Update-AzureVM
        """,
        """
        Set-AzureLoadBalancedEndpoint -ServiceName myService -LBSetName myLBSet -VirtualIPName Vip1
        """,
    ];

    /// <summary>The seed's code blocks: 4-space-indented runs of lines, minus the sample-output ones.</summary>
    public static IReadOnlyList<string> Extract(string seed)
    {
        var blocks = new List<List<string>>();
        List<string>? current = null;
        foreach (var line in seed.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n'))
        {
            if (line.StartsWith("    ", StringComparison.Ordinal) || (current is not null && line.Trim().Length == 0))
            {
                current ??= [];
                current.Add(line);
                continue;
            }

            if (current is not null)
            {
                blocks.Add(current);
                current = null;
            }
        }

        if (current is not null)
        {
            blocks.Add(current);
        }

        return blocks
            .Select(b => string.Join('\n', b.Select(l => l.Length >= 4 ? l[4..] : string.Empty)).TrimEnd())
            .Where(t => !t.StartsWith("Address", StringComparison.Ordinal) && !t.StartsWith("OperationDescription", StringComparison.Ordinal))
            .ToList();
    }

    /// <summary>A block as a PowerShell verbatim here-string (no escaping: the text goes through unchanged).</summary>
    public static string HereString(string block) => "@'\n" + block.Replace("\r\n", "\n", StringComparison.Ordinal) + "\n'@";
}
