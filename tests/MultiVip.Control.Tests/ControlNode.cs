using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MultiVip.Control.State;
using MultiVip.DataPlane;
using MultiVip.Model.Networking;

namespace MultiVip.Control.Tests;

/// <summary>
/// One control plane with its own <see cref="SqliteStateStore"/> and data plane, as a server runs it.
/// Two nodes on one data dir are two writers of one database: what a shared store will see, and the
/// way to make a commit's read version stale for real.
/// </summary>
internal sealed class ControlNode : IAsyncDisposable
{
    private readonly DataPlaneHost _dataPlane;

    private ControlNode(SqliteStateStore store, DataPlaneHost dataPlane, ControlPlane control, LogEvents events)
    {
        Store = store;
        _dataPlane = dataPlane;
        Control = control;
        Events = events;
    }

    /// <summary>The control plane's log events by name (CommitConflict, CommitGaveUp...).</summary>
    public LogEvents Events { get; }

    public SqliteStateStore Store { get; }

    public ControlPlane Control { get; }

    public static async Task<ControlNode> StartAsync(string dataDir, string pool)
    {
        var store = await SqliteStateStore.OpenAsync(dataDir, CancellationToken.None);
        var dataPlane = new DataPlaneHost(new DataPlaneOptions(), NullLoggerFactory.Instance, TimeProvider.System);
        var events = new LogEvents();
        var control = await ControlPlane.StartAsync(
            // No periodic catch-up: the two-writer tests make a node's state stale on purpose, and a
            // catch-up at a moment of its own would race them (the feed has tests of its own).
            store, new ControlPlaneOptions { Pool = AddressPool.Parse([pool]), CatchUpInterval = Timeout.InfiniteTimeSpan }, dataPlane, TimeProvider.System, events, CancellationToken.None);
        return new ControlNode(store, dataPlane, control, events);
    }

    public async ValueTask DisposeAsync()
    {
        await Control.DisposeAsync();
        await _dataPlane.DisposeAsync();
        await Store.DisposeAsync();
    }
}

/// <summary>Counts the log events of every category by name.</summary>
internal sealed class LogEvents : ILoggerFactory, ILogger
{
    private readonly ConcurrentDictionary<string, int> _counts = new();

    public int Count(string eventName) => _counts.GetValueOrDefault(eventName);

    public ILogger CreateLogger(string categoryName) => this;

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _counts.AddOrUpdate(eventId.Name ?? eventId.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), 1, (_, n) => n + 1);

    public void Dispose()
    {
    }
}

/// <summary>A data dir under the temp dir, removed afterwards.</summary>
internal sealed class TempDataDir : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "multivip-control-tests", Guid.NewGuid().ToString("N"));

    public string Database => System.IO.Path.Combine(Path, SqliteStateStore.FileName);

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Each test its own /24 of this suite's loopback range 127.66.0.0/16 (127.66.1.0/24 is the server fixture's).</summary>
internal static class Pools
{
    private static int s_next = 10;

    public static string Unique() => $"127.66.{Interlocked.Increment(ref s_next) % 240 + 10}.0/24";
}
