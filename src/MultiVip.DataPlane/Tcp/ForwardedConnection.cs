using System.Net;
using MultiVip.DataPlane.Health;

namespace MultiVip.DataPlane.Tcp;

/// <summary>
/// One client connection and its backend connection. Tracks the last time a byte moved (a plain
/// timestamp the idle sweep compares, instead of a timer per read) and owns the teardown so that
/// exactly one of close/reset wins.
/// </summary>
internal sealed class ForwardedConnection
{
    private static long s_nextId;

    private readonly TimeProvider _timeProvider;
    private TaskCompletionSource? _completed;
    private long _lastActivity;
    private int _closed;
    private int _done;
    private int _directionsEnded;
    private string? _termination;

    public ForwardedConnection(ConnectionSocket client, ConnectionSocket backendSocket, BackendState backend, IPEndPoint remote, TimeProvider timeProvider)
    {
        Id = Interlocked.Increment(ref s_nextId);
        Client = client;
        BackendSocket = backendSocket;
        Backend = backend;
        Remote = remote;
        _timeProvider = timeProvider;
        _lastActivity = timeProvider.GetTimestamp();
    }

    public long Id { get; }

    public ConnectionSocket Client { get; }

    public ConnectionSocket BackendSocket { get; }

    public BackendState Backend { get; }

    public IPEndPoint Remote { get; }

    /// <summary>Bytes read from the client; written only by the upstream copy loop, read once it ended (access log).</summary>
    public long BytesIn;

    /// <summary>Bytes read from the backend; written only by the downstream copy loop.</summary>
    public long BytesOut;

    /// <summary>How it ended (<see cref="Logging.Termination"/>): the first cause recorded wins; a normal close when none was.</summary>
    public string Termination => Volatile.Read(ref _termination) ?? Logging.Termination.Normal;

    /// <summary>Records why the connection is about to end, unless an earlier cause was recorded.</summary>
    public void EndedBy(string termination) => Interlocked.CompareExchange(ref _termination, termination, null);

    /// <summary>Completes when both sockets are closed, whichever way. Made only when asked for (a drain):
    /// a connection that ends on its own never allocates it.</summary>
    public Task Completion
    {
        get
        {
            var completed = Volatile.Read(ref _completed);
            if (completed is null)
            {
                var created = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                completed = Interlocked.CompareExchange(ref _completed, created, null) ?? created;
            }

            // Closed before the source existed: the closer found none to complete.
            if (Volatile.Read(ref _done) != 0)
            {
                completed.TrySetResult();
            }

            return completed.Task;
        }
    }

    private void Complete()
    {
        Interlocked.Exchange(ref _done, 1);
        Volatile.Read(ref _completed)?.TrySetResult();
    }

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>A direction saw its source's FIN; true when it is the second one (the connection is done).</summary>
    public bool EndDirection() => Interlocked.Increment(ref _directionsEnded) == 2;

    /// <summary>Called once per read; one timestamp read and one store, no allocation.</summary>
    public void Touch() => Volatile.Write(ref _lastActivity, _timeProvider.GetTimestamp());

    public TimeSpan IdleFor(long now) => _timeProvider.GetElapsedTime(Volatile.Read(ref _lastActivity), now);

    /// <summary>
    /// Both directions finished (or the idle timeout hit): FIN both peers and release the sockets.
    /// When the copy loops already passed both FINs on (<paramref name="finsExchanged"/>), the sockets
    /// are only closed: two shutdown() calls per connection saved on the new-connection path.
    /// </summary>
    /// <returns>True when this call closed them (false: an earlier close or reset did).</returns>
    public bool Close(bool finsExchanged = false)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return false;
        }

        if (!finsExchanged)
        {
            Client.Shutdown();
            BackendSocket.Shutdown();
        }

        Client.Close();
        BackendSocket.Close();
        Complete();
        return true;
    }

    /// <summary>One side reset, a write failed, or a drain ran out of time: RST both peers.</summary>
    public void Reset()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        Client.Abort();
        BackendSocket.Abort();
        Complete();
    }
}
