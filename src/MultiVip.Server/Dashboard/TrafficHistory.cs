using MultiVip.DataPlane.Contract;
using MultiVip.Model.Services;

namespace MultiVip.Server.Dashboard;

/// <summary>
/// The last 15 minutes of traffic for the dashboard's charts and overview: every
/// <see cref="Interval"/> it reads the data plane's counters (the same read-back /metrics uses,
/// never the traffic path) and keeps them in a ring of <see cref="Capacity"/> samples, so memory is
/// bounded by samples × series whatever the uptime. Rates are differences of neighbouring samples,
/// computed when asked; a counter that went down (its listener or backend was recreated) counts
/// from zero, as Prometheus reads a counter reset.
/// </summary>
internal sealed partial class TrafficHistory : IHostedService, IDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(15);

    /// <summary>One more sample than intervals, so the oldest rate still starts inside the window.</summary>
    public static readonly int Capacity = (int)(Window / Interval) + 1;

    private readonly ITrafficSource _traffic;
    private readonly TimeProvider _time;
    private readonly ILogger<TrafficHistory> _logger;
    private readonly Lock _gate = new();
    private readonly Sample?[] _ring = new Sample?[Capacity];
    private int _next;
    private ITimer? _timer;

    public TrafficHistory(ITrafficSource traffic, TimeProvider time, ILogger<TrafficHistory> logger)
    {
        _traffic = traffic;
        _time = time;
        _logger = logger;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // A first sample now, so the first rate is known one interval after start.
        _timer = _time.CreateTimer(_ => SampleNow(), null, TimeSpan.Zero, Interval);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _timer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        return Task.CompletedTask;
    }

    public void Dispose() => _timer?.Dispose();

    /// <summary>Reads the counters once and stores them as the newest sample (the timer calls this; tests may too).</summary>
    public void SampleNow()
    {
        try
        {
            var values = new Dictionary<SeriesKey, Counters>();
            foreach (var listener in _traffic.GetTraffic())
            {
                // The VIP's connections are the sum of its backends' rates (see Rate), so a removed
                // listener does not look like a counter reset of the whole VIP.
                values.TryAdd(SeriesKey.Vip(listener.ServiceName, listener.VirtualIpName), default);
                foreach (var b in listener.Backends)
                {
                    values[SeriesKey.Backend(listener.ServiceName, b.VmName, b.EndpointName, listener.VirtualIpName)] =
                        new Counters(b.TotalConnections, b.BytesIn + b.BytesOut);
                }
            }

            // Bytes per VIP from the never-decreasing totals (removed listeners keep counting in).
            foreach (var bytes in _traffic.GetVipBytes())
            {
                var vip = SeriesKey.Vip(bytes.ServiceName, bytes.VirtualIpName);
                values[vip] = values.GetValueOrDefault(vip) with { Bytes = bytes.BytesIn + bytes.BytesOut };
            }

            var sample = new Sample(_time.GetUtcNow(), values);
            lock (_gate)
            {
                _ring[_next] = sample;
                _next = (_next + 1) % Capacity;
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A failed read loses one point of a chart, never the server.
            Log.SampleFailed(_logger, e);
        }
    }

    /// <summary>Per-second rates of one service's VIPs and backends over the window, oldest first.</summary>
    public ServiceTraffic ForService(string serviceName)
    {
        var samples = Samples();
        var now = _time.GetUtcNow();
        var times = new List<long>();
        var series = new Dictionary<SeriesKey, (double?[] Connections, double?[] Bytes)>();
        var pairs = Pairs(samples, now).ToList();
        foreach (var key in pairs.SelectMany(p => p.Newer.Values.Keys).Where(k => Names.Equal(k.Service, serviceName)).Distinct())
        {
            series[key] = (new double?[pairs.Count], new double?[pairs.Count]);
        }

        for (var i = 0; i < pairs.Count; i++)
        {
            var (older, newer) = pairs[i];
            times.Add(newer.At.ToUnixTimeSeconds());
            foreach (var (key, arrays) in series)
            {
                if (Rate(older, newer, key) is { } rate)
                {
                    arrays.Connections[i] = rate.ConnectionsPerSecond;
                    arrays.Bytes[i] = rate.BytesPerSecond;
                }
            }
        }

        IReadOnlyList<TrafficSeries> Of(SeriesKind kind) => series
            .Where(s => s.Key.Kind == kind)
            .OrderBy(s => s.Key.Name, StringComparer.OrdinalIgnoreCase)
            .Select(s => new TrafficSeries(s.Key.Name, s.Key.VirtualIpName, s.Value.Connections, s.Value.Bytes))
            .ToList();

        return new ServiceTraffic(serviceName, (int)Interval.TotalSeconds, (int)Window.TotalSeconds, times, Of(SeriesKind.Vip), Of(SeriesKind.Backend));
    }

    /// <summary>The newest rate of each service (sum of its VIPs), for the overview; services without two samples yet are absent.</summary>
    public IReadOnlyDictionary<string, Rate> CurrentByService()
    {
        var samples = Samples();
        var result = new Dictionary<string, Rate>(StringComparer.OrdinalIgnoreCase);
        if (samples.Count < 2)
        {
            return result;
        }

        var (older, newer) = (samples[^2], samples[^1]);
        foreach (var key in newer.Values.Keys.Where(k => k.Kind == SeriesKind.Vip))
        {
            var rate = Rate(older, newer, key) ?? new Rate(0, 0);
            var sum = result.GetValueOrDefault(key.Service) ?? new Rate(0, 0);
            result[key.Service] = new Rate(sum.ConnectionsPerSecond + rate.ConnectionsPerSecond, sum.BytesPerSecond + rate.BytesPerSecond);
        }

        return result;
    }

    /// <summary>Samples in time order (oldest first).</summary>
    private List<Sample> Samples()
    {
        lock (_gate)
        {
            var list = new List<Sample>(Capacity);
            for (var i = 0; i < Capacity; i++)
            {
                if (_ring[(_next + i) % Capacity] is { } s)
                {
                    list.Add(s);
                }
            }

            return list;
        }
    }

    /// <summary>Neighbouring samples whose newer one lies inside the window.</summary>
    private static IEnumerable<(Sample Older, Sample Newer)> Pairs(List<Sample> samples, DateTimeOffset now)
    {
        for (var i = 1; i < samples.Count; i++)
        {
            if (now - samples[i].At <= Window && samples[i].At > samples[i - 1].At)
            {
                yield return (samples[i - 1], samples[i]);
            }
        }
    }

    private static Rate? Rate(Sample older, Sample newer, SeriesKey key)
    {
        if (!newer.Values.TryGetValue(key, out var now))
        {
            return null;
        }

        var seconds = (newer.At - older.At).TotalSeconds;
        var before = older.Values.GetValueOrDefault(key);
        var connections = key.Kind == SeriesKind.Backend
            ? Delta(before.Connections, now.Connections)
            : newer.Values
                .Where(x => x.Key.Kind == SeriesKind.Backend && x.Key.Service == key.Service && string.Equals(x.Key.VirtualIpName, key.Name, StringComparison.OrdinalIgnoreCase))
                .Sum(x => Delta(older.Values.GetValueOrDefault(x.Key).Connections, x.Value.Connections));
        return new Rate(connections / seconds, Delta(before.Bytes, now.Bytes) / seconds);
    }

    /// <summary>A counter that went down was recreated: it counted from zero since.</summary>
    private static long Delta(long before, long now) => now >= before ? now - before : now;

    private enum SeriesKind
    {
        Vip,
        Backend,
    }

    /// <summary>A VIP (Name = VIP) or a backend (Name = vm/endpoint, with the VIP it serves) of a service.</summary>
    private readonly record struct SeriesKey(SeriesKind Kind, string Service, string Name, string VirtualIpName)
    {
        public static SeriesKey Vip(string service, string vip) => new(SeriesKind.Vip, service.ToUpperInvariant(), vip, vip);

        public static SeriesKey Backend(string service, string vm, string endpoint, string vip) => new(SeriesKind.Backend, service.ToUpperInvariant(), $"{vm}/{endpoint}", vip);
    }

    private readonly record struct Counters(long Connections, long Bytes);

    private sealed record Sample(DateTimeOffset At, IReadOnlyDictionary<SeriesKey, Counters> Values);

    private static partial class Log
    {
        [LoggerMessage(EventId = 5600, EventName = "TrafficSampleFailed", Level = LogLevel.Warning, Message = "Reading the traffic counters for the dashboard's charts failed; this point is missing")]
        public static partial void SampleFailed(ILogger logger, Exception exception);
    }
}

/// <summary>Connections and bytes (both directions) per second.</summary>
internal sealed record Rate(double ConnectionsPerSecond, double BytesPerSecond);

/// <summary>One line of a chart: rates aligned with <see cref="ServiceTraffic.Times"/>; null where the series did not exist.</summary>
internal sealed record TrafficSeries(string Name, string VirtualIpName, IReadOnlyList<double?> ConnectionsPerSecond, IReadOnlyList<double?> BytesPerSecond);

/// <summary>The JSON the service page's charts fetch (GET /ui/services/{service}/traffic).</summary>
internal sealed record ServiceTraffic(string Service, int IntervalSeconds, int WindowSeconds, IReadOnlyList<long> Times, IReadOnlyList<TrafficSeries> VirtualIps, IReadOnlyList<TrafficSeries> Backends);
