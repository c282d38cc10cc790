using System.Management.Automation;
using MultiVip.Client;
using MultiVip.PowerShell.Infrastructure;

namespace MultiVip.PowerShell.Cmdlets;

/// <summary>
/// Points this pwsh session at a server (our replacement for Azure's Import-AzurePublishSettingsFile).
/// Unset values still fall back to MULTIVIP_API / MULTIVIP_TOKEN and the data dir.
/// </summary>
[Cmdlet(VerbsCommon.Set, "MultiVipContext")]
public sealed class SetMultiVipContextCmdlet : PSCmdlet
{
    [Parameter(Position = 0, HelpMessage = "Base URL of the MultiVip REST API, e.g. http://127.0.0.1:7400.")]
    public string? Api { get; set; }

    [Parameter(Position = 1, HelpMessage = "Bearer token (the server's <data-dir>/token).")]
    public string? Token { get; set; }

    [Parameter(HelpMessage = "Data dir of a local `multivip serve` to read endpoint and token from.")]
    public string? DataDir { get; set; }

    protected override void ProcessRecord()
    {
        var dataDir = DataDir is null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(DataDir);
        try
        {
            // Validate now, so a typo in the URL shows here and not at the next cmdlet.
            ClientConnection.Resolve(Api, Token, dataDir ?? Path.Combine(SessionState.Path.CurrentFileSystemLocation.ProviderPath, ClientConnection.DefaultDataDir));
        }
        catch (MultiVipConnectionException e)
        {
            ThrowTerminatingError(new ErrorRecord(e, "MultiVipConnection", ErrorCategory.InvalidArgument, Api));
        }

        SessionContext.Set(Api, Token, dataDir);
    }
}
