using MultiVip.Contracts;
using MultiVip.Control.Commands;
using MultiVip.Model.Errors;
using MultiVip.Model.Operations;
using MultiVip.Model.ReservedIps;
using MultiVip.Model.Services;
using MultiVip.Model.Validation;

namespace MultiVip.Control;

// New-AzureReservedIP, Remove-AzureReservedIP, Set-/Remove-AzureReservedIPAssociation.
public sealed partial class ControlPlane
{
    /// <summary>
    /// Reserves an address: a new one from the pool, or — given a service — the address its VIP
    /// already has, which then stays with the VIP whatever happens to its endpoints.
    /// </summary>
    public Task<Operation> CreateReservedIpAsync(CreateReservedIpRequest request, CallContext context, CancellationToken cancellationToken)
    {
        var name = request.Name ?? string.Empty;
        var family = VipAddressFamilies.Parse(request.AddressFamily);
        return ExecuteAsync("New-AzureReservedIP", name, context, m =>
        {
            var reserved = new ReservedIp
            {
                Name = name,
                Id = Guid.NewGuid(),
                Label = request.Label,
                Location = string.IsNullOrWhiteSpace(request.Location) ? "local" : request.Location,
                CreatedAt = m.Now,
                Address = "",
            };

            // Its own fields first, so they are reported even when a lookup below fails.
            ReservedIpRules.Check(reserved, m.Problems);
            if (m.FindReservedIp(name) is not null)
            {
                m.Problems.Conflict(Messages.ReservedIpExists(name));
            }

            if (request.ServiceName is null)
            {
                if (request.VirtualIpName is not null)
                {
                    m.Problems.BadRequest("A virtual IP name needs the cloud service it belongs to (-ServiceName / --service).");
                }

                if (!_options.Pool.Has(family.ToSockets()))
                {
                    m.Problems.BadRequest(Messages.NoPoolOfFamily(family, _options.Pool.ToString()));
                }

                if (!m.Problems.Any)
                {
                    m.PutReservedIp(reserved with { Address = m.AllocateAddress(family) });
                }

                return;
            }

            var service = m.RequireService(request.ServiceName);
            var deployment = m.RequireDeployment(service);
            var vip = RequireVip(service, deployment, request.VirtualIpName);
            if (vip.ReservedIpName is { } already)
            {
                m.Problems.Conflict(Messages.VirtualIpReserved(vip.Name, already));
            }
            else if (vip.Address is null)
            {
                m.Problems.Conflict(Messages.VirtualIpHasNoAddress(vip.Name));
            }

            if (m.Problems.Any)
            {
                return;
            }

            m.PutReservedIp(reserved with
            {
                Address = vip.Address!,
                ServiceName = service.Name,
                DeploymentName = deployment.Name,
                VirtualIpName = vip.Name,
            });
            m.PutService(WithVip(service, deployment, vip with { ReservedIpName = name }));
        }, cancellationToken);
    }

    public Task<Operation> DeleteReservedIpAsync(string name, CallContext context, CancellationToken cancellationToken) =>
        ExecuteAsync("Remove-AzureReservedIP", name, context, m =>
        {
            var reserved = m.RequireReservedIp(name);
            if (reserved.InUse)
            {
                throw MultiVipException.Conflict(Messages.ReservedIpInUse(reserved.Name, reserved.ServiceName!, reserved.VirtualIpName!));
            }

            m.DeleteReservedIp(reserved.Name);
        }, cancellationToken);

    /// <summary>Backs a VIP (the default one when none is named) with the reservation; the VIP's old dynamic address is released.</summary>
    public Task<Operation> AssociateReservedIpAsync(string name, AssociateReservedIpRequest request, CallContext context, CancellationToken cancellationToken) =>
        ExecuteAsync("Set-AzureReservedIPAssociation", name, context, m =>
        {
            if (string.IsNullOrWhiteSpace(request.ServiceName))
            {
                m.Problems.BadRequest(Messages.Required("The cloud service name (-ServiceName / --service)"));
            }

            var reserved = m.RequireReservedIp(name);
            if (m.Problems.Any)
            {
                return;
            }

            var service = m.RequireService(request.ServiceName!);
            var deployment = m.RequireDeployment(service);
            var vip = RequireVip(service, deployment, request.VirtualIpName);
            if (reserved.InUse)
            {
                m.Problems.Conflict(Messages.ReservedIpInUse(reserved.Name, reserved.ServiceName!, reserved.VirtualIpName!));
            }

            if (vip.ReservedIpName is { } already)
            {
                m.Problems.Conflict(Messages.VirtualIpReserved(vip.Name, already));
            }

            if (m.Problems.Any)
            {
                return;
            }

            var reservedFamily = Model.Networking.IpNumber.TryParse(reserved.Address, out var number) ? VipAddressFamilies.FromSockets(number.Family) : VipAddressFamily.IPv4;
            if (reservedFamily != vip.AddressFamily)
            {
                throw MultiVipException.Conflict(Messages.ReservedIpFamilyMismatch(reserved.Name, reservedFamily, vip.Name, vip.AddressFamily));
            }

            m.PutReservedIp(reserved with { ServiceName = service.Name, DeploymentName = deployment.Name, VirtualIpName = vip.Name });
            m.PutService(WithVip(service, deployment, vip with { ReservedIpName = reserved.Name, Address = reserved.Address }));
        }, cancellationToken);

    /// <summary>
    /// Detaches the reservation (it stays reserved). The VIP falls back to the dynamic lifecycle: a new
    /// pool address if it is the default VIP or has endpoints, none otherwise.
    /// </summary>
    public Task<Operation> DisassociateReservedIpAsync(string name, string? serviceName, string? vipName, CallContext context, CancellationToken cancellationToken) =>
        ExecuteAsync("Remove-AzureReservedIPAssociation", name, context, m =>
        {
            var reserved = m.RequireReservedIp(name);
            if (!reserved.InUse)
            {
                throw MultiVipException.Conflict(Messages.ReservedIpNotAssociated(reserved.Name));
            }

            if ((serviceName is not null && !Names.Equal(serviceName, reserved.ServiceName))
                || (vipName is not null && !Names.Equal(vipName, reserved.VirtualIpName)))
            {
                throw MultiVipException.Conflict(Messages.ReservedIpNotAssociatedWith(reserved.Name, serviceName ?? reserved.ServiceName!, vipName ?? reserved.VirtualIpName!));
            }

            m.PutReservedIp(reserved with { ServiceName = null, DeploymentName = null, VirtualIpName = null });
            var service = m.RequireService(reserved.ServiceName!);
            var deployment = m.RequireDeployment(service);
            var vip = deployment.FindVirtualIp(reserved.VirtualIpName!) ?? throw MultiVipException.NotFound(Messages.VirtualIpNotFound(reserved.VirtualIpName!, service.Name));
            m.PutService(WithVip(service, deployment, vip with { ReservedIpName = null, Address = null }));
        }, cancellationToken);

    private static VirtualIp RequireVip(CloudService service, Deployment deployment, string? vipName) =>
        string.IsNullOrWhiteSpace(vipName)
            ? deployment.DefaultVirtualIp
            : deployment.FindVirtualIp(vipName) ?? throw MultiVipException.NotFound(Messages.VirtualIpNotFound(vipName, service.Name));

    private static CloudService WithVip(CloudService service, Deployment deployment, VirtualIp vip) =>
        service with
        {
            Deployment = deployment with
            {
                VirtualIps = deployment.VirtualIps.Select(v => Names.Equal(v.Name, vip.Name) ? vip : v).ToList(),
            },
        };
}
