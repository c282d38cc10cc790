using Microsoft.Data.Sqlite;
using MultiVip.Contracts;
using MultiVip.Control.Commands;
using MultiVip.Model.Errors;
using MultiVip.Model.Operations;

namespace MultiVip.Control.Tests;

/// <summary>
/// A commit whose read version is stale (another writer committed in between) is re-run on fresh
/// state instead of failing: well-formed concurrent changes never get ConflictError. The stale
/// read is real: two control planes, each with its own store, on one database file.
/// </summary>
public sealed class ConcurrentChangeTests
{
    private static readonly CallContext Caller = new("concurrent-test");

    [Fact]
    public async Task Change_committed_on_a_stale_version_is_rerun_on_fresh_state_and_succeeds()
    {
        using var dir = new TempDataDir();
        var pool = Pools.Unique();
        await using var a = await ControlNode.StartAsync(dir.Path, pool);
        await a.Control.CreateServiceAsync(new CreateServiceRequest { Name = "shared" }, Caller, default);
        await using var b = await ControlNode.StartAsync(dir.Path, pool);

        // A changes the service after B read it: B's copy is version 1, the database's version 2.
        await a.Control.AddVmAsync("shared", new AddVmRequest { Name = "vm1", Address = "127.0.0.11" }, Caller, default);
        Assert.Equal(1, b.Control.Current.Services["shared"].Version);

        var operation = await b.Control.AddVmAsync("shared", new AddVmRequest { Name = "vm2", Address = "127.0.0.12" }, Caller, default);
        operation = await b.Control.WaitAsync(operation, TimeSpan.FromSeconds(10), default);

        Assert.Equal(OperationStatus.Succeeded, operation.OperationStatus);
        Assert.Equal(1, b.Events.Count("CommitConflict"));
        var service = b.Control.Current.Services["shared"];
        Assert.Equal(3, service.Version);
        Assert.Equal(["vm1", "vm2"], service.Deployment!.VirtualMachines.Select(v => v.Name));
        var stored = await b.Store.LoadAsync(default);
        Assert.Equal(["vm1", "vm2"], stored.Services.Single().Deployment!.VirtualMachines.Select(v => v.Name));
        // The deployment A created (and its default VIP address) was kept, not created again.
        Assert.Equal(a.Control.Current.Services["shared"].Deployment!.VirtualIps[0].Address, service.Deployment.VirtualIps[0].Address);
    }

    [Fact]
    public async Task Address_taken_by_another_writer_is_allocated_again_from_fresh_state()
    {
        using var dir = new TempDataDir();
        var pool = Pools.Unique();
        await using var a = await ControlNode.StartAsync(dir.Path, pool);
        await a.Control.CreateServiceAsync(new CreateServiceRequest { Name = "first" }, Caller, default);
        await a.Control.CreateServiceAsync(new CreateServiceRequest { Name = "second" }, Caller, default);
        await using var b = await ControlNode.StartAsync(dir.Path, pool);

        // Both are at the same allocation cursor: B's first allocation is the address A just took.
        await a.Control.AddVmAsync("first", new AddVmRequest { Name = "vm", Address = "127.0.0.11" }, Caller, default);
        await b.Control.AddVmAsync("second", new AddVmRequest { Name = "vm", Address = "127.0.0.12" }, Caller, default);

        Assert.Equal(1, b.Events.Count("CommitConflict"));
        var stored = await b.Store.LoadAsync(default);
        var addresses = stored.Services.Select(s => s.Deployment!.VirtualIps[0].Address!).ToList();
        Assert.Equal(2, addresses.Count);
        Assert.NotEqual(addresses[0], addresses[1]);
        Assert.Equal(addresses.Order(), b.Control.Current.Services.Values.Select(s => s.Deployment!.VirtualIps[0].Address!).Order());
    }

