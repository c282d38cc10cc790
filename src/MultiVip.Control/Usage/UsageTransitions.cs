using MultiVip.Control.State;
using MultiVip.Model.ReservedIps;
using MultiVip.Model.Services;

namespace MultiVip.Control.Usage;

/// <summary>
/// Derives usage from state: what is billable in a state (<see cref="Holdings(WorldState)"/>) and
/// what a change begins and ends (<see cref="Between"/>). Pure: the commit path calls it with the
/// state before and after each change, so every change that gives or takes an address is recorded
/// with that change, whichever command made it.
/// </summary>
public static class UsageTransitions
{
    /// <summary>Everything billable in the state: each extra VIP with an address, each reserved IP.</summary>
    public static IReadOnlyList<UsageHolding> Holdings(WorldState world) =>
        [.. world.Services.Values.SelectMany(Holdings), .. world.ReservedIps.Values.SelectMany(Holdings)];

    /// <summary>The extra VIPs of the service that hold an address. The default VIP always has one and is not billed.</summary>
    public static IEnumerable<UsageHolding> Holdings(CloudService? service)
    {
        foreach (var vip in service?.Deployment?.VirtualIps ?? [])
        {
            if (!vip.IsDnsProgrammed && vip.Address is { Length: > 0 } address)
            {
                yield return new UsageHolding(UsageMeter.VirtualIp, service!.Name, vip.Name, address);
            }
        }
    }

    public static IEnumerable<UsageHolding> Holdings(ReservedIp? reserved)
    {
        if (reserved is not null)
        {
            yield return new UsageHolding(UsageMeter.ReservedIp, reserved.ServiceName, reserved.Name, reserved.Address, reserved.VirtualIpName);
        }
    }

    /// <summary>
    /// What a change of the named services and reserved IPs begins and ends. A holding that changes
    /// (a new address, another association) ends and a new one begins at the same instant.
    /// </summary>
    public static IReadOnlyList<UsageTransition> Between(
        WorldState before, WorldState after, IEnumerable<string> services, IEnumerable<string> reservedIps, DateTimeOffset at, Guid? operationId)
    {
        var transitions = new List<UsageTransition>();
        foreach (var name in services)
        {
            Diff(Holdings(before.Services.GetValueOrDefault(name)), Holdings(after.Services.GetValueOrDefault(name)), at, operationId, transitions);
        }

        foreach (var name in reservedIps)
        {
            Diff(Holdings(before.ReservedIps.GetValueOrDefault(name)), Holdings(after.ReservedIps.GetValueOrDefault(name)), at, operationId, transitions);
        }

        return transitions;
    }

    /// <summary>Ends for what <paramref name="before"/> holds and <paramref name="after"/> does not, then starts for the reverse.</summary>
    public static void Diff(IEnumerable<UsageHolding> before, IEnumerable<UsageHolding> after, DateTimeOffset at, Guid? operationId, List<UsageTransition> into)
    {
        // Sets, not scans: start-up reconciles every holding of every service at once.
        var old = before.ToList();
        var now = after.ToList();
        var oldSet = new HashSet<UsageHolding>(old, SameHolding.Instance);
        var nowSet = new HashSet<UsageHolding>(now, SameHolding.Instance);
        foreach (var held in old)
        {
            if (!nowSet.Contains(held))
            {
                into.Add(new UsageTransition(false, held, at, operationId));
            }
        }

        foreach (var held in now)
        {
            if (!oldSet.Contains(held))
            {
                into.Add(new UsageTransition(true, held, at, operationId));
            }
        }
    }

    /// <summary>Equality of <see cref="UsageHolding.SameHolding"/>: names ignore case, addresses do not.</summary>
    private sealed class SameHolding : IEqualityComparer<UsageHolding>
    {
        public static readonly SameHolding Instance = new();

        public bool Equals(UsageHolding? x, UsageHolding? y) => x is not null && y is not null && x.SameHolding(y);

        public int GetHashCode(UsageHolding obj) => HashCode.Combine(
            obj.Meter,
            Names.Comparer.GetHashCode(obj.Name),
            Names.Comparer.GetHashCode(obj.ServiceName ?? ""),
            obj.Address,
            Names.Comparer.GetHashCode(obj.VirtualIpName ?? ""));
    }
}
