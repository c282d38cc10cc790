using MultiVip.Contracts;
using MultiVip.Control.Commands;
using MultiVip.DataPlane.Contract;
using MultiVip.Model.Errors;
using MultiVip.Model.Services;

namespace MultiVip.Server.Api;

/// <summary>Builds read models from the current state and the data plane's live health.</summary>
internal static class Views
{
    public static DeploymentView Deployment(CloudService service, IReadOnlyList<BackendHealth> health, ServiceDnsZone zone, IReadOnlyList<VipNetworkView>? network = null)
    {
        var deployment = service.Deployment ?? throw MultiVipException.NotFound(Messages.NoDeployment(service.Name));
        return new DeploymentView
        {
            ServiceName = service.Name,
            Name = deployment.Name,
            Slot = deployment.Slot,
            CreatedAt = deployment.CreatedAt,
            Version = service.Version,
            ReservedIpName = deployment.DefaultVirtualIp.ReservedIpName,
            Url = zone.Url(service.Name),
            VirtualIps = deployment.VirtualIps,
            VirtualMachines = deployment.VirtualMachines,
            LoadBalancedSets = LoadBalancedSets(deployment),
            Health = health
                .Where(h => Names.Equal(h.ServiceName, service.Name))
                .Select(h => new BackendHealthView
                {
                    VmName = h.VmName,
                    EndpointName = h.EndpointName,
                    Listener = h.Listener.ToString(),
                    State = h.State,
                    LastProbeAt = h.LastProbeAt,
                    LastError = h.LastError,
                    ActiveConnections = h.ActiveConnections,
                    TotalConnections = h.TotalConnections,
                    Plane = h.Plane,
                    Draining = h.Draining,
                })
                .ToList(),
            Network = network ?? [],
        };
    }

    public static IReadOnlyList<LoadBalancedSetView> LoadBalancedSets(Deployment deployment) =>
        deployment.AllEndpoints()
            .Where(x => x.Endpoint.LoadBalancedSetName is not null)
            .GroupBy(x => x.Endpoint.LoadBalancedSetName!, Names.Comparer)
            .Select(g =>
            {
                var first = g.First().Endpoint;
                return new LoadBalancedSetView
                {
                    Name = first.LoadBalancedSetName!,
                    VirtualIpName = first.VirtualIpName,
                    Protocol = first.Protocol,
                    PublicPort = first.PublicPort,
                    Probe = first.Probe,
                    Distribution = first.Distribution,
                    Members = g.Select(x => new LoadBalancedSetMember(x.Vm.Name, x.Endpoint.Name, x.Endpoint.LocalPort)).ToList(),
                };
            })
            .ToList();

    public static void SetETag(HttpResponse response, long version) =>
        response.Headers.ETag = CallContext.ETag(version);
}
