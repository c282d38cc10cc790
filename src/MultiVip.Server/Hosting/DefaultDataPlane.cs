using MultiVip.Model.DesiredState;

namespace MultiVip.Server.Hosting;

public static partial class ServerHost
{
    // Temporary until the TCP data plane lands: applies nothing.
    private static IDataPlane DefaultDataPlane(ServerOptions options, ILoggerFactory loggers, TimeProvider time) => new InertDataPlane();

    private sealed class InertDataPlane : IDataPlane
    {
        public Task<ApplyResult> ApplyAsync(DesiredState desired, CancellationToken cancellationToken) =>
            Task.FromResult(ApplyResult.Ok(desired.Generation));

        public IReadOnlyList<BackendHealth> GetHealth() => [];
    }
}