    [Fact]
    public async Task Real_conflict_found_on_rerun_gets_the_domain_message()
    {
        using var dir = new TempDataDir();
        var pool = Pools.Unique();
        await using var a = await ControlNode.StartAsync(dir.Path, pool);
        await using var b = await ControlNode.StartAsync(dir.Path, pool);
        await a.Control.CreateServiceAsync(new CreateServiceRequest { Name = "dup" }, Caller, default);

        // B has not seen "dup": its command passes against its state, the store refuses the insert,
        // and the re-run on fresh state finds the service: the user's mistake, in the domain's words.
        var error = await Assert.ThrowsAsync<MultiVipException>(() => b.Control.CreateServiceAsync(new CreateServiceRequest { Name = "DUP" }, Caller, default));
        Assert.Equal(ErrorCode.ConflictError, error.Code);
        Assert.Equal(Messages.ServiceExists("DUP"), error.Message);
        Assert.Equal(1, b.Events.Count("CommitConflict"));
        Assert.True(b.Control.Current.Services.ContainsKey("dup"));
    }

    [Fact]
    public async Task Conflict_that_does_not_clear_on_fresh_state_is_a_clear_503_not_a_409()
    {
        using var dir = new TempDataDir();
        var pool = Pools.Unique();
        await using var a = await ControlNode.StartAsync(dir.Path, pool);
        await a.Control.CreateServiceAsync(new CreateServiceRequest { Name = "s" }, Caller, default);

        // An address row no document explains (a damaged database): reloading never makes it free,
        // so every attempt allocates it and the store refuses it every time.
        var next = a.Control.Options.Pool.NextFree(a.Control.Current.AllocationCursor, a.Control.Current.Addresses.ContainsKey)!.Value.ToString();
        await using (var db = new SqliteConnection($"Data Source={dir.Database};Pooling=False"))
        {
            await db.OpenAsync();
            await using var cmd = db.CreateCommand();
            cmd.CommandText = "INSERT INTO addresses(address, owner_kind, owner_name, vip_name) VALUES($a, 'vip', 'ghost', 'Vip1')";
            cmd.Parameters.AddWithValue("$a", next);
            await cmd.ExecuteNonQueryAsync();
        }

        var error = await Assert.ThrowsAsync<MultiVipException>(() => a.Control.AddVmAsync("s", new AddVmRequest { Name = "vm", Address = "127.0.0.11" }, Caller, default));
        Assert.Equal(ErrorCode.ServiceUnavailable, error.Code);
        Assert.Equal(503, error.Code.HttpStatus());
        Assert.Contains(next, error.Message);
        Assert.Contains("Nothing was changed", error.Message);
        Assert.Null(a.Control.Current.Services["s"].Deployment);
        Assert.Equal(ControlPlane.MaxCommitAttempts - 1, a.Events.Count("CommitConflict"));
        Assert.Equal(1, a.Events.Count("CommitGaveUp"));

        // The writer is not stuck: the next change goes through.
        await a.Control.CreateServiceAsync(new CreateServiceRequest { Name = "t" }, Caller, default);
        Assert.True(a.Control.Current.Services.ContainsKey("t"));
    }

    [Fact]
    public async Task Two_writers_changing_one_service_at_once_never_fail()
    {
        using var dir = new TempDataDir();
        var pool = Pools.Unique();
        await using var a = await ControlNode.StartAsync(dir.Path, pool);
        await a.Control.CreateServiceAsync(new CreateServiceRequest { Name = "busy" }, Caller, default);
        await a.Control.AddVmAsync("busy", new AddVmRequest { Name = "seed", Address = "127.0.0.10" }, Caller, default);
        await using var b = await ControlNode.StartAsync(dir.Path, pool);

        // Each writer's conflicts are bounded by the other's commits (8 here), within the retry bound.
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task Writer(ControlNode node, string prefix, int firstHost)
        {
            await start.Task;
            for (var i = 0; i < 8; i++)
            {
                await node.Control.AddVmAsync("busy", new AddVmRequest { Name = $"{prefix}{i}", Address = $"127.0.0.{firstHost + i}" }, Caller, default);
            }
        }

        var writers = Task.WhenAll(Task.Run(() => Writer(a, "a", 20)), Task.Run(() => Writer(b, "b", 40)));
        start.SetResult();
        await writers;

        var stored = await a.Store.LoadAsync(default);
        var vms = stored.Services.Single().Deployment!.VirtualMachines.Select(v => v.Name).Order().ToList();
        Assert.Equal(17, vms.Count);
        Assert.Equal(18, stored.Services.Single().Version);
        Assert.Equal(0, a.Events.Count("CommitGaveUp") + b.Events.Count("CommitGaveUp"));
    }
}
