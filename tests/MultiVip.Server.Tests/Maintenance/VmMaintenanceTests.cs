using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using MultiVip.Contracts;
using MultiVip.Model.Operations;
using MultiVip.Model.Services;

namespace MultiVip.Server.Tests.Maintenance;

/// <summary>
/// VM maintenance through a real data plane: a drained VM takes no new connections while the one
/// it holds keeps working, becomes disabled when that one closes, stays so across a restart, and
/// takes traffic again once enabled.
/// </summary>
public sealed class VmMaintenanceTests
{
    private const string Service = "maint";

    [Fact]
    public async Task Draining_a_vm_keeps_its_held_connection_sends_new_ones_to_the_others_then_disables_it()
    {
        var octet = Random.Shared.Next(1, 250);
        var vm1 = $"127.117.{octet}.11";
        var vm2 = $"127.117.{octet}.12";
        await using var b1 = EchoBackend.Start(vm1, 8181, "vm1");
        await using var b2 = EchoBackend.Start(vm2, 8181, "vm2");
        await using var f = await ServerFixture.StartAsync();
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = Service });
        foreach (var (name, address) in new[] { ("myVM1", vm1), ("myVM2", vm2) })
        {
            await f.SendAsync(HttpMethod.Post, ApiRoutes.Vms(Service), new AddVmRequest { Name = name, Address = address });
        }

        foreach (var name in new[] { "myVM1", "myVM2" })
        {
            await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints(Service, name), new EndpointRequest
            {
                Name = "lb", LoadBalancedSetName = "set", Protocol = "tcp", LocalPort = 8181, PublicPort = 81,
            });
        }

        var vip = (await f.GetAsync<List<VirtualIp>>(ApiRoutes.VirtualIps(Service))).Single().Address!;

        // A connection that myVM1 carries (5-tuple hashing: some source port lands there).
        using var held = await ConnectToAsync(vip, 81, "vm1");
        Assert.Equal(VmState.Enabled, (await f.GetAsync<VirtualMachine>(ApiRoutes.Vm(Service, "myVM1"))).State);

        var drain = await f.SendAsync(HttpMethod.Put, ApiRoutes.VmState(Service, "myVM1"), new SetVmStateRequest { State = "draining" });
        Assert.Equal((OperationStatus.Succeeded, MultiVip.Control.ControlPlane.SetVmStateOperation), (drain.OperationStatus, drain.OperationDescription));

        for (var i = 0; i < 30; i++)
        {
            Assert.Equal("vm2", await EchoBackend.HelloAsync(vip, 81));
        }

        Assert.Equal("still here", await held.EchoAsync("still here"));
        Assert.Equal(VmState.Draining, (await f.GetAsync<VirtualMachine>(ApiRoutes.Vm(Service, "myVM1"))).State);
        var deployment = await f.GetAsync<DeploymentView>(ApiRoutes.Deployment(Service));
        var draining = deployment.Health.Single(h => h.VmName == "myVM1");
        Assert.True(draining.Draining);
        Assert.Equal(1, draining.ActiveConnections);
        Assert.False(deployment.Health.Single(h => h.VmName == "myVM2").Draining);

        // Its last connection ends: the server makes it disabled by itself.
        held.Dispose();
        await EventuallyAsync(f, VmState.Disabled);
        var operations = await f.GetAsync<List<Operation>>(ApiRoutes.Operations);
        Assert.Contains(operations, o => o.OperationDescription == MultiVip.Control.ControlPlane.SetVmStateOperation && o.Caller == "multivip: drain finished");

        // Stored: a restart reads it back, and the data plane still leaves myVM1 out.
        await f.RestartAsync();
        Assert.Equal(VmState.Disabled, (await f.GetAsync<VirtualMachine>(ApiRoutes.Vm(Service, "myVM1"))).State);
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal("vm2", await EchoBackend.HelloAsync(vip, 81));
        }

        await f.SendAsync(HttpMethod.Put, ApiRoutes.VmState(Service, "myVM1"), new SetVmStateRequest { State = "enabled" });
        Assert.Equal(VmState.Enabled, (await f.GetAsync<VirtualMachine>(ApiRoutes.Vm(Service, "myVM1"))).State);
        using var back = await ConnectToAsync(vip, 81, "vm1");
    }

    [Fact]
    public async Task Disabling_takes_a_single_endpoint_out_at_once_and_its_listener_resets_until_enabled()
    {
        var vm = $"127.117.{Random.Shared.Next(1, 250)}.21";
        await using var backend = EchoBackend.Start(vm, 8080, "web");
        await using var f = await ServerFixture.StartAsync(configure: o => o with { DrainTimeout = TimeSpan.FromMilliseconds(200) });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = Service });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Vms(Service), new AddVmRequest { Name = "web", Address = vm });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints(Service, "web"), new EndpointRequest { Name = "http", Protocol = "tcp", LocalPort = 8080, PublicPort = 80 });
        var vip = (await f.GetAsync<List<VirtualIp>>(ApiRoutes.VirtualIps(Service))).Single().Address!;
        Assert.Equal("web", await EchoBackend.HelloAsync(vip, 80));

        await f.SendAsync(HttpMethod.Put, ApiRoutes.VmState(Service, "web"), new SetVmStateRequest { State = "disabled" });
        await Assert.ThrowsAnyAsync<Exception>(() => EchoBackend.HelloAsync(vip, 80));
        await f.SendAsync(HttpMethod.Put, ApiRoutes.VmState(Service, "web"), new SetVmStateRequest { State = "enabled" });
        Assert.Equal("web", await EchoBackend.HelloAsync(vip, 80));
    }

    [Fact]
    public async Task A_bad_state_or_a_missing_vm_is_refused_with_what_to_send_and_changes_nothing()
    {
        await using var f = await ServerFixture.StartAsync();
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = Service });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Vms(Service), new AddVmRequest { Name = "myVM1", Address = "127.117.0.31" });
        var before = await f.GetAsync<VirtualMachine>(ApiRoutes.Vm(Service, "myVM1"));

        var bad = await f.ExpectErrorAsync(HttpMethod.Put, ApiRoutes.VmState(Service, "myVM1"), new SetVmStateRequest { State = "sleeping" });
        Assert.Equal((HttpStatusCode.BadRequest, "BadRequest"), (bad.Status, bad.Code));
        Assert.Contains("enabled", bad.Text, StringComparison.Ordinal);
        Assert.Contains("draining", bad.Text, StringComparison.Ordinal);

        var missing = await f.ExpectErrorAsync(HttpMethod.Put, ApiRoutes.VmState(Service, "nope"), new SetVmStateRequest { State = "draining" });
        Assert.Equal(HttpStatusCode.NotFound, missing.Status);

        using var empty = await f.SendRawAsync(HttpMethod.Put, ApiRoutes.VmState(Service, "myVM1"), new { });
        Assert.Equal(HttpStatusCode.BadRequest, empty.StatusCode);
        Assert.Contains("state", JsonSerializer.Deserialize<ErrorBody>(await empty.Content.ReadAsStringAsync(), ApiJson.Options)!.Message, StringComparison.OrdinalIgnoreCase);

        var stale = await f.SendRawAsync(HttpMethod.Put, ApiRoutes.VmState(Service, "myVM1"), new SetVmStateRequest { State = "draining" }, ifMatch: "\"999\"");
        Assert.Equal(HttpStatusCode.PreconditionFailed, stale.StatusCode);
        var after = await f.GetAsync<VirtualMachine>(ApiRoutes.Vm(Service, "myVM1"));
        Assert.Equal((before.Version, VmState.Enabled), (after.Version, after.State));
    }

    private static async Task EventuallyAsync(ServerFixture f, VmState expected)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            var state = (await f.GetAsync<VirtualMachine>(ApiRoutes.Vm(Service, "myVM1"))).State;
            if (state == expected)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"myVM1 is still {state}, not {expected}");
            await Task.Delay(50);
        }
    }

    /// <summary>Connects until a connection greets with <paramref name="backend"/> (bounded), and keeps that one.</summary>
    private static async Task<HeldConnection> ConnectToAsync(string address, int port, string backend)
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var connection = await HeldConnection.OpenAsync(address, port);
            if (connection.Greeting == backend)
            {
                return connection;
            }

            connection.Dispose();
        }

        throw new InvalidOperationException($"no connection to {address}:{port} reached {backend} in 200 attempts");
    }

    private sealed class HeldConnection : IDisposable
    {
        private readonly TcpClient _client;
        private readonly StreamReader _reader;

        private HeldConnection(TcpClient client, StreamReader reader, string greeting)
        {
            _client = client;
            _reader = reader;
            Greeting = greeting;
        }

        public string Greeting { get; }

        public static async Task<HeldConnection> OpenAsync(string address, int port)
        {
            var client = new TcpClient();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await client.ConnectAsync(IPAddress.Parse(address), port, timeout.Token);
            var reader = new StreamReader(client.GetStream(), Encoding.ASCII);
            var greeting = await reader.ReadLineAsync(timeout.Token) ?? throw new IOException("closed before the greeting");
            return new HeldConnection(client, reader, greeting);
        }

        public async Task<string?> EchoAsync(string line)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _client.GetStream().WriteAsync(Encoding.ASCII.GetBytes(line + "\n"), timeout.Token);
            return await _reader.ReadLineAsync(timeout.Token);
        }

        public void Dispose()
        {
            _reader.Dispose();
            _client.Dispose();
        }
    }
}
