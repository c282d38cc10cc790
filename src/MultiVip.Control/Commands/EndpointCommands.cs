using MultiVip.Contracts;
using MultiVip.Control.Commands;
using MultiVip.Model.Errors;
using MultiVip.Model.Operations;
using MultiVip.Model.Services;

namespace MultiVip.Control;

// Add-AzureEndpoint, Set-AzureEndpoint, Remove-AzureEndpoint, Set-AzureLoadBalancedEndpoint.
// Each builds the new state and leaves every rule to Mutation.PutService (DeploymentRules).
public sealed partial class ControlPlane
{
    public Task<Operation> AddEndpointAsync(string serviceName, string vmName, EndpointRequest request, CallContext context, CancellationToken cancellationToken) =>
        ExecuteAsync("Add-AzureEndpoint", serviceName, context, m =>
        {
            var (service, deployment, vm) = RequireVm(m, serviceName, vmName);
            context.CheckPrecondition($"The VM '{vm.Name}'", vm.Version);
            var endpoint = m.ReadEndpoints(unreadable => [request.ToEndpoint(deployment, unreadable)]).Single();
            ReplaceVm(m, service, deployment, vm with { Endpoints = [.. vm.Endpoints, endpoint] });
        }, cancellationToken);

    /// <summary>Set-AzureEndpoint: replaces one endpoint's whole configuration.</summary>
    public Task<Operation> SetEndpointAsync(string serviceName, string vmName, string endpointName, EndpointRequest request, CallContext context, CancellationToken cancellationToken) =>
        ExecuteAsync("Set-AzureEndpoint", serviceName, context, m =>
        {
            var (service, deployment, vm) = RequireVm(m, serviceName, vmName);
            context.CheckPrecondition($"The VM '{vm.Name}'", vm.Version);
            var existing = vm.FindEndpoint(endpointName) ?? throw MultiVipException.NotFound(Messages.EndpointNotFound(endpointName));
            if (request.Name is { } bodyName && !Names.Equal(bodyName, existing.Name))
            {
                m.Problems.BadRequest(
                    $"The endpoint name in the body ('{bodyName}') differs from the one in the URL ('{existing.Name}'). Endpoints cannot be renamed: remove it and add it under the new name.");
            }

            var endpoint = m.ReadEndpoints(unreadable => [(request with { Name = existing.Name }).ToEndpoint(deployment, unreadable)]).Single();
            var endpoints = vm.Endpoints.Select(e => e == existing ? endpoint : e).ToList();
            ReplaceVm(m, service, deployment, vm with { Endpoints = endpoints });
        }, cancellationToken);

    public Task<Operation> RemoveEndpointAsync(string serviceName, string vmName, string endpointName, CallContext context, CancellationToken cancellationToken) =>
        ExecuteAsync("Remove-AzureEndpoint", serviceName, context, m =>
        {
            var (service, deployment, vm) = RequireVm(m, serviceName, vmName);
            context.CheckPrecondition($"The VM '{vm.Name}'", vm.Version);
            var existing = vm.FindEndpoint(endpointName) ?? throw MultiVipException.NotFound(Messages.EndpointNotFound(endpointName));
            ReplaceVm(m, service, deployment, vm with { Endpoints = vm.Endpoints.Where(e => e != existing).ToList() });
        }, cancellationToken);

    /// <summary>
    /// Set-AzureLoadBalancedEndpoint: changes every member of the set at once. What the request leaves
    /// null stays as it is — in particular the probe, as the cmdlet's default parameter set does.
    /// </summary>
    public Task<Operation> SetLoadBalancedSetAsync(string serviceName, string setName, SetLoadBalancedSetRequest request, CallContext context, CancellationToken cancellationToken) =>
        ExecuteAsync("Set-AzureLoadBalancedEndpoint", serviceName, context, m =>
        {
            var service = m.RequireService(serviceName);
            context.CheckPrecondition($"The cloud service '{service.Name}'", service.Version);
            var deployment = service.Deployment ?? throw MultiVipException.NotFound(Messages.LoadBalancedSetNotFound(setName));
            bool InSet(InputEndpoint e) => Names.Equal(e.LoadBalancedSetName, setName);
            if (!deployment.AllEndpoints().Any(x => InSet(x.Endpoint)))
            {
                throw MultiVipException.NotFound(Messages.LoadBalancedSetNotFound(setName));
            }

            var vms = new List<VirtualMachine>(deployment.VirtualMachines.Count);
            m.ReadEndpoints(unreadable =>
            {
                foreach (var vm in deployment.VirtualMachines)
                {
                    vms.Add(vm.Endpoints.Any(InSet)
                        ? vm with
                        {
                            Endpoints = vm.Endpoints.Select(e => InSet(e) ? request.ApplyTo(e, deployment, unreadable) : e).ToList(),
                            Version = vm.Version + 1,
                        }
                        : vm);
                }

                return vms.SelectMany(vm => vm.Endpoints).Where(InSet);
            });
            m.PutService(service with { Deployment = deployment with { VirtualMachines = vms } });
        }, cancellationToken);
}
