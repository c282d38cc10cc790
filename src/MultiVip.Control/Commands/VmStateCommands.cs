using MultiVip.Contracts;
using MultiVip.Control.Commands;
using MultiVip.Model.Errors;
using MultiVip.Model.Operations;
using MultiVip.Model.Services;

namespace MultiVip.Control;

// Set-AzureVMState: VM maintenance (drain, disable, enable) without touching its endpoints.
public sealed partial class ControlPlane
{
    public const string SetVmStateOperation = "Set-AzureVMState";

    public Task<Operation> SetVmStateAsync(string serviceName, string vmName, SetVmStateRequest request, CallContext context, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request.State))
        {
            throw MultiVipException.BadRequest(Messages.Required("The VM state (enabled, draining or disabled)"));
        }

        var state = EnumParsing.ParseVmState(request.State);
        return ExecuteAsync(SetVmStateOperation, serviceName, context, m =>
        {
            var (service, deployment, vm) = RequireVm(m, serviceName, vmName);
            context.CheckPrecondition($"The VM '{vm.Name}'", vm.Version);

            // Draining a VM that takes no traffic already leaves it disabled: there is nothing to drain.
            var next = state == VmState.Draining && vm.State == VmState.Disabled ? VmState.Disabled : state;
            ReplaceVm(m, service, deployment, vm with { State = next });
        }, cancellationToken);
    }

    /// <summary>
    /// Draining → disabled for a VM whose connections reached 0 (see <see cref="Maintenance.DrainCompletion"/>).
    /// Changes nothing when the VM is no longer draining (enabled or removed meanwhile).
    /// </summary>
    internal Task<Operation> FinishDrainAsync(string serviceName, string vmName, CancellationToken cancellationToken) =>
        ExecuteAsync(SetVmStateOperation, serviceName, new CallContext("multivip: drain finished", null), m =>
        {
            var (service, deployment, vm) = RequireVm(m, serviceName, vmName);
            if (vm.State != VmState.Draining)
            {
                throw MultiVipException.Conflict($"The VM '{vm.Name}' is {vm.State.ToWire()}, no longer draining.");
            }

            ReplaceVm(m, service, deployment, vm with { State = VmState.Disabled });
        }, cancellationToken);
}
