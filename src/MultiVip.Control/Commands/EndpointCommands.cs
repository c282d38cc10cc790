using MultiVip.Contracts;
using MultiVip.Control.Commands;
using MultiVip.Model.Errors;
using MultiVip.Model.Operations;
using MultiVip.Model.Services;

namespace MultiVip.Control;

// Add-AzureEndpoint, Set-AzureEndpoint, Remove-AzureEndpoint, Set-AzureLoadBalancedEndpoint.
public sealed partial class ControlPlane
{
    public Task<Operation> AddEndpointAsync(string serviceName, string vmName, EndpointRequest request, CallContext context, CancellationToken cancellationToken) =>
        ExecuteAsync("Add-AzureEndpoint", serviceName, context, m =>
        {
            var (service, deployment, vm) = RequireVm(m, serviceName, vmName);
            context.CheckPrecondition($"The VM '{vm.Name}'", vm.Version);
            var endpoint = EndpointMapping.Create(request, deployment);
            if (vm.FindEndpoint(endpoint.Name) is not null)
            {
                throw MultiVipException.Conflict(Messages.EndpointNameExists(endpoint.Name));
            }

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
                throw MultiVipException.BadRequest(
                    $"The endpoint name in the body ('{bodyName}') differs from the one in the URL ('{existing.Name}'). Endpoints cannot be renamed: remove it and add it under the new name.");
            }

            var endpoint = EndpointMapping.Create(request with { Name = existing.Name }, deployment);
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
            if (!deployment.AllEndpoints().Any(x => Names.Equal(x.Endpoint.LoadBalancedSetName, setName)))
            {
                throw MultiVipException.NotFound(Messages.LoadBalancedSetNotFound(setName));
            }

            var protocol = request.Protocol is null ? (TransportProtocol?)null : EnumParsing.ParseProtocol(request.Protocol);
            var distribution = request.Distribution is null ? (LoadBalancerDistribution?)null : EnumParsing.ParseDistribution(request.Distribution);
            var proxy = request.ProxyProtocol is null ? (ProxyProtocolVersion?)null : EnumParsing.ParseProxyProtocol(request.ProxyProtocol);
            var acl = request.Acl is null ? null : EndpointMapping.Acl(request.Acl);
            var vipName = request.VirtualIpName is null ? null : EndpointMapping.ResolveVip(request.VirtualIpName, deployment);

            var vms = deployment.VirtualMachines.Select(vm =>
            {
                var changed = false;
                var endpoints = vm.Endpoints.Select(e =>
                {
                    if (!Names.Equal(e.LoadBalancedSetName, setName))
                    {
                        return e;
                    }

                    changed = true;
                    var localPort = request.LocalPort ?? e.LocalPort;
                    return e with
                    {
                        VirtualIpName = vipName ?? e.VirtualIpName,
                        Protocol = protocol ?? e.Protocol,
                        LocalPort = localPort,
                        PublicPort = request.PublicPort ?? e.PublicPort,
                        Probe = request.Probe is null ? e.Probe : EndpointMapping.Probe(request.Probe, localPort),
                        Acl = acl ?? e.Acl,
                        IdleTimeoutInMinutes = request.IdleTimeoutInMinutes ?? e.IdleTimeoutInMinutes,
                        Distribution = distribution ?? e.Distribution,
                        DirectServerReturn = request.DirectServerReturn ?? e.DirectServerReturn,
                        ProxyProtocol = proxy ?? e.ProxyProtocol,
                    };
                }).ToList();
                return changed ? vm with { Endpoints = endpoints, Version = vm.Version + 1 } : vm;
            }).ToList();
            m.PutService(service with { Deployment = deployment with { VirtualMachines = vms } });
        }, cancellationToken);
}
