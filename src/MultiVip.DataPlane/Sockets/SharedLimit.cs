namespace MultiVip.DataPlane.Sockets;

/// <summary>
/// A cap shared by every listener of one kind: TCP connections or UDP sessions of the whole data
/// plane. Per-listener caps stop one busy VIP from starving the others; this one keeps the data plane
/// inside its share of the process's file descriptors, so the API, DNS and the database always find
/// the descriptors held for them (see the server's descriptor budget).
/// </summary>
internal sealed class SharedLimit
{
    private int _used;

    public SharedLimit(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(capacity, 0);
        Capacity = capacity;
    }

    public int Capacity { get; }

    public int Used => Volatile.Read(ref _used);

    /// <summary>Takes a slot, or returns false (and takes nothing) when all are in use.</summary>
    public bool TryAcquire()
    {
        if (Interlocked.Increment(ref _used) <= Capacity)
        {
            return true;
        }

        Interlocked.Decrement(ref _used);
        return false;
    }

    public void Release() => Interlocked.Decrement(ref _used);
}
