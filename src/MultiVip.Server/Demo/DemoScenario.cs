using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using MultiVip.Contracts;
using MultiVip.Control.Commands;
using MultiVip.Model.Services;
using MultiVip.Server.Hosting;

namespace MultiVip.Server.Demo;

/// <summary>
/// `multivip serve --demo`: the seed's myService with two VMs on loopback addresses, built-in HTTP
/// backends on those addresses, and traffic through three VIPs — the multi-tenant scenario (three
/// VIPs on the same public port, each to its own local port) plus the seed's load-balanced set.
/// </summary>
public static class DemoScenario
{
    public const string Service = "myService";

    private static readonly (string Vm, string Address)[] Vms = [("myVM1", "127.0.0.11"), ("myVM2", "127.0.0.12")];

    /// <summary>Local ports the demo backends listen on, on both VMs.</summary>
    private static readonly int[] LocalPorts = [8081, 8082, 8083, 8181];

    /// <summary>Creates the scenario unless myService exists already, then starts the backends.</summary>
    public static async Task<DemoBackends> StartAsync(RunningServer server, CancellationToken cancellationToken)
    {
        var control = server.Control;
        var context = new CallContext("multivip serve --demo");
        if (!control.Current.Services.ContainsKey(Service))
        {
            await control.CreateServiceAsync(new CreateServiceRequest { Name = Service, Label = "MultiVip demo" }, context, cancellationToken);
            foreach (var (vm, address) in Vms)
            {
                await control.AddVmAsync(Service, new AddVmRequest { Name = vm, Address = address }, context, cancellationToken);
            }

            await control.AddVirtualIpAsync(Service, new AddVirtualIpRequest { Name = "Vip2" }, context, cancellationToken);
            await control.AddVirtualIpAsync(Service, new AddVirtualIpRequest { Name = "Vip3" }, context, cancellationToken);

            // Tenants: every VIP on public port 80, each forwarded to its own local port on myVM1.
            var tenant = 1;
            foreach (var vip in new[] { "Vip1", "Vip2", "Vip3" })
            {
                await control.AddEndpointAsync(Service, "myVM1", new EndpointRequest
                {
                    Name = $"tenant{tenant}", Protocol = "tcp", LocalPort = 8080 + tenant, PublicPort = 80, VirtualIpName = vip,
                }, context, cancellationToken);
                tenant++;
            }

            // The seed's load-balanced set: port 81 on Vip2 → 8181 on both VMs, default probe.
            foreach (var (vm, _) in Vms)
            {
                var operation = await control.AddEndpointAsync(Service, vm, new EndpointRequest
                {
                    Name = "myLBEndpoint", LoadBalancedSetName = "myLBSet", Protocol = "tcp", LocalPort = 8181, PublicPort = 81,
                    VirtualIpName = "Vip2", DefaultProbe = true,
                }, context, cancellationToken);
                await control.WaitAsync(operation, TimeSpan.FromSeconds(10), cancellationToken);
            }
        }

        return await DemoBackends.StartAsync(cancellationToken);
    }

    /// <summary>Commands a newcomer can paste, with the addresses this run got.</summary>
    public static IEnumerable<string> TryCommands(RunningServer server)
    {
        var deployment = server.Control.Current.Services.GetValueOrDefault(Service)?.Deployment;
        if (deployment is null)
        {
            yield break;
        }

        foreach (var (vm, endpoint) in deployment.AllEndpoints().Where(x => x.Endpoint.LoadBalancedSetName is null))
        {
            var vip = deployment.FindVirtualIp(endpoint.VirtualIpName);
            yield return $"curl http://{vip?.Address}:{endpoint.PublicPort}/     # {vip?.Name} → {vm.Name}:{endpoint.LocalPort}";
        }

        foreach (var set in deployment.AllEndpoints().Where(x => x.Endpoint.LoadBalancedSetName is not null).GroupBy(x => x.Endpoint.LoadBalancedSetName))
        {
            var first = set.First().Endpoint;
            var vip = deployment.FindVirtualIp(first.VirtualIpName);
            yield return $"for i in 1 2 3 4 5 6; do curl -s http://{vip?.Address}:{first.PublicPort}/; done     # {set.Key} on {vip?.Name}, balanced over {string.Join(" and ", set.Select(x => x.Vm.Name))}";
        }

        var dataDir = DataDirArgument(server.DataDir);
        yield return $"./multivip{dataDir} deployment show --service {Service}";
        yield return $"./multivip{dataDir} lbset set --service {Service} --name myLBSet --vip Vip1     # move the set; curl the new VIP";
    }

    /// <summary>How a client run from the current directory finds a server with this data dir: by itself, or with --data-dir.</summary>
    public static string HowClientsFind(string dataDir) => DataDirArgument(dataDir) is { Length: > 0 } argument
        ? $"clients in this directory find it with{argument}"
        : "clients in this directory find it by themselves";

    /// <summary>" --data-dir X" (relative when below the current directory), or "" for the clients' default ./.multivip.</summary>
    private static string DataDirArgument(string dataDir)
    {
        var full = Path.GetFullPath(dataDir);
        if (full == Path.GetFullPath(new ServerOptions().DataDir))
        {
            return string.Empty;
        }

        var relative = Path.GetRelativePath(Environment.CurrentDirectory, full);
        var shown = relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative) ? full : relative;
        return shown.Contains(' ', StringComparison.Ordinal) ? $" --data-dir '{shown}'" : $" --data-dir {shown}";
    }

    /// <summary>Small HTTP servers standing in for the VMs' sites: each answers with who it is.</summary>
    public sealed class DemoBackends : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private DemoBackends(WebApplication app) => _app = app;

        public static async Task<DemoBackends> StartAsync(CancellationToken cancellationToken)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(kestrel =>
            {
                foreach (var (_, address) in Vms)
                {
                    foreach (var port in LocalPorts)
                    {
                        kestrel.Listen(IPAddress.Parse(address), port);
                    }
                }
            });
            var app = builder.Build();
            app.Run(async context =>
            {
                var local = context.Connection.LocalIpAddress?.ToString();
                var vm = Vms.FirstOrDefault(v => v.Address == local).Vm ?? local;
                await context.Response.WriteAsync(
                    $"Hello from {vm} port {context.Connection.LocalPort} (client {context.Connection.RemoteIpAddress}:{context.Connection.RemotePort})\n",
                    cancellationToken);
            });
            await app.StartAsync(cancellationToken);
            return new DemoBackends(app);
        }

        public IEnumerable<string> Addresses => _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
