using MultiVip.Contracts;
using MultiVip.Control.Commands;
using MultiVip.Model.Errors;
using MultiVip.Model.Operations;
using MultiVip.Model.Services;
using MultiVip.Model.Validation;

namespace MultiVip.Control;

// New-AzureService, Remove-AzureService, New-AzureVM (register), Remove-AzureVM, Update-AzureVM.
public sealed partial class ControlPlane
{
    public Task<Operation> CreateServiceAsync(CreateServiceRequest request, CallContext context, CancellationToken cancellationToken)
    {
        var name = request.Name ?? string.Empty;
        return ExecuteAsync("New-AzureService", name, context, m =>
        {
            if (m.FindService(name) is not null)
            {
                m.Problems.Conflict(Messages.ServiceExists(name));
            }

            m.PutService(new CloudService
            {
                Name = name,
                Label = request.Label ?? request.Name,
                Description = request.Description,
                Location = string.IsNullOrWhiteSpace(request.Location) ? "local" : request.Location,
                CreatedAt = m.Now,
            });
        }, cancellationToken);
    }

    public Task<Operation> DeleteServiceAsync(string name, bool deleteAll, CallContext context, CancellationToken cancellationToken) =>
        ExecuteAsync("Remove-AzureService", name, context, m =>
        {
            var service = m.RequireService(name);
            context.CheckPrecondition($"The cloud service '{service.Name}'", service.Version);
            if (service.Deployment is { } deployment)
            {
                if (!deleteAll)
                {
                    throw MultiVipException.Conflict(Messages.ServiceHasDeployment(service.Name, deployment.VirtualMachines.Count));
                }

                ReleaseReservations(m, service);
            }

            m.DeleteService(service.Name);
        }, cancellationToken);

    public Task<Operation> AddVmAsync(string serviceName, AddVmRequest request, CallContext context, CancellationToken cancellationToken) =>
        ExecuteAsync("New-AzureVM", serviceName, context, m =>
        {
            // The VM's own fields first, so they are reported even when the service does not exist.
            var vm = new VirtualMachine
            {
                Name = request.Name ?? string.Empty,
                Address = NameRules.CanonicalVmAddress(request.Address) ?? request.Address ?? string.Empty,
                Version = 1,
            };
            DeploymentRules.Vm(vm, m.Problems);
            var defaultVip = request.DefaultVirtualIpName ?? VirtualIp.DefaultName;
            NameRules.ResourceName("virtual IP", defaultVip, m.Problems);

            var service = m.RequireService(serviceName);
            context.CheckPrecondition($"The cloud service '{service.Name}'", service.Version);

            // The first VM creates the Production deployment and with it the default VIP.
            var deployment = service.Deployment is { } existing
                ? existing with { VirtualMachines = [.. existing.VirtualMachines, vm] }
                : new Deployment
                {
                    Name = service.Name,
                    CreatedAt = m.Now,
                    VirtualIps = [new VirtualIp { Name = defaultVip, IsDnsProgrammed = true, AddressFamily = m.DefaultVipFamily }],
                    VirtualMachines = [vm],
                };
            m.PutService(service with { Deployment = deployment }, vm.Name);
        }, cancellationToken);

    public Task<Operation> RemoveVmAsync(string serviceName, string vmName, CallContext context, CancellationToken cancellationToken) =>
        ExecuteAsync("Remove-AzureVM", serviceName, context, m =>
        {
            var (service, deployment, vm) = RequireVm(m, serviceName, vmName);
            context.CheckPrecondition($"The VM '{vm.Name}'", vm.Version);
            if (deployment.VirtualMachines.Count == 1)
            {
                // Removing the last VM removes the deployment, as in Azure; its VIPs go with it.
                ReleaseReservations(m, service);
                m.PutService(service with { Deployment = null });
                return;
            }

            m.PutService(service with
            {
                Deployment = deployment with { VirtualMachines = deployment.VirtualMachines.Where(v => v != vm).ToList() },
            });
        }, cancellationToken);

    /// <summary>Update-AzureVM: replaces the VM's endpoint list as a whole.</summary>
    public Task<Operation> UpdateVmAsync(string serviceName, string vmName, UpdateVmRequest request, CallContext context, CancellationToken cancellationToken) =>
        ExecuteAsync("Update-AzureVM", serviceName, context, m =>
        {
            var (service, deployment, vm) = RequireVm(m, serviceName, vmName);
            context.CheckPrecondition($"The VM '{vm.Name}'", vm.Version);
            var endpoints = m.ReadEndpoints(unreadable => (request.Endpoints ?? []).Select(r => r is null
                ? throw MultiVipException.BadRequest("An endpoint in the list is null.")
                : r.ToEndpoint(deployment, unreadable)));
            ReplaceVm(m, service, deployment, vm with { Endpoints = endpoints });
        }, cancellationToken);

    private static (CloudService Service, Deployment Deployment, VirtualMachine Vm) RequireVm(Mutation m, string serviceName, string vmName)
    {
        var service = m.RequireService(serviceName);
        var deployment = service.Deployment ?? throw MultiVipException.NotFound(Messages.VmNotFound(vmName, service.Name));
        var vm = deployment.FindVm(vmName) ?? throw MultiVipException.NotFound(Messages.VmNotFound(vmName, service.Name));
        return (service, deployment, vm);
    }

    /// <summary>Stages the service with <paramref name="vm"/> replacing its old self, version bumped.</summary>
    private static void ReplaceVm(Mutation m, CloudService service, Deployment deployment, VirtualMachine vm)
    {
        var updated = vm with { Version = vm.Version + 1 };
        var vms = deployment.VirtualMachines.Select(v => Names.Equal(v.Name, vm.Name) ? updated : v).ToList();
        m.PutService(service with { Deployment = deployment with { VirtualMachines = vms } }, vm.Name);
    }

    /// <summary>A deployment going away frees its reservations (they stay reserved, no longer in use).</summary>
    private static void ReleaseReservations(Mutation m, CloudService service)
    {
        foreach (var vip in service.Deployment?.VirtualIps ?? [])
        {
            if (vip.ReservedIpName is { } name && m.FindReservedIp(name) is { } reserved)
            {
                m.PutReservedIp(reserved with { ServiceName = null, DeploymentName = null, VirtualIpName = null });
            }
        }
    }
}
