using System.Net;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Health;
using MultiVip.Model.Networking;

namespace MultiVip.DataPlane.Routing;

/// <summary>
/// Immutable routing snapshot of one listener: its spec, compiled ACL, every backend and the Maglev
/// table over the members in rotation. Rebuilt on reconfiguration or a health change and published
/// with one reference write, so the accept path reads it without locks.
/// </summary>
internal sealed class RouteTable
{
    private readonly MaglevTable? _maglev;

    public RouteTable(ListenerSpec spec, AclEvaluator acl, BackendState[] backends)
    {
        Spec = spec;
        Acl = acl;
        Backends = backends;

        var inRotation = new List<BackendState>(backends.Length);
        foreach (var backend in backends)
        {
            if (backend.InRotation)
            {
                inRotation.Add(backend);
            }
        }

        Members = [.. inRotation];
        if (Members.Length > 1)
        {
            var names = new string[Members.Length];
            for (var i = 0; i < names.Length; i++)
            {
                names[i] = Members[i].Name;
            }

            _maglev = new MaglevTable(names);
        }
    }

    public ListenerSpec Spec { get; }

    /// <summary>The Maglev table over <see cref="Members"/>; null with fewer than two members.</summary>
    public MaglevTable? Maglev => _maglev;

    public AclEvaluator Acl { get; }

    /// <summary>All backends, in rotation or not.</summary>
    public BackendState[] Backends { get; }

    /// <summary>Backends that receive new connections.</summary>
    public BackendState[] Members { get; }

    /// <summary>Writes the flow's member preference order into <paramref name="destination"/>; returns the count.</summary>
    public int FillCandidates(IPEndPoint source, IPEndPoint destinationEndPoint, Span<int> destination)
    {
        if (Members.Length == 0 || destination.IsEmpty)
        {
            return 0;
        }

        if (_maglev is null)
        {
            destination[0] = 0;
            return 1;
        }

        // The first choice is the kernel plane's (jhash slot), so a listener moved between planes keeps
        // its flows; only the fallback order (user space retries, the kernel does not) uses the stable hash.
        var slot = KernelFlowHash.Slot(Spec.Distribution, source, destinationEndPoint, Spec.Key.Protocol, _maglev.Size);
        var hash = StableHash.HashFlow(Spec.Distribution, source, destinationEndPoint, Spec.Key.Protocol);
        return _maglev.FillPreference(slot, hash, destination);
    }
}
