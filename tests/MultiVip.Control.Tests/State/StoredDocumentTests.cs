using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using MultiVip.Contracts;
using MultiVip.Control.Commands;
using MultiVip.Control.State;
using MultiVip.Model.Operations;
using MultiVip.Model.Services;

namespace MultiVip.Control.Tests.State;

/// <summary>
/// Stored documents outlive the build that wrote them: a later build reads them whatever was added,
/// removed or respelled since, and refuses (with a sentence) only what a newer build wrote.
/// </summary>
public sealed class StoredDocumentTests
{
    private static readonly CallContext Caller = new("document-test");

    /// <summary>A service with a VM, an endpoint with an ACL on an extra VIP, a reserved IP, and their operations.</summary>
    private static async Task<TempDataDir> WriteStateAsync()
    {
        var dir = new TempDataDir();
        await using var node = await ControlNode.StartAsync(dir.Path, Pools.Unique());
        var control = node.Control;
        await control.CreateServiceAsync(new CreateServiceRequest { Name = "svc", Location = "lab" }, Caller, default);
        await control.AddVmAsync("svc", new AddVmRequest { Name = "vm1", Address = "127.0.0.11" }, Caller, default);
        await control.AddVirtualIpAsync("svc", new AddVirtualIpRequest { Name = "Vip2" }, Caller, default);
        var last = await control.AddEndpointAsync("svc", "vm1", new EndpointRequest
        {
            Name = "web", Protocol = "tcp", LocalPort = 8080, PublicPort = 8080, VirtualIpName = "Vip2", IdleTimeoutInMinutes = 9,
            Distribution = "sourceIP", Acl = [new AclRuleRequest { Order = 1, Action = "permit", RemoteSubnet = "10.0.0.0/8" }],
        }, Caller, default);
        var reserved = await control.CreateReservedIpAsync(new CreateReservedIpRequest { Name = "kept", Label = "spare" }, Caller, default);
        await control.WaitAsync(last, TimeSpan.FromSeconds(10), default);

        // Every operation finished (Succeeded is what the tests below read back), the last one included.
        await control.WaitAsync(reserved, TimeSpan.FromSeconds(10), default);
        return dir;
    }

    private static async Task SqlAsync(TempDataDir dir, string sql)
    {
        await using var db = new SqliteConnection($"Data Source={dir.Database};Pooling=False");
        await db.OpenAsync();
        await using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        await cmd.ExecuteNonQueryAsync();
    }

    private static async Task<(StoredState State, IReadOnlyList<Operation> Operations)> LoadAsync(TempDataDir dir)
    {
        await using var store = await SqliteStateStore.OpenAsync(dir.Path, default);
        return (await store.LoadAsync(default), await store.ListOperationsAsync(100, default));
    }

    [Fact]
    public async Task Stored_documents_with_properties_this_build_does_not_know_load()
    {
        using var dir = await WriteStateAsync();
        // What a build that renamed or removed a property leaves behind, at every level.
        await SqlAsync(dir, """
            UPDATE services SET doc = json_set(doc, '$.retiredField', 'x', '$.deployment.oldSlotName', 'Production',
                '$.deployment.virtualMachines[0].endpoints[0].formerTimeout', 4, '$.deployment.virtualMachines[0].endpoints[0].acl[0].note', json('{"a":[1,2]}'));
            UPDATE reserved_ips SET doc = json_set(doc, '$.region', 'west');
            UPDATE operations SET doc = json_set(doc, '$.durationMs', 12);
            """);

        var (state, operations) = await LoadAsync(dir);

        var endpoint = state.Services.Single().Deployment!.VirtualMachines.Single().Endpoints.Single();
        Assert.Equal("web", endpoint.Name);
        Assert.Equal(9, endpoint.IdleTimeoutInMinutes);
        Assert.Equal("10.0.0.0/8", endpoint.Acl.Single().RemoteSubnet);
        Assert.Equal("spare", state.ReservedIps.Single().Label);
        Assert.Equal(5, operations.Count);
        Assert.All(operations, o => Assert.Equal(OperationStatus.Succeeded, o.OperationStatus));
    }

