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
    public static TcpDataPlane Create(SocketEngine engine, TimeProvider? timeProvider = null, DataPlaneOptions? options = null) =>
        new((options ?? new DataPlaneOptions()) with { SocketEngine = engine }, NullLoggerFactory.Instance, timeProvider ?? TimeProvider.System);

    /// <summary>Applies and insists every listener went live.</summary>
    public static async Task ApplyOkAsync(this TcpDataPlane plane, long generation, params ListenerSpec[] listeners)
    {
        var result = await plane.ApplyAsync(new DesiredState(generation, listeners), CancellationToken.None).WaitAsync(TestNet.Timeout);
        Assert.Equal(generation, result.Generation);
        Assert.Empty(result.Faults);
    }
}
