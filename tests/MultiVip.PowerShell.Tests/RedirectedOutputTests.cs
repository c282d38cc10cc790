namespace MultiVip.PowerShell.Tests;

/// <summary>
/// pwsh run as a user's shell (no NO_COLOR, a color TERM) with stdout and stderr going to pipes, as
/// `pwsh -File x.ps1 &gt; out.txt` or `./multivip-ps -Command ... | grep` do.
/// </summary>
public sealed class RedirectedOutputTests
{
    private const string Script = """
        New-AzureService -ServiceName svc | Out-Null
        New-AzureVM -ServiceName svc -Name vm1 -IPAddress 127.0.0.1 | Out-Null
        '=== rendering'
        $PSStyle.OutputRendering
        '=== table'
        Get-AzureVM -ServiceName svc
        '=== list'
        Get-AzureService svc | Format-List ServiceName, Status
        '=== error'
        Get-AzureDeployment -ServiceName nosuch
        '=== end'

        """;

    [Fact]
    public async Task Redirected_output_and_errors_carry_no_escape_codes_without_NO_COLOR()
    {
        await using var server = await TestServer.StartAsync(network: "127.69");
        var result = await server.PwshAsync(Script, new PwshSession { Colors = true });

        Assert.Equal("PlainText", Output.NonEmpty(result.Section("rendering")).Single());
        Assert.Contains("vm1", result.Section("table"), StringComparison.Ordinal);
        Assert.Contains("ServiceName : svc", result.Section("list"), StringComparison.Ordinal);
        Assert.Contains("Service Management Error Code: ResourceNotFound", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', result.Output);
        Assert.DoesNotContain('\u001b', result.Error);
    }

    [Fact]
    public async Task A_users_own_Ansi_choice_is_kept()
    {
        await using var server = await TestServer.StartAsync(network: "127.69");
        var result = await server.PwshAsync(Script, new PwshSession { Colors = true, BeforeImport = "$PSStyle.OutputRendering = 'Ansi'" });

        Assert.Equal("Ansi", Output.NonEmpty(result.Section("rendering")).Single());
        Assert.Contains('\u001b', result.Section("table"));
        Assert.Contains('\u001b', result.Error);
    }
}
