using MultiVip.Model.Networking;

namespace MultiVip.Control.Tests.Support;

/// <summary>
/// A control plane on an <see cref="InMemoryStateStore"/> and a <see cref="RecordingDataPlane"/>:
/// the single writer, group commit and publishing as the server runs them, without a disk or
/// sockets. Pools come from this suite's share of loopback, 127.73.0.0/16 (nothing is bound).
/// </summary>
internal sealed class MemoryNode : IAsyncDisposable
{
    private static int s_pools;

    private MemoryNode(InMemoryStateStore store, RecordingDataPlane dataPlane, ControlPlane control, LogEvents events)
    {
        Store = store;
        DataPlane = dataPlane;
        Control = control;
        Events = events;
    }

    public InMemoryStateStore Store { get; }

    public RecordingDataPlane DataPlane { get; }

    public ControlPlane Control { get; }

    /// <summary>The control plane's log events by name (CommitConflict, CommitFailed...).</summary>
    public LogEvents Events { get; }

    public static string UniquePool() => $"127.73.{Interlocked.Increment(ref s_pools) % 250 + 1}.0/24";

    /// <summary>Starts a control plane on <paramref name="store"/> (a new one by default; pass one to run two writers on it).</summary>
    public static async Task<MemoryNode> StartAsync(InMemoryStateStore? store = null, string? pool = null)
    {
        store ??= new InMemoryStateStore();
        var dataPlane = new RecordingDataPlane();
        var events = new LogEvents();
        var control = await ControlPlane.StartAsync(
            store, new ControlPlaneOptions { Pool = AddressPool.Parse([pool ?? UniquePool()]), CatchUpInterval = Timeout.InfiniteTimeSpan }, dataPlane, TimeProvider.System, events, CancellationToken.None);
        return new MemoryNode(store, dataPlane, control, events);
    }

    public async ValueTask DisposeAsync()
    {
        // Whatever a test left held must not keep the writer or the publisher from stopping.
        DataPlane.Release();
        await Control.DisposeAsync();
    }
}
