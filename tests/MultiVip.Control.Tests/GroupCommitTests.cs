using MultiVip.Control.Commands;
using MultiVip.Control.State;
using MultiVip.Control.Tests.Support;
using MultiVip.Contracts;
using MultiVip.Model.Errors;
using MultiVip.Model.Operations;

namespace MultiVip.Control.Tests;

/// <summary>
/// The one writer: commands that queue up while it commits are run in order, each on the state the
/// previous one produced, and committed in one call to the store (group commit). A command the
/// domain refuses fails alone; a commit the store refuses fails its whole group; a stale commit is
/// run again on fresh state. The store is held mid-commit to make the queue fill up for real.
/// </summary>
public sealed class GroupCommitTests
{
    private static readonly CallContext Caller = new("group-commit-test");

    [Fact]
    public async Task Commands_queued_during_a_commit_are_committed_together_and_a_refused_one_fails_alone()
    {
        await using var node = await MemoryNode.StartAsync();
        var held = node.Store.HoldNextCommit();
        var first = Create(node, "first");
        await held.Reached;

        // The writer is inside the store: these four wait in the queue and form the next group.
        var b = Create(node, "b");
        var missing = node.Control.AddVmAsync("nowhere", new AddVmRequest { Name = "vm", Address = "127.73.200.1" }, Caller, default);
        var c = Create(node, "c");
        var duplicate = Create(node, "B");
        held.Release();

        var firstOperation = await first;
        var bOperation = await b;
        var cOperation = await c;
        var notFound = await Assert.ThrowsAsync<MultiVipException>(() => missing);
        Assert.Equal(ErrorCode.ResourceNotFound, notFound.Code);
        Assert.Equal(Messages.ServiceNotFound("nowhere"), notFound.Message);
        // Judged on the state "b" (earlier in the same group) produced, not on the committed state.
        var conflict = await Assert.ThrowsAsync<MultiVipException>(() => duplicate);
        Assert.Equal(ErrorCode.ConflictError, conflict.Code);
        Assert.Equal(Messages.ServiceExists("B"), conflict.Message);

        // One commit for "first", one for the two accepted commands of the group; nothing of the refused ones.
        Assert.Equal([1, 2], node.Store.Commits);
        Assert.Equal([1L, 2L, 3L], new[] { firstOperation, bOperation, cOperation }.Select(o => o.Generation));
        var stored = await node.Store.LoadAsync(default);
        Assert.Equal(["b", "c", "first"], stored.Services.Select(s => s.Name));
        Assert.Equal(3, stored.Generation);
        Assert.Equal(3, (await node.Store.ListOperationsAsync(100, default)).Count);
        Assert.Equal(["b", "c", "first"], node.Control.Current.Services.Keys.Order());

        // Both operations of the group complete once the data plane has a generation that contains them.
        Assert.Equal(OperationStatus.Succeeded, (await node.Control.WaitAsync(cOperation, TimeSpan.FromSeconds(30), default)).OperationStatus);
        Assert.Equal(OperationStatus.Succeeded, (await node.Control.WaitAsync(bOperation, TimeSpan.FromSeconds(30), default)).OperationStatus);
    }

    [Fact]
    public async Task A_commit_the_store_refuses_fails_every_command_of_its_group_and_changes_nothing()
    {
        await using var node = await MemoryNode.StartAsync();
        var held = node.Store.HoldNextCommit();
        var first = Create(node, "first");
        await held.Reached;
        var b = Create(node, "b");
        var c = Create(node, "c");
        var full = new IOException("No space left on device");
        node.Store.FailCommit = changes => changes.Count > 1 ? full : null;
        held.Release();

        await first;
        Assert.Same(full, await Assert.ThrowsAsync<IOException>(() => b));
        Assert.Same(full, await Assert.ThrowsAsync<IOException>(() => c));
        Assert.Equal(1, node.Events.Count("CommitFailed"));
        Assert.Equal(["first"], node.Control.Current.Services.Keys);
        Assert.Equal(1, node.Control.Current.Generation);

        // The writer goes on, and the failed group used up no generation.
        node.Store.FailCommit = null;
        var d = await Create(node, "d");
        Assert.Equal(2, d.Generation);
        Assert.Equal([1, 1], node.Store.Commits);
        Assert.Equal(["d", "first"], (await node.Store.LoadAsync(default)).Services.Select(s => s.Name));
    }

    [Fact]
    public async Task A_stale_group_is_run_again_on_fresh_state_and_each_command_judged_again()
    {
        // Two writers on one store, as two nodes on one database: B has not seen what A commits.
        var store = new InMemoryStateStore();
        var pool = MemoryNode.UniquePool();
        await using var a = await MemoryNode.StartAsync(store, pool);
        await using var b = await MemoryNode.StartAsync(store, pool);

        // B's writer is busy with "p" while "S" and "t" queue up (one group); that group's commit is
        // held in turn, after it ran on B's state, and A commits "s" meanwhile.
        var held = store.HoldNextCommit();
        var p = Create(b, "p");
        await held.Reached;
        var s = Create(b, "S");
        var t = Create(b, "t");
        var heldGroup = store.HoldNextCommit();
        held.Release();
        await p;
        await heldGroup.Reached;
        await Create(a, "s");
        heldGroup.Release();

        // The group [S, t] was stale ("s" exists in the store); on the caught-up state "S" is the
        // user's conflict, in the domain's words, and "t" is committed.
        var conflict = await Assert.ThrowsAsync<MultiVipException>(() => s);
        Assert.Equal(ErrorCode.ConflictError, conflict.Code);
        Assert.Equal(Messages.ServiceExists("S"), conflict.Message);
        var tOperation = await t;

        Assert.Equal(1, store.Conflicts);
        Assert.Equal(1, b.Events.Count("CommitConflict"));
        Assert.Equal(0, b.Events.Count("CommitGaveUp"));
        Assert.Equal(["p", "s", "t"], (await store.LoadAsync(default)).Services.Select(x => x.Name));
        Assert.Equal(["p", "s", "t"], b.Control.Current.Services.Keys.Order());
        Assert.Equal(tOperation.Generation, b.Control.Current.Generation);
    }

    [Fact]
    public async Task A_conflict_that_never_clears_is_a_503_after_the_attempts_and_the_writer_goes_on()
    {
        await using var node = await MemoryNode.StartAsync();
        node.Store.FailCommit = _ => new StateConflictException("services 'x' was changed by another writer (expected version 1).");

        var error = await Assert.ThrowsAsync<MultiVipException>(() => Create(node, "x"));
        Assert.Equal(ErrorCode.ServiceUnavailable, error.Code);
        Assert.Contains("Nothing was changed", error.Message);
        Assert.Equal(ControlPlane.MaxCommitAttempts - 1, node.Events.Count("CommitConflict"));
        Assert.Equal(1, node.Events.Count("CommitGaveUp"));
        Assert.Empty(node.Control.Current.Services);

        node.Store.FailCommit = null;
        await Create(node, "x");
        Assert.True(node.Control.Current.Services.ContainsKey("x"));
    }

    private static Task<Operation> Create(MemoryNode node, string name) =>
        node.Control.CreateServiceAsync(new CreateServiceRequest { Name = name }, Caller, default);
}
