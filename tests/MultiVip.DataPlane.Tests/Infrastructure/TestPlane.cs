using Microsoft.Extensions.Logging.Abstractions;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Tcp;

namespace MultiVip.DataPlane.Tests.Infrastructure;

internal static class TestPlane
{
    public static TcpDataPlane Create(TimeProvider? timeProvider = null, DataPlaneOptions? options = null) =>
        new(options ?? new DataPlaneOptions(), NullLoggerFactory.Instance, timeProvider ?? TimeProvider.System);

    /// <summary>A plane on <paramref name="engine"/>: the behaviour tests run once per socket engine
    /// (an abstract test class and one sealed subclass per engine, so no test is copied).</summary>
    public static TcpDataPlane Create(EngineUnderTest engine, TimeProvider? timeProvider = null, DataPlaneOptions? options = null) =>
        new(engine.Apply(options ?? new DataPlaneOptions()), NullLoggerFactory.Instance, timeProvider ?? TimeProvider.System);

    /// <summary>Applies and insists every listener went live.</summary>
    public static async Task ApplyOkAsync(this TcpDataPlane plane, long generation, params ListenerSpec[] listeners)
    {
        var result = await plane.ApplyAsync(new DesiredState(generation, listeners), CancellationToken.None).WaitAsync(TestNet.Timeout);
        Assert.Equal(generation, result.Generation);
        Assert.Empty(result.Faults);
    }
}

/// <summary>
/// What a behaviour test class runs on: a socket engine, and on epoll whether every direction is
/// spliced from its first byte (so FIN, half-close, resets, drains and byte counts are all checked on
/// the splice path, not only on the bulk transfers that reach it by themselves).
/// </summary>
public readonly record struct EngineUnderTest(SocketEngine Kind, bool SpliceFromFirstByte = false)
{
    public static EngineUnderTest EpollSpliced => new(SocketEngine.Epoll, SpliceFromFirstByte: true);

    public static implicit operator EngineUnderTest(SocketEngine kind) => FromSocketEngine(kind);

    public static EngineUnderTest FromSocketEngine(SocketEngine kind) => new(kind);

    internal DataPlaneOptions Apply(DataPlaneOptions options) => SpliceFromFirstByte
        ? options with { SocketEngine = Kind, Splice = SpliceMode.Auto, SpliceAfterFullReads = 0 }
        : options with { SocketEngine = Kind };
}
