using Microsoft.Extensions.Logging;

namespace MultiVip.DataPlane.Nftables;

/// <summary>Active connections per backend for deployment show, the dashboard and /metrics (<see cref="ConntrackActive"/>).</summary>
public sealed partial class NftablesDataPlane
{
    /// <summary>
    /// How old the active counts may be. A dump costs in proportion to the node's marked flows (about a
    /// microsecond each in conntrack and here), so it runs at most this often whatever the number of
    /// readers: a scrape, the dashboard's refresh and drain completion all read the same snapshot.
    /// </summary>
    private static readonly TimeSpan ActiveCacheAge = TimeSpan.FromSeconds(2);

    private readonly Lock _activeGate = new();
    private (DateTimeOffset At, IReadOnlyDictionary<int, long> Values)? _active;
    private bool _activeFailureLogged;

    private long Active(int backendId) => ActiveCounts().GetValueOrDefault(backendId);

    private IReadOnlyDictionary<int, long> ActiveCounts()
    {
        lock (_activeGate)
        {
            var now = _time.GetUtcNow();
            if (_active is { } cached && now - cached.At < ActiveCacheAge)
            {
                return cached.Values;
            }

            if (!_tableReady)
            {
                return new Dictionary<int, long>();
            }

            try
            {
                var values = ConntrackActive.Read(_conntrack);
                _active = (now, values);
                _activeFailureLogged = false;
                return values;
            }
            catch (Exception e) when (e is NftException or System.ComponentModel.Win32Exception or IOException or InvalidOperationException)
            {
                if (!_activeFailureLogged)
                {
                    _activeFailureLogged = true;
                    ActiveLog.Unavailable(_logger, e.Message);
                }

                // The last counts rather than zero: a drain must not finish because one dump failed.
                _active = (now, _active?.Values ?? new Dictionary<int, long>());
                return _active.Value.Values;
            }
        }
    }

    private static partial class ActiveLog
    {
        [LoggerMessage(EventId = 6200, EventName = "NftActiveConnectionsUnavailable", Level = LogLevel.Warning,
            Message = "nftables: active connections cannot be read from conntrack ({Error}); install conntrack-tools (conntrack on the PATH). Counts stay at their last value until it works again")]
        public static partial void Unavailable(ILogger logger, string error);
    }
}
