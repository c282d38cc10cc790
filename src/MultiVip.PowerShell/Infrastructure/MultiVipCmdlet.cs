using System.Management.Automation;
using MultiVip.Client;
using MultiVip.Model.Operations;
using MultiVip.PowerShell.Objects;

namespace MultiVip.PowerShell.Infrastructure;

/// <summary>
/// Base of every cmdlet that talks to the server: resolves the connection once per invocation,
/// runs the shared client synchronously (cmdlets are synchronous; pwsh has no synchronization
/// context to deadlock on), and turns its exceptions into terminating errors worded like Azure's.
/// </summary>
public abstract class MultiVipCmdlet : PSCmdlet, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private MultiVipClient? _client;

    /// <summary>Resolved lazily so that purely local cmdlets and -WhatIf never need a server.</summary>
    protected MultiVipClient Client => _client ??= CreateClient();

    public void Dispose()
    {
        _client?.Dispose();
        _stopping.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Ctrl+C: abandon the wait (the operation itself keeps running on the server, as in Azure).</summary>
    protected override void StopProcessing() => _stopping.Cancel();

    protected T Call<T>(Func<MultiVipClient, CancellationToken, Task<T>> call, object? target = null)
    {
        try
        {
            return call(Client, _stopping.Token).GetAwaiter().GetResult();
        }
        catch (MultiVipApiException e)
        {
            throw Terminate(new ErrorRecord(new ServiceManagementException(e), e.Code, Category(e.Code), target));
        }
        catch (MultiVipConnectionException e)
        {
            throw Terminate(new ErrorRecord(e, "MultiVipConnection", ErrorCategory.ConnectionError, target));
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            throw new PipelineStoppedException();
        }
    }

    /// <summary>Submits a change, waits for it and writes the OperationDescription/OperationId/OperationStatus row.</summary>
    protected void WriteOperation(Func<MultiVipClient, CancellationToken, Task<Operation>> call, object? target = null) =>
        WriteObject(new ManagementOperationContext(Call(call, target)));

    /// <summary>A local (client-side) validation failure, raised where Azure's cmdlets raised it.</summary>
    protected Exception InvalidArgument(string message, object? target = null) =>
        Terminate(new ErrorRecord(new ArgumentException(message), "ArgumentException", ErrorCategory.InvalidArgument, target));

    /// <summary>Throws the terminating error; returns an exception only so callers can write <c>throw</c> and satisfy flow analysis.</summary>
    protected Exception Terminate(ErrorRecord record)
    {
        ThrowTerminatingError(record);
        return new InvalidOperationException("unreachable");
    }

    /// <summary>Reads a VM with its ETag, and the deployment for the VIP addresses its endpoints show.</summary>
    protected PersistentVMRoleContext ReadVm(string serviceName, string vmName)
    {
        var vm = Call((c, ct) => c.GetVmAsync(serviceName, vmName, ct), vmName);
        var deployment = Call((c, ct) => c.GetDeploymentAsync(serviceName, ct), serviceName).Value;
        return new PersistentVMRoleContext(deployment.ServiceName, deployment.Name, new PersistentVM(vm.Value, vm.ETag, VipAddresses(deployment)));
    }

    protected static Dictionary<string, string?> VipAddresses(Contracts.DeploymentView deployment) =>
        deployment.VirtualIps.ToDictionary(v => v.Name, v => v.Address, StringComparer.OrdinalIgnoreCase);

    protected bool IsBound(string parameter) => MyInvocation.BoundParameters.ContainsKey(parameter);

    private MultiVipClient CreateClient()
    {
        var (api, token, dataDir) = SessionContext.Current;

        // The CLI's default data dir is relative to the process; in pwsh "here" is the current location.
        dataDir ??= Path.Combine(SessionState.Path.CurrentFileSystemLocation.ProviderPath, ClientConnection.DefaultDataDir);
        try
        {
            return new MultiVipClient(ClientConnection.Resolve(api, token, dataDir));
        }
        catch (MultiVipConnectionException e)
        {
            // The shared message names the CLI's flags; say what the PowerShell user types instead.
            var hint = new MultiVipConnectionException(e.Message + " In PowerShell: Set-MultiVipContext -Api <url> -Token <token>.", e);
            throw Terminate(new ErrorRecord(hint, "MultiVipConnection", ErrorCategory.ConnectionError, null));
        }
    }

    private static ErrorCategory Category(string code) => code switch
    {
        "BadRequest" => ErrorCategory.InvalidArgument,
        "ResourceNotFound" => ErrorCategory.ObjectNotFound,
        "ConflictError" => ErrorCategory.ResourceExists,
        "PreconditionFailed" => ErrorCategory.InvalidOperation,
        "Unauthorized" => ErrorCategory.AuthenticationError,
        "InsufficientStorage" => ErrorCategory.ResourceUnavailable,
        "OperationTimeout" => ErrorCategory.OperationTimeout,
        _ => ErrorCategory.NotSpecified,
    };
}