    [Fact]
    public async Task Stored_documents_missing_optional_properties_load_with_the_defaults()
    {
        using var dir = await WriteStateAsync();
        // What an older build wrote before these properties existed.
        await SqlAsync(dir, """
            UPDATE services SET doc = json_remove(doc, '$.location', '$.label', '$.deployment.virtualMachines[0].endpoints[0].idleTimeoutInMinutes',
                '$.deployment.virtualMachines[0].endpoints[0].distribution', '$.deployment.virtualMachines[0].endpoints[0].proxyProtocol',
                '$.deployment.virtualMachines[0].endpoints[0].acl');
            UPDATE reserved_ips SET doc = json_remove(doc, '$.label', '$.location');
            UPDATE operations SET doc = json_remove(doc, '$.caller', '$.completedAt');
            """);

        var (state, operations) = await LoadAsync(dir);

        var service = state.Services.Single();
        Assert.Equal("local", service.Location);
        Assert.Null(service.Label);
        var endpoint = service.Deployment!.VirtualMachines.Single().Endpoints.Single();
        Assert.Equal(InputEndpoint.DefaultIdleTimeoutInMinutes, endpoint.IdleTimeoutInMinutes);
        Assert.Equal(LoadBalancerDistribution.None, endpoint.Distribution);
        Assert.Equal(ProxyProtocolVersion.None, endpoint.ProxyProtocol);
        Assert.Empty(endpoint.Acl);
        Assert.Equal("local", state.ReservedIps.Single().Location);
        Assert.All(operations, o => Assert.Null(o.Caller));
    }

    [Fact]
    public async Task Stored_enum_values_are_read_whatever_their_case()
    {
        using var dir = await WriteStateAsync();
        await SqlAsync(dir, """
            UPDATE services SET doc = json_set(doc, '$.deployment.virtualMachines[0].endpoints[0].protocol', 'TCP',
                '$.deployment.virtualMachines[0].endpoints[0].distribution', 'SourceIP', '$.deployment.virtualMachines[0].endpoints[0].acl[0].action', 'Permit');
            UPDATE operations SET doc = json_set(doc, '$.operationStatus', 'succeeded');
            """);

        var (state, operations) = await LoadAsync(dir);

        var endpoint = state.Services.Single().Deployment!.VirtualMachines.Single().Endpoints.Single();
        Assert.Equal(TransportProtocol.Tcp, endpoint.Protocol);
        Assert.Equal(LoadBalancerDistribution.SourceIP, endpoint.Distribution);
        Assert.Equal(AclAction.Permit, endpoint.Acl.Single().Action);
        Assert.All(operations, o => Assert.Equal(OperationStatus.Succeeded, o.OperationStatus));
    }

    [Fact]
    public async Task Documents_carry_their_format_version_and_no_derived_values()
    {
        using var dir = await WriteStateAsync();
        await using var db = new SqliteConnection($"Data Source={dir.Database};Pooling=False");
        await db.OpenAsync();
        foreach (var table in new[] { "services", "reserved_ips", "operations" })
        {
            await using var cmd = db.CreateCommand();
            cmd.CommandText = $"SELECT doc FROM {table}";
            await using var reader = await cmd.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                var doc = JsonNode.Parse(reader.GetString(0))!.AsObject();
                Assert.Equal(2, (int)doc["formatVersion"]!);
                // Computed from the state on every read; storing them would freeze today's rule.
                Assert.False(doc.ContainsKey("state") || doc.ContainsKey("inUse"), doc.ToJsonString());
                Assert.False(doc["deployment"] is JsonObject d && d.ContainsKey("defaultVirtualIp"), doc.ToJsonString());
            }
        }
    }

    [Fact]
    public async Task Document_written_by_a_newer_format_is_refused_with_a_sentence()
    {
        using var dir = await WriteStateAsync();
        await SqlAsync(dir, "UPDATE services SET doc = json_set(doc, '$.formatVersion', 99)");

        await using var store = await SqliteStateStore.OpenAsync(dir.Path, default);
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => store.LoadAsync(default));
        Assert.Contains("cloud service 'svc'", error.Message);
        Assert.Contains("format version 99", error.Message);
        Assert.Contains("newer", error.Message);
    }
}
