using System.Net;
using Microsoft.Extensions.Logging;
using MultiVip.DataPlane.Contract;

namespace MultiVip.Network.Announcing;

/// <summary>
/// Puts the announcer in front of the data plane without either knowing of the other: for each
/// desired state, new addresses are held before listeners on them start (so an operation that
/// reports Succeeded is reachable), and addresses that left the desired state are withdrawn only
/// after their listeners drained (so connections that are finishing keep their address). Between
/// changes it re-verifies every <see cref="RefreshInterval"/>, restoring an address that someone
/// removed, and reacts at once when a drain completes.
/// </summary>
internal sealed partial class AnnouncingDataPlane : IDataPlane, IAsyncDisposable
{
    private readonly IDataPlane _inner;
    private readonly IDrainingAddresses _draining;
    private readonly IAddressAnnouncer _announcer;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _loop;
    private HashSet<IPAddress> _wanted = [];
    private HashSet<IPAddress> _held = [];
    private bool _withdrawn;

    public AnnouncingDataPlane(IDataPlane inner, IDrainingAddresses draining, IAddressAnnouncer announcer, TimeProvider time, ILogger logger, TimeSpan? refreshInterval = null)
    {
        _inner = inner;
        _draining = draining;
        _announcer = announcer;
        _time = time;
        _logger = logger;
        RefreshInterval = refreshInterval ?? TimeSpan.FromSeconds(10);
        _draining.DrainCompleted += Wake;
        _loop = Task.Run(() => RefreshLoopAsync(_stopping.Token));
    }

    public TimeSpan RefreshInterval { get; }

    public IAddressAnnouncer Announcer => _announcer;

    public async Task<ApplyResult> ApplyAsync(DesiredState desired, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_withdrawn)
            {
                // Stopping: the addresses are gone for good; never bring them back.
                return await _inner.ApplyAsync(desired, cancellationToken);
            }

            _wanted = [.. desired.Addresses.Select(a => a.Address)];

            // Add before the listeners: nothing is removed yet (old listeners still run).
            await HoldLockedAsync([.. _held, .. _wanted], verify: false, cancellationToken);
            var result = await _inner.ApplyAsync(desired, cancellationToken);

            // Removed listeners are now draining (or gone): keep only what is wanted or still draining.
            await HoldLockedAsync(Target(), verify: false, cancellationToken);
            return result;
        }
        finally
        {
            _gate.Release();
        }
    }

    public IReadOnlyList<BackendHealth> GetHealth(string? serviceName = null) => _inner.GetHealth(serviceName);

    /// <summary>
    /// The orderly stop (SIGTERM), after the data plane drained: withdraws every address. Addresses of a
    /// process that is killed instead stay on the interface and the next start adopts them.
    /// </summary>
    public async Task WithdrawAllAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            _withdrawn = true;
            _wanted = [];
            await HoldLockedAsync([], verify: true, cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    private HashSet<IPAddress> Target()
    {
        var target = new HashSet<IPAddress>(_wanted);
        target.UnionWith(_draining.DrainingAddresses());
        return target;
    }

    private async Task HoldLockedAsync(HashSet<IPAddress> target, bool verify, CancellationToken cancellationToken)
    {
        try
        {
            await _announcer.HoldAsync(target, verify, cancellationToken);
            _held = target;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // One bad round must not fail the apply: listeners still start, the refresh retries.
            Log.HoldFailed(_logger, _announcer.Name, e);
        }
    }

    private void Wake()
    {
        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // A wake-up is already pending.
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private async Task RefreshLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var woken = await _wake.WaitAsync(RefreshInterval, _time, cancellationToken);
                await _gate.WaitAsync(cancellationToken);
                try
                {
                    if (!_withdrawn)
                    {
                        // A drain ending needs no re-read of the interface; the periodic tick does one.
                        await HoldLockedAsync(Target(), verify: !woken, cancellationToken);
                    }
                }
                finally
                {
                    _gate.Release();
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _draining.DrainCompleted -= Wake;
        await _stopping.CancelAsync();
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stopping.Dispose();
        _wake.Dispose();
        _gate.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1320, EventName = "HoldFailed", Level = LogLevel.Error, Message = "The {Announcer} announcer could not update the held VIP addresses; retrying")]
        public static partial void HoldFailed(ILogger logger, string announcer, Exception exception);
    }
}

internal static class SemaphoreSlimTimeExtensions
{
    /// <summary>WaitAsync with a timeout measured by <paramref name="time"/> (tests drive a fake clock).</summary>
    public static async Task<bool> WaitAsync(this SemaphoreSlim semaphore, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        if (time == TimeProvider.System)
        {
            return await semaphore.WaitAsync(timeout, cancellationToken);
        }

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var wait = semaphore.WaitAsync(cts.Token);
        var delay = Task.Delay(timeout, time, cts.Token);
        var first = await Task.WhenAny(wait, delay);
        await cts.CancelAsync();
        if (first == wait)
        {
            await wait;
            return true;
        }

        try
        {
            await wait;
            return true; // released just as the timeout fired
        }
        catch (OperationCanceledException)
        {
            cancellationToken.ThrowIfCancellationRequested();
            return false;
        }
    }
}
