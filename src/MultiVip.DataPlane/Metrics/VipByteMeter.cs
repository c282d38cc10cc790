using MultiVip.DataPlane.Contract;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Metrics;

/// <summary>
/// Turns the per-backend (TCP) and per-listener (UDP) counters, which vanish with their owner, into
/// per-VIP totals that only grow. Each counter is remembered with the value last counted, so a read
/// adds only what it carried since; when its owner goes (drain finished, listener stopped) its last
/// bytes are added by <see cref="Retire"/> and it is ignored from then on. Nothing here runs on the
/// traffic path: the counters stay plain Interlocked fields, read when usage is sampled.
/// </summary>
internal sealed class VipByteMeter
{
    private readonly Lock _gate = new();
    private readonly Dictionary<object, Entry> _entries = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<(string Service, string Vip), Total> _totals = new(VipNameComparer.Instance);
    private long _pass;

    /// <summary>
    /// Counts what every live counter carried since the last read and returns the totals.
    /// <paramref name="observeLive"/> runs under the meter's lock and calls <see cref="Observe"/> for each live counter.
    /// </summary>
    public IReadOnlyList<VipBytes> Read(Action<VipByteMeter> observeLive)
    {
        lock (_gate)
        {
            _pass++;
            observeLive(this);

            // A retired counter not seen in this pass is in no list any more: forget it. One still
            // seen (a list not yet updated) stays, so it is not counted again from zero.
            List<object>? gone = null;
            foreach (var (counter, entry) in _entries)
            {
                if (entry.Retired && entry.Pass != _pass)
                {
                    (gone ??= []).Add(counter);
                }
            }

            foreach (var counter in gone ?? [])
            {
                _entries.Remove(counter);
            }

            return [.. _totals.Select(t => new VipBytes(t.Key.Service, t.Key.Vip, t.Value.In, t.Value.Out))];
        }
    }

    /// <summary>A live counter's current values; call only from the callback of <see cref="Read"/>.</summary>
    public void Observe(string serviceName, string vipName, object counter, long bytesIn, long bytesOut)
    {
        var entry = EntryOf(serviceName, vipName, counter);
        entry.Pass = _pass;
        if (!entry.Retired)
        {
            Count(entry, bytesIn, bytesOut);
        }
    }

    /// <summary>The counter's owner is gone: count its last bytes, then never again.</summary>
    public void Retire(string serviceName, string vipName, object counter, long bytesIn, long bytesOut)
    {
        lock (_gate)
        {
            var entry = EntryOf(serviceName, vipName, counter);
            if (!entry.Retired)
            {
                Count(entry, bytesIn, bytesOut);
                entry.Retired = true;
                entry.Pass = _pass;
            }
        }
    }

    private Entry EntryOf(string serviceName, string vipName, object counter)
    {
        if (!_entries.TryGetValue(counter, out var entry))
        {
            // The names it had when first seen: a counter always belongs to the VIP it was created for.
            _entries[counter] = entry = new Entry(serviceName, vipName);
        }

        return entry;
    }

    private void Count(Entry entry, long bytesIn, long bytesOut)
    {
        if (!_totals.TryGetValue((entry.Service, entry.Vip), out var total))
        {
            _totals[(entry.Service, entry.Vip)] = total = new Total();
        }

        total.In += Math.Max(0, bytesIn - entry.In);
        total.Out += Math.Max(0, bytesOut - entry.Out);
        entry.In = Math.Max(entry.In, bytesIn);
        entry.Out = Math.Max(entry.Out, bytesOut);
    }

    private sealed class Entry(string service, string vip)
    {
        public string Service { get; } = service;

        public string Vip { get; } = vip;

        public long In { get; set; }

        public long Out { get; set; }

        public bool Retired { get; set; }

        public long Pass { get; set; }
    }

    private sealed class Total
    {
        public long In { get; set; }

        public long Out { get; set; }
    }
}
