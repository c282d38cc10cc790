using MultiVip.Contracts;
using MultiVip.Control.Commands;
using MultiVip.Model.Errors;
using MultiVip.Model.Operations;
using MultiVip.Model.Services;
using MultiVip.Model.Validation;

namespace MultiVip.Control;

// Add-AzureVirtualIP, Remove-AzureVirtualIP.
public sealed partial class ControlPlane
{
    /// <summary>Adds a VIP with no address: it gets one when the first endpoint that names it is committed.</summary>
    public Task<Operation> AddVirtualIpAsync(string serviceName, AddVirtualIpRequest request, CallContext context, CancellationToken cancellationToken)
    {
        var family = VipAddressFamilies.Parse(request.AddressFamily);
        if (!_options.Pool.Has(family.ToSockets()))
        {
            throw MultiVipException.BadRequest(Messages.NoPoolOfFamily(family, _options.Pool.ToString()));
        }

        return ExecuteAsync("Add-AzureVirtualIP", serviceName, context, m =>
        {
            // The VIP's own name first, so it is reported even when the service does not exist.
            var vip = new VirtualIp { Name = request.Name ?? string.Empty, AddressFamily = family };
            NameRules.ResourceName("virtual IP", vip.Name, m.Problems);
            var service = m.RequireService(serviceName);
            context.CheckPrecondition($"The cloud service '{service.Name}'", service.Version);
            var deployment = m.RequireDeployment(service);
            m.PutService(service with
            {
                Deployment = deployment with { VirtualIps = [.. deployment.VirtualIps, vip] },
            });
        }, cancellationToken);
    }

    public Task<Operation> RemoveVirtualIpAsync(string serviceName, string vipName, CallContext context, CancellationToken cancellationToken) =>
        ExecuteAsync("Remove-AzureVirtualIP", serviceName, context, m =>
        {
            var service = m.RequireService(serviceName);
            context.CheckPrecondition($"The cloud service '{service.Name}'", service.Version);
            var deployment = m.RequireDeployment(service);
            var vip = deployment.FindVirtualIp(vipName) ?? throw MultiVipException.NotFound(Messages.VirtualIpNotFound(vipName, service.Name));
            if (vip.IsDnsProgrammed)
            {
                throw MultiVipException.Conflict(Messages.DefaultVirtualIpCannotBeRemoved(vip.Name));
            }

            var users = deployment.AllEndpoints()
                .Where(x => Names.Equal(x.Endpoint.VirtualIpName, vip.Name))
                .Select(x => $"{x.Vm.Name}/{x.Endpoint.Name}")
                .ToList();
            if (users.Count > 0)
            {
                throw MultiVipException.Conflict(Messages.VirtualIpHasEndpoints(vip.Name, string.Join(", ", users)));
            }

            if (vip.ReservedIpName is { } reserved)
            {
                throw MultiVipException.Conflict(Messages.VirtualIpReserved(vip.Name, reserved));
            }

            m.PutService(service with
            {
                Deployment = deployment with { VirtualIps = deployment.VirtualIps.Where(v => v != vip).ToList() },
            });
        }, cancellationToken);
}
