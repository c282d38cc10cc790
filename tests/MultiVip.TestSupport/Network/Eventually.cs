using System.Diagnostics;

namespace MultiVip.TestSupport.Network;

/// <summary>Bounded polling: for state that converges on its own (an address appears, an ARP entry changes).</summary>
public static class Eventually
{
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(50);

    public static async Task TrueAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> describe)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            if (await condition())
            {
                return;
            }

            if (watch.Elapsed > timeout)
            {
                throw new TimeoutException($"not within {timeout.TotalSeconds:0.#} s: {describe()}");
            }

            await Task.Delay(Interval);
        }
    }

    /// <summary>Polls <paramref name="read"/> until <paramref name="accept"/> holds; returns the accepted value.</summary>
    public static async Task<T> MatchesAsync<T>(Func<Task<T>> read, Func<T, bool> accept, TimeSpan timeout, Func<T, string> describe)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            var value = await read();
            if (accept(value))
            {
                return value;
            }

            if (watch.Elapsed > timeout)
            {
                throw new TimeoutException($"not within {timeout.TotalSeconds:0.#} s: {describe(value)}");
            }

            await Task.Delay(Interval);
        }
    }
}
