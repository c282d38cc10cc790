using System.Net;
using System.Net.Sockets;
using MultiVip.DataPlane.Contract;

namespace MultiVip.Network.Announcing;

/// <summary>
/// Today's behaviour (<c>--vip-interface</c> not given): MultiVip adds and announces nothing; the
/// addresses must already be this host's (loopback pools are: all of 127.0.0.0/8 is local). It still
/// reports, per address, whether the host holds it, by trying a bind without IP_FREEBIND — the same
/// test the kernel applies to a listener.
/// </summary>
internal sealed class NoAddressAnnouncer : IAddressAnnouncer
{
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private Dictionary<IPAddress, AddressStatus> _status = [];

    public NoAddressAnnouncer(TimeProvider time)
    {
        _time = time;
    }

    public string Name => "none";

    public bool ManagesAddresses => false;

    public Task HoldAsync(IReadOnlySet<IPAddress> addresses, bool verify, CancellationToken cancellationToken)
    {
        Dictionary<IPAddress, AddressStatus> previous;
        lock (_gate)
        {
            previous = _status;
        }

        var next = new Dictionary<IPAddress, AddressStatus>(addresses.Count);
        var now = _time.GetUtcNow();
        foreach (var address in addresses)
        {
            if (!verify && previous.TryGetValue(address, out var known))
            {
                next[address] = known;
                continue;
            }

            var error = Probe(address);
            previous.TryGetValue(address, out var before);
            next[address] = error is null
                ? new AddressStatus(address, true, before is { Held: true } ? before.HeldSince : now, before?.LastError, before?.LastErrorAt)
                : new AddressStatus(address, false, null, error, now);
        }

        lock (_gate)
        {
            _status = next;
        }

        return Task.CompletedTask;
    }

    public AddressStatus? GetStatus(IPAddress address)
    {
        lock (_gate)
        {
            return _status.GetValueOrDefault(address);
        }
    }

    public IReadOnlyList<AddressStatus> GetStatus()
    {
        lock (_gate)
        {
            return [.. _status.Values];
        }
    }

    /// <summary>Null when the address is local to this host; otherwise what to do about it.</summary>
    internal static string? Probe(IPAddress address)
    {
        try
        {
            using var socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            socket.Bind(new IPEndPoint(address, 0));
            return null;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressNotAvailable)
        {
            return $"address {address} is not assigned to any interface of this host, and MultiVip adds none without --vip-interface. "
                + "Start the server with --vip-interface IFACE, or add the address yourself.";
        }
        catch (SocketException e)
        {
            return $"address {address} cannot be used: {e.SocketErrorCode} ({e.Message})";
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
