using Microsoft.Extensions.Logging;
using MultiVip.DataPlane.Contract;
using MultiVip.Model.Errors;
using MultiVip.Model.Services;

namespace MultiVip.Control.Maintenance;

/// <summary>
/// Finishes drains: once a second, each draining VM whose backends the data plane reports with no
/// connection (TCP connections and UDP sessions) is committed as disabled, so what is stored, shown
/// and restarted from says what the VM does. Reads the data plane's own counters, so it needs no
/// hook in the forwarding path; costs nothing while no VM is draining.
/// </summary>
internal sealed partial class DrainCompletion : IAsyncDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private readonly ControlPlane _control;
    private readonly IBackendHealthSource _health;
    private readonly ILogger _logger;
    private readonly PeriodicTimer _timer;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public DrainCompletion(ControlPlane control, IBackendHealthSource health, TimeProvider time, ILogger<DrainCompletion> logger)
    {
        _control = control;
        _health = health;
        _logger = logger;
        _timer = new PeriodicTimer(Interval, time);
        _loop = Task.Run(LoopAsync);
    }

    private async Task LoopAsync()
    {
        try
        {
            while (await _timer.WaitForNextTickAsync(_stop.Token))
            {
                await CheckAsync(_stop.Token);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>One pass over the draining VMs.</summary>
    public async Task CheckAsync(CancellationToken cancellationToken)
    {
        foreach (var service in _control.Current.Services.Values)
        {
            if (service.Deployment is not { } deployment || !deployment.VirtualMachines.Any(v => v.State == VmState.Draining))
            {
                continue;
            }

            var health = _health.GetHealth(service.Name);
            foreach (var vm in deployment.VirtualMachines.Where(v => v.State == VmState.Draining))
            {
                var open = health.Where(h => Names.Equal(h.VmName, vm.Name)).Sum(h => h.ActiveConnections);
                if (open > 0)
                {
                    continue;
                }

                try
                {
                    await _control.FinishDrainAsync(service.Name, vm.Name, cancellationToken);
                    Log.DrainFinished(_logger, vm.Name, service.Name);
                }
                catch (MultiVipException ex) when (ex.Code is ErrorCode.ConflictError or ErrorCode.ResourceNotFound)
                {
                    // Enabled, disabled or removed meanwhile: nothing left to finish.
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    Log.FinishFailed(_logger, vm.Name, service.Name, ex);
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _timer.Dispose();
        await _loop;
        _stop.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5701, EventName = "VmDrainFinished", Level = LogLevel.Information, Message = "VM {Vm} of {Service} carries no more connections: draining done, it is disabled now")]
        public static partial void DrainFinished(ILogger logger, string vm, string service);

        [LoggerMessage(EventId = 5702, EventName = "VmDrainFinishFailed", Level = LogLevel.Warning, Message = "VM {Vm} of {Service} is drained but could not be committed as disabled; retrying in a second")]
        public static partial void FinishFailed(ILogger logger, string vm, string service, Exception exception);
    }
}
