using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using MultiVip.Contracts;
using MultiVip.Control.Commands;
using MultiVip.Control.State;
using MultiVip.DataPlane;
using MultiVip.Model.Errors;
using MultiVip.Model.Networking;
using MultiVip.Model.Operations;
using MultiVip.TestSupport.Postgres;
using MultiVip.Tests.Shared;

namespace MultiVip.Control.Tests.Postgres;

/// <summary>
/// The database goes away under running nodes: traffic keeps flowing with the last state, reads
/// answer from memory, changes get 503 with a sentence naming the database and since when; when it
/// comes back, changes are accepted again and every node catches up by itself. Uses a PostgreSQL
/// server of its own (it is stopped mid-test), not the shared fixture.
/// </summary>
public sealed class PostgresOutageTests
{
    private static readonly CallContext Caller = new("pg-outage-test");

    [Fact]
    public async Task While_the_database_is_down_traffic_flows_reads_answer_and_changes_get_503_then_the_nodes_catch_up()
    {
        await using var server = await PostgresServer.StartAsync();
        var location = PostgresLocation.Parse(server.ConnectionString(await server.CreateDatabaseAsync()));
        var backendPort = FreePort("127.110.0.2");
        await using var backend = EchoBackend.Start("127.110.0.2", backendPort, "backend");
        await using var a = await Node.StartAsync(location);
        await using var b = await Node.StartAsync(location);

        await a.Control.CreateServiceAsync(new CreateServiceRequest { Name = "web" }, Caller, default);
        await a.Control.AddVmAsync("web", new AddVmRequest { Name = "vm", Address = "127.110.0.2" }, Caller, default);
        var added = await a.Control.AddEndpointAsync("web", "vm", new EndpointRequest { Name = "http", Protocol = "tcp", LocalPort = backendPort, PublicPort = 18080 }, Caller, default);
        Assert.Equal(OperationStatus.Succeeded, (await a.Control.WaitAsync(added, TimeSpan.FromSeconds(30), default)).OperationStatus);
        var vip = a.Control.Current.Services["web"].Deployment!.VirtualIps[0].Address!;
        Assert.Equal("backend", await EchoBackend.HelloAsync(vip, 18080));
        await PostgresNodesTests.Eventually(() => b.Control.Current.Generation == a.Control.Current.Generation);

        await server.StopAsync();
        var refused = await Assert.ThrowsAsync<MultiVipException>(() => a.Control.CreateServiceAsync(new CreateServiceRequest { Name = "later" }, Caller, default));
        Assert.Equal(ErrorCode.ServiceUnavailable, refused.Code);
        Assert.Equal(503, refused.Code.HttpStatus());
        Assert.Contains($"the state database at {location.Endpoint} is unreachable since ", refused.Message);
        Assert.Contains("The change was not made", refused.Message);
        Assert.DoesNotContain(PostgresServer.Password, refused.Message);
        var again = await Assert.ThrowsAsync<MultiVipException>(() => b.Control.AddVmAsync("web", new AddVmRequest { Name = "vm2", Address = "127.110.0.3" }, Caller, default));
        Assert.Equal(ErrorCode.ServiceUnavailable, again.Code);

        // Reads come from memory and traffic from the data plane's last state.
        Assert.False(a.Control.Current.Services.ContainsKey("later"));
        Assert.Single(b.Control.Current.Services["web"].Deployment!.VirtualMachines);
        Assert.Equal("backend", await EchoBackend.HelloAsync(vip, 18080));

        await server.RestartAsync();
        var later = await a.Control.CreateServiceAsync(new CreateServiceRequest { Name = "later" }, Caller, default);
        await b.Control.AddVmAsync("web", new AddVmRequest { Name = "vm2", Address = "127.110.0.3" }, Caller, default);

        // Each node catches up with the other's change by itself (notification or periodic read).
        await PostgresNodesTests.Eventually(() => b.Control.Current.Services.ContainsKey("later") && a.Control.Current.Services["web"].Deployment!.VirtualMachines.Count == 2);
        var stored = WorldState.From(await a.Store.LoadAsync(default));
        foreach (var node in new[] { a, b })
        {
            Assert.Equal(stored.Generation, node.Control.Current.Generation);
            Assert.Equal(stored.Services.Keys.Order(), node.Control.Current.Services.Keys.Order());
            Assert.Equal(stored.Addresses.OrderBy(x => x.Key), node.Control.Current.Addresses.OrderBy(x => x.Key));
        }

        Assert.Equal(later.OperationId, (await a.Store.GetOperationAsync(later.OperationId, default))!.OperationId);
        Assert.Equal("backend", await EchoBackend.HelloAsync(vip, 18080));
    }

    private static int FreePort(string address)
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Parse(address), 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    private sealed class Node : IAsyncDisposable
    {
        private readonly DataPlaneHost _dataPlane;

        private Node(PostgresStateStore store, DataPlaneHost dataPlane, ControlPlane control)
        {
            Store = store;
            _dataPlane = dataPlane;
            Control = control;
        }

        public PostgresStateStore Store { get; }

        public ControlPlane Control { get; }

        public static async Task<Node> StartAsync(PostgresLocation location)
        {
            var store = await PostgresStateStore.OpenAsync(location, TimeProvider.System, NullLoggerFactory.Instance, default);
            var dataPlane = new DataPlaneHost(new DataPlaneOptions(), NullLoggerFactory.Instance, TimeProvider.System);
            var control = await ControlPlane.StartAsync(store, new ControlPlaneOptions { Pool = AddressPool.Parse(["127.110.40.0/24"]) }, dataPlane, TimeProvider.System, NullLoggerFactory.Instance, default);
            return new Node(store, dataPlane, control);
        }

        public async ValueTask DisposeAsync()
        {
            await Control.DisposeAsync();
            await _dataPlane.DisposeAsync();
            await Store.DisposeAsync();
        }
    }
}
