using MultiVip.DataPlane.Tcp;

namespace MultiVip.DataPlane.Reconciliation;

/// <summary>Lets connections finish on their own for up to the drain timeout, then resets the rest.</summary>
internal static class Drainer
{
    /// <returns>How many connections had to be reset.</returns>
    public static async Task<int> DrainAsync(
        IReadOnlyCollection<ForwardedConnection> connections, TimeSpan timeout, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        if (connections.Count == 0)
        {
            return 0;
        }

        if (timeout <= TimeSpan.Zero)
        {
            return await DrainAsync(connections, Task.CompletedTask).ConfigureAwait(false);
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var reset = await DrainAsync(connections, Task.Delay(timeout, timeProvider, stop.Token)).ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
        return reset;
    }

    /// <summary>Waits for <paramref name="connections"/> until <paramref name="deadline"/> completes (or faults, when cancelled), then resets the rest.</summary>
    /// <returns>How many connections had to be reset.</returns>
    public static async Task<int> DrainAsync(IReadOnlyCollection<ForwardedConnection> connections, Task deadline)
    {
        if (connections.Count == 0)
        {
            return 0;
        }

        var completions = new List<Task>(connections.Count);
        foreach (var connection in connections)
        {
            completions.Add(connection.Completion);
        }

        if (!deadline.IsCompleted)
        {
            await Task.WhenAny(Task.WhenAll(completions), deadline).ConfigureAwait(false);
        }

        var reset = 0;
        foreach (var connection in connections)
        {
            if (!connection.IsClosed)
            {
                connection.EndedBy(Logging.Termination.Killed);
                connection.Reset();
                reset++;
            }
        }

        return reset;
    }
}
