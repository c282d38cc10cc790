using MultiVip.Contracts;
using MultiVip.Control;
using MultiVip.Control.Commands;
using MultiVip.DataPlane.Contract;
using MultiVip.Model.Errors;
using MultiVip.Model.Operations;
using MultiVip.Model.ReservedIps;
using MultiVip.Model.Services;

namespace MultiVip.Server.Api;

/// <summary>
/// The REST API. Resource URLs follow the model (service → deployment, virtual IPs, VMs → endpoints,
/// load-balanced sets; reserved IPs; operations). Reads come from the immutable current state;
/// mutations go through the control plane and answer 202 with the operation and its Location.
/// </summary>
internal static class ApiRoutesMapper
{
    public static void MapMultiVipApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api");
        MapServices(api.MapGroup("/services").WithTags("Cloud services"));
        MapReservedIps(api.MapGroup("/reserved-ips").WithTags("Reserved IPs"));
        MapOperations(api.MapGroup("/operations").WithTags("Operations"));
        api.MapBackup();
        api.MapUsageApi();
        api.MapNodesApi();
        api.MapGet("/network/ownership", (IAddressAnnouncer announcer) => TypedResults.Ok(NetworkViews.Ownership(announcer)))
            .WithTags("Network").WithName("GetNetworkOwnership").WithSummary("Which VIP addresses this node held or announced, and the failover history (--announce vrrp|bgp)");
    }

    private static void MapServices(RouteGroupBuilder services)
    {
        services.MapGet("/", (ControlPlane control) =>
            TypedResults.Ok(control.Current.Services.Values.OrderBy(s => s.Name, StringComparer.OrdinalIgnoreCase).Select(ServiceView.From).ToList()))
            .WithName("ListServices").WithSummary("Get-AzureService: every cloud service");

        services.MapPost("/", async (HttpContext http, ControlPlane control, CancellationToken ct) =>
            await Accept(http, control, await control.CreateServiceAsync(await RequestBody.ReadAsync<CreateServiceRequest>(http.Request, ct), Context(http), ct), ct))
            .Accepts<CreateServiceRequest>("application/json").Produces<Operation>(202).WithName("CreateService").WithSummary("New-AzureService");

        services.MapGet("/{service}", (string service, HttpContext http, ControlPlane control) =>
        {
            var s = RequireService(control, service);
            Views.SetETag(http.Response, s.Version);
            return TypedResults.Ok(ServiceView.From(s));
        }).WithETag("the service").WithName("GetService").WithSummary("Get-AzureService -ServiceName");

        services.MapDelete("/{service}", async (string service, string? deleteAll, HttpContext http, ControlPlane control, CancellationToken ct) =>
            await Accept(http, control, await control.DeleteServiceAsync(service, QueryValues.Flag(nameof(deleteAll), deleteAll), Context(http), ct), ct))
            .Produces<Operation>(202).AcceptsIfMatch("the service").WithName("DeleteService").WithSummary("Remove-AzureService [-DeleteAll]");

        services.MapGet("/{service}/deployment", (string service, HttpContext http, ControlPlane control, IDataPlane dataPlane, ServiceDnsZone zone, IAddressAnnouncer announcer) =>
        {
            var s = RequireService(control, service);
            Views.SetETag(http.Response, s.Version);
            return TypedResults.Ok(Views.Deployment(s, dataPlane.GetHealth(s.Name), zone, NetworkViews.For(s, announcer)));
        }).WithETag("the service").WithName("GetDeployment").WithSummary("Get-AzureDeployment: VIPs, VMs, load-balanced sets and live health");

        // Virtual IPs
        services.MapGet("/{service}/virtual-ips", (string service, ControlPlane control) =>
            TypedResults.Ok(RequireDeployment(control, service).VirtualIps))
            .WithName("ListVirtualIps").WithSummary("(Get-AzureDeployment).VirtualIPs");

        services.MapPost("/{service}/virtual-ips", async (string service, HttpContext http, ControlPlane control, CancellationToken ct) =>
            await Accept(http, control, await control.AddVirtualIpAsync(service, await RequestBody.ReadAsync<AddVirtualIpRequest>(http.Request, ct), Context(http), ct), ct))
            .Accepts<AddVirtualIpRequest>("application/json").Produces<Operation>(202).AcceptsIfMatch("the service").WithName("AddVirtualIp").WithSummary("Add-AzureVirtualIP");

        services.MapDelete("/{service}/virtual-ips/{vip}", async (string service, string vip, HttpContext http, ControlPlane control, CancellationToken ct) =>
            await Accept(http, control, await control.RemoveVirtualIpAsync(service, vip, Context(http), ct), ct))
            .Produces<Operation>(202).AcceptsIfMatch("the service").WithName("RemoveVirtualIp").WithSummary("Remove-AzureVirtualIP");

        // VMs
        services.MapGet("/{service}/vms", (string service, ControlPlane control) =>
            TypedResults.Ok(RequireService(control, service).Deployment?.VirtualMachines ?? []))
            .WithName("ListVms").WithSummary("Get-AzureVM -ServiceName");

        services.MapPost("/{service}/vms", async (string service, HttpContext http, ControlPlane control, CancellationToken ct) =>
            await Accept(http, control, await control.AddVmAsync(service, await RequestBody.ReadAsync<AddVmRequest>(http.Request, ct), Context(http), ct), ct))
            .Accepts<AddVmRequest>("application/json").Produces<Operation>(202).AcceptsIfMatch("the service").WithName("AddVm").WithSummary("New-AzureVM -IPAddress: register a machine");

        services.MapGet("/{service}/vms/{vm}", (string service, string vm, HttpContext http, ControlPlane control) =>
        {
            var found = RequireVm(control, service, vm);
            Views.SetETag(http.Response, found.Version);
            return TypedResults.Ok(found);
        }).WithETag("the VM").WithName("GetVm").WithSummary("Get-AzureVM -ServiceName -Name");

        services.MapPut("/{service}/vms/{vm}", async (string service, string vm, HttpContext http, ControlPlane control, CancellationToken ct) =>
            await Accept(http, control, await control.UpdateVmAsync(service, vm, await RequestBody.ReadAsync<UpdateVmRequest>(http.Request, ct), Context(http), ct), ct))
            .Accepts<UpdateVmRequest>("application/json").Produces<Operation>(202).AcceptsIfMatch("the VM").WithName("UpdateVm").WithSummary("Update-AzureVM: commit the VM's endpoints (send If-Match)");

        services.MapDelete("/{service}/vms/{vm}", async (string service, string vm, HttpContext http, ControlPlane control, CancellationToken ct) =>
            await Accept(http, control, await control.RemoveVmAsync(service, vm, Context(http), ct), ct))
            .Produces<Operation>(202).AcceptsIfMatch("the VM").WithName("RemoveVm").WithSummary("Remove-AzureVM");

        services.MapPut("/{service}/vms/{vm}/state", async (string service, string vm, HttpContext http, ControlPlane control, CancellationToken ct) =>
            await Accept(http, control, await control.SetVmStateAsync(service, vm, await RequestBody.ReadAsync<SetVmStateRequest>(http.Request, ct), Context(http), ct), ct))
            .Accepts<SetVmStateRequest>("application/json").Produces<Operation>(202).AcceptsIfMatch("the VM").WithName("SetVmState")
            .WithSummary("Set-AzureVMState: drain (no new connections, then disabled), disable or enable a VM without touching its endpoints");

        // Endpoints
        services.MapGet("/{service}/vms/{vm}/endpoints", (string service, string vm, HttpContext http, ControlPlane control) =>
        {
            var found = RequireVm(control, service, vm);
            Views.SetETag(http.Response, found.Version);
            return TypedResults.Ok(found.Endpoints);
        }).WithETag("the VM").WithName("ListEndpoints").WithSummary("Get-AzureEndpoint");

        services.MapPost("/{service}/vms/{vm}/endpoints", async (string service, string vm, HttpContext http, ControlPlane control, CancellationToken ct) =>
            await Accept(http, control, await control.AddEndpointAsync(service, vm, await RequestBody.ReadAsync<EndpointRequest>(http.Request, ct), Context(http), ct), ct))
            .Accepts<EndpointRequest>("application/json").Produces<Operation>(202).AcceptsIfMatch("the VM").WithName("AddEndpoint").WithSummary("Add-AzureEndpoint | Update-AzureVM");

        services.MapGet("/{service}/vms/{vm}/endpoints/{endpoint}", (string service, string vm, string endpoint, HttpContext http, ControlPlane control) =>
        {
            var found = RequireVm(control, service, vm);
            Views.SetETag(http.Response, found.Version);
            return TypedResults.Ok(found.FindEndpoint(endpoint) ?? throw MultiVipException.NotFound(Messages.EndpointNotFound(endpoint)));
        }).WithETag("the VM").WithName("GetEndpoint").WithSummary("Get-AzureEndpoint -Name");

        services.MapPut("/{service}/vms/{vm}/endpoints/{endpoint}", async (string service, string vm, string endpoint, HttpContext http, ControlPlane control, CancellationToken ct) =>
            await Accept(http, control, await control.SetEndpointAsync(service, vm, endpoint, await RequestBody.ReadAsync<EndpointRequest>(http.Request, ct), Context(http), ct), ct))
            .Accepts<EndpointRequest>("application/json").Produces<Operation>(202).AcceptsIfMatch("the VM").WithName("SetEndpoint").WithSummary("Set-AzureEndpoint | Update-AzureVM");

        services.MapDelete("/{service}/vms/{vm}/endpoints/{endpoint}", async (string service, string vm, string endpoint, HttpContext http, ControlPlane control, CancellationToken ct) =>
            await Accept(http, control, await control.RemoveEndpointAsync(service, vm, endpoint, Context(http), ct), ct))
            .Produces<Operation>(202).AcceptsIfMatch("the VM").WithName("RemoveEndpoint").WithSummary("Remove-AzureEndpoint | Update-AzureVM");

        // Load-balanced sets
        services.MapGet("/{service}/load-balanced-sets", (string service, ControlPlane control) =>
            TypedResults.Ok(Views.LoadBalancedSets(RequireDeployment(control, service))))
            .WithName("ListLoadBalancedSets").WithSummary("Load-balanced sets of the deployment");

        services.MapGet("/{service}/load-balanced-sets/{set}", (string service, string set, ControlPlane control) =>
            TypedResults.Ok(Views.LoadBalancedSets(RequireDeployment(control, service)).FirstOrDefault(s => Names.Equal(s.Name, set))
                ?? throw MultiVipException.NotFound(Messages.LoadBalancedSetNotFound(set))))
            .WithName("GetLoadBalancedSet").WithSummary("One load-balanced set");

        services.MapPatch("/{service}/load-balanced-sets/{set}", async (string service, string set, HttpContext http, ControlPlane control, CancellationToken ct) =>
            await Accept(http, control, await control.SetLoadBalancedSetAsync(service, set, await RequestBody.ReadAsync<SetLoadBalancedSetRequest>(http.Request, ct), Context(http), ct), ct))
            .Accepts<SetLoadBalancedSetRequest>("application/json").Produces<Operation>(202).AcceptsIfMatch("the service").WithName("SetLoadBalancedSet").WithSummary("Set-AzureLoadBalancedEndpoint");
    }

    private static void MapReservedIps(RouteGroupBuilder reserved)
    {
        reserved.MapGet("/", (ControlPlane control) =>
            TypedResults.Ok(control.Current.ReservedIps.Values.OrderBy(r => r.Name, StringComparer.OrdinalIgnoreCase).ToList()))
            .WithName("ListReservedIps").WithSummary("Get-AzureReservedIP");

        reserved.MapPost("/", async (HttpContext http, ControlPlane control, CancellationToken ct) =>
            await Accept(http, control, await control.CreateReservedIpAsync(await RequestBody.ReadAsync<CreateReservedIpRequest>(http.Request, ct), Context(http), ct), ct))
            .Accepts<CreateReservedIpRequest>("application/json").Produces<Operation>(202).WithName("CreateReservedIp").WithSummary("New-AzureReservedIP");

        reserved.MapGet("/{name}", (string name, ControlPlane control) =>
            TypedResults.Ok(RequireReservedIp(control, name)))
            .WithName("GetReservedIp").WithSummary("Get-AzureReservedIP -ReservedIPName");

        reserved.MapDelete("/{name}", async (string name, HttpContext http, ControlPlane control, CancellationToken ct) =>
            await Accept(http, control, await control.DeleteReservedIpAsync(name, Context(http), ct), ct))
            .Produces<Operation>(202).WithName("DeleteReservedIp").WithSummary("Remove-AzureReservedIP");

        reserved.MapPut("/{name}/association", async (string name, HttpContext http, ControlPlane control, CancellationToken ct) =>
            await Accept(http, control, await control.AssociateReservedIpAsync(name, await RequestBody.ReadAsync<AssociateReservedIpRequest>(http.Request, ct), Context(http), ct), ct))
            .Accepts<AssociateReservedIpRequest>("application/json").Produces<Operation>(202).WithName("AssociateReservedIp").WithSummary("Set-AzureReservedIPAssociation");

        reserved.MapDelete("/{name}/association", async (string name, string? serviceName, string? virtualIpName, HttpContext http, ControlPlane control, CancellationToken ct) =>
            await Accept(http, control, await control.DisassociateReservedIpAsync(name, serviceName, virtualIpName, Context(http), ct), ct))
            .Produces<Operation>(202).WithName("DisassociateReservedIp").WithSummary("Remove-AzureReservedIPAssociation");
    }

    private static void MapOperations(RouteGroupBuilder operations)
    {
        operations.MapGet("/", async (string? limit, ControlPlane control, CancellationToken ct) =>
            TypedResults.Ok(await control.ListOperationsAsync(QueryValues.Limit(limit), ct)))
            .WithName("ListOperations").WithSummary("The operations log, newest first");

        operations.MapGet("/{id}", async (string id, ControlPlane control, CancellationToken ct) =>
        {
            if (!Guid.TryParse(id, out var guid))
            {
                throw MultiVipException.BadRequest($"'{id}' is not an operation id: operation ids are GUIDs like 4bd7b638-d2e7-216f-ba38-5221233d70ce.");
            }

            return TypedResults.Ok(await control.GetOperationAsync(guid, ct) ?? throw MultiVipException.NotFound(Messages.OperationNotFound(id)));
        }).WithName("GetOperation").WithSummary("Get-AzureOperationStatus: one operation");
    }

    private static async Task<IResult> Accept(HttpContext http, ControlPlane control, Operation operation, CancellationToken ct)
    {
        var latest = await control.WaitAsync(operation, control.Options.AcknowledgeWait, ct);
        return TypedResults.Accepted(ApiRoutes.Operation(latest.OperationId), latest);
    }

    private static CallContext Context(HttpContext http)
    {
        var agent = http.Request.Headers.UserAgent.ToString();
        var caller = $"{http.Connection.RemoteIpAddress}{(agent.Length == 0 ? "" : " " + agent[..Math.Min(agent.Length, 100)])}";
        var ifMatch = http.Request.Headers.IfMatch.ToString();
        return new CallContext(caller, ifMatch.Length == 0 ? null : ifMatch);
    }

    private static CloudService RequireService(ControlPlane control, string name) =>
        control.Current.Services.GetValueOrDefault(name) ?? throw MultiVipException.NotFound(Messages.ServiceNotFound(name));

    private static Deployment RequireDeployment(ControlPlane control, string name)
    {
        var service = RequireService(control, name);
        return service.Deployment ?? throw MultiVipException.NotFound(Messages.NoDeployment(service.Name));
    }

    private static VirtualMachine RequireVm(ControlPlane control, string service, string vm)
    {
        var s = RequireService(control, service);
        return s.Deployment?.FindVm(vm) ?? throw MultiVipException.NotFound(Messages.VmNotFound(vm, s.Name));
    }

    private static ReservedIp RequireReservedIp(ControlPlane control, string name) =>
        control.Current.ReservedIps.GetValueOrDefault(name) ?? throw MultiVipException.NotFound(Messages.ReservedIpNotFound(name));
}
