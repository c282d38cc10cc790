using System.Text.RegularExpressions;

namespace MultiVip.PowerShell.Tests;

/// <summary>
/// Get-Help from the module's MAML (en-US/MultiVip.PowerShell.dll-Help.xml), which
/// Help/Build-MultiVipHelp.ps1 generates from Help/*.md and the cmdlets' own metadata.
/// </summary>
public sealed partial class HelpTests
{
    private static string HelpSource => Path.Combine(Pwsh.Root, "src", "MultiVip.PowerShell", "Help");

    private static string Generator => Path.Combine(HelpSource, "Build-MultiVipHelp.ps1");

    private static string CommittedHelp => Path.Combine(Pwsh.Root, "src", "MultiVip.PowerShell", "en-US", "MultiVip.PowerShell.dll-Help.xml");

    [Fact]
    public async Task Committed_help_is_what_the_generator_writes_from_the_sources_and_the_built_module()
    {
        var output = Path.Combine(Path.GetTempPath(), $"multivip-help-{Guid.NewGuid():N}.xml");
        try
        {
            var result = await Pwsh.RunFileAsync(Generator, "-ModulePath", Pwsh.ModulePath, "-HelpSource", HelpSource, "-OutFile", output);
            Assert.True(result.ExitCode == 0, $"The help generator failed:\n{result.Output}\n{result.Error}");
            var fresh = await File.ReadAllTextAsync(output);
            Assert.True(
                fresh == await File.ReadAllTextAsync(CommittedHelp),
                "src/MultiVip.PowerShell/en-US/MultiVip.PowerShell.dll-Help.xml is not what Help/*.md and the cmdlets give: run ./multivip-ps -File src/MultiVip.PowerShell/Help/Build-MultiVipHelp.ps1 and commit the result.");

            // The module the tests import carries that same file where pwsh looks for it.
            Assert.Equal(fresh, await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "en-US", "MultiVip.PowerShell.dll-Help.xml")));
        }
        finally
        {
            File.Delete(output);
        }
    }

    [Fact]
    public async Task Generator_refuses_a_cmdlet_or_a_parameter_without_help()
    {
        var sources = Directory.CreateTempSubdirectory("multivip-help-src-").FullName;
        var output = Path.Combine(sources, "out.xml");
        try
        {
            foreach (var file in Directory.GetFiles(HelpSource, "*.md"))
            {
                File.Copy(file, Path.Combine(sources, Path.GetFileName(file)));
            }

            File.Delete(Path.Combine(sources, "Get-AzureVM.md"));
            var endpoint = Path.Combine(sources, "Add-AzureEndpoint.md");
            var text = await File.ReadAllTextAsync(endpoint);
            await File.WriteAllTextAsync(endpoint, ProbePathSection().Replace(text, string.Empty));
            var vip = Path.Combine(sources, "Add-AzureVirtualIP.md");
            await File.WriteAllTextAsync(vip, (await File.ReadAllTextAsync(vip)).Replace("## PARAMETERS\n", "## PARAMETERS\n\n### -Slot\nNot a parameter of this cmdlet.\n", StringComparison.Ordinal));

            var result = await Pwsh.RunFileAsync(Generator, "-ModulePath", Pwsh.ModulePath, "-HelpSource", sources, "-OutFile", output);

            Assert.NotEqual(0, result.ExitCode);
            var said = Regex.Replace(result.Output + result.Error, @"\s+\|?\s*", " ");
            Assert.Contains("Get-AzureVM: no help file", said, StringComparison.Ordinal);
            Assert.Contains("Add-AzureEndpoint: parameter -ProbePath has no help", said, StringComparison.Ordinal);
            Assert.Contains("Add-AzureVirtualIP: help for -Slot, which the cmdlet does not have", said, StringComparison.Ordinal);
            Assert.False(File.Exists(output));
        }
        finally
        {
            Directory.Delete(sources, recursive: true);
        }
    }

    [Fact]
    public async Task Get_Help_shows_the_seeds_examples_and_full_help_for_every_cmdlet()
    {
        // Get-Help reads only local files: no server is needed, the connection is never used.
        var result = await Pwsh.RunAsync("""
            foreach ($name in 'Add-AzureVirtualIP', 'Remove-AzureVirtualIP', 'Get-AzureDeployment', 'Add-AzureEndpoint', 'Set-AzureLoadBalancedEndpoint') {
                "=== examples $name"
                Get-Help $name -Examples | Out-String -Width 250
            }
            '=== full'
            $common = [System.Management.Automation.PSCmdlet]::CommonParameters
            foreach ($c in Get-Command -Module MultiVip -CommandType Cmdlet | Sort-Object Name) {
                $h = Get-Help $c.Name -Full
                $params = @($c.Parameters.Keys | Where-Object { $_ -notin $common } | Sort-Object)
                $described = @($h.parameters.parameter | Where-Object { ($_.description | Out-String).Trim() } | ForEach-Object name | Sort-Object)
                $description = ($h.description | Out-String).Trim()
                $full = $h | Out-String -Width 250
                "{0}|{1}|{2}|{3}|{4}|{5}|{6}" -f $c.Name, "$($h.Synopsis)".Trim(), $description.Length, ($params -join ','), ($described -join ','), @($h.examples.example).Count, ($full.Contains('SYNOPSIS') -and $full.Contains('DESCRIPTION') -and ($params.Count -eq 0 -or $full.Contains('Accept pipeline input?')))
            }
            '=== end'

            """, new Uri("http://127.0.0.1:1/"), "unused");

        // The seed's blocks, verbatim, as Get-Help prints code (indented by 4).
        Assert.Contains(Indented(SeedBlocks.All[0]), Examples(result, "Add-AzureVirtualIP"), StringComparison.Ordinal);
        Assert.Contains("Add-AzureVirtualIP   4bd7b638-d2e7-216f-ba38-5221233d70ce Succeeded", Examples(result, "Add-AzureVirtualIP"), StringComparison.Ordinal);
        Assert.Contains(Indented(SeedBlocks.All[1]), Examples(result, "Remove-AzureVirtualIP"), StringComparison.Ordinal);
        Assert.Contains(Indented(SeedBlocks.All[2]), Examples(result, "Get-AzureDeployment"), StringComparison.Ordinal);
        Assert.Contains(Indented(SeedBlocks.All[3]), Examples(result, "Add-AzureEndpoint"), StringComparison.Ordinal);
        Assert.Contains(Indented(SeedBlocks.All[5]), Examples(result, "Add-AzureEndpoint"), StringComparison.Ordinal);
        Assert.Contains(Indented(SeedBlocks.All[6]), Examples(result, "Set-AzureLoadBalancedEndpoint"), StringComparison.Ordinal);

        var rows = Output.NonEmpty(result.Section("full")).Select(l => l.Split('|')).ToList();
        // One row per cmdlet the module exports (26 of Azure's and ours, and Get-AzureServiceUsage).
        Assert.Equal(28, rows.Count);
        foreach (var row in rows)
        {
            var (name, synopsis, descriptionLength, parameters, described, examples, full) = (row[0], row[1], int.Parse(row[2]), row[3], row[4], int.Parse(row[5]), row[6]);

            // Without help, pwsh makes the synopsis from the syntax and the parameters have no text.
            Assert.Equal(Synopsis(name), synopsis);
            Assert.True(descriptionLength > 40, $"{name}: no description");
            Assert.True(parameters == described, $"{name}: parameters {parameters}, described {described}");
            Assert.True(examples >= 1, $"{name}: no example");
            Assert.True(full == "True", $"{name}: -Full lacks its synopsis, description or parameter attributes");
        }
    }

    /// <summary>The SYNOPSIS of Help/&lt;name&gt;.md, as one line.</summary>
    private static string Synopsis(string cmdlet)
    {
        var lines = File.ReadAllLines(Path.Combine(HelpSource, cmdlet + ".md"));
        var start = Array.IndexOf(lines, "## SYNOPSIS");
        Assert.True(start >= 0, $"{cmdlet}.md has no SYNOPSIS");
        return string.Join(' ', lines.Skip(start + 1).TakeWhile(l => !l.StartsWith('#')).Select(l => l.Trim()).Where(l => l.Length > 0));
    }

    /// <summary>Code as Get-Help prints it: indented by 4; trailing spaces dropped on both sides.</summary>
    private static string Indented(string block) =>
        string.Join('\n', block.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n').Select(l => ("    " + l).TrimEnd()));

    private static string Examples(PwshResult result, string cmdlet) =>
        string.Join('\n', result.Section("examples " + cmdlet).Split('\n').Select(l => l.TrimEnd()));

    [GeneratedRegex(@"### -ProbePath\n.*?\n(?=###)", RegexOptions.Singleline)]
    private static partial Regex ProbePathSection();
}
