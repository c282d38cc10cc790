using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Health;
using MultiVip.DataPlane.Routing;
using MultiVip.DataPlane.Sockets;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Tcp;

/// <summary>
/// The path of one accepted connection, as named steps: admit → ACL → choose backends → connect
/// with retries → PROXY header → forward. Each step that can refuse counts and logs its own refusal
/// and returns false or null; the caller then resets the client. Any exception on the way is a
/// failed setup: both sockets are reset, never a clean FIN.
/// </summary>
internal sealed partial class VipListener
{
    private async Task HandleConnectionAsync(ConnectionSocket client)
    {
        IPEndPoint? remote = null;
        ConnectionSocket? backendSocket = null;
        var admission = default(Admission);
        try
        {
            remote = client.PrepareClient();

            if (!TryAdmit(remote, ref admission))
            {
                client.Abort();
                return;
            }

            // Read once: every decision for this connection uses the same configuration.
            var route = _routing.Current;
            if (!PassesAcl(route, remote))
            {
                client.Abort();
                return;
            }

            var candidates = ChooseBackends(route, remote);
            if (candidates.Count == 0)
            {
                client.Abort();
                return;
            }

            BackendState? backend;
            (backend, backendSocket) = await ConnectWithRetriesAsync(route, candidates, remote, client).ConfigureAwait(false);
            if (backend is null || backendSocket is null)
            {
                client.Abort();
                return;
            }

            await SendProxyHeaderAsync(route.Spec, backendSocket, remote).ConfigureAwait(false);

            var connection = new ForwardedConnection(client, backendSocket, backend, remote, _timeProvider);
            backendSocket = null;
            await ForwardAsync(connection, backend).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.ConnectionSetupFailed(_logger, Key, remote, ex);
            if (backendSocket is not null)
            {
                backendSocket.Abort();
            }

            client.Abort();
        }
        finally
        {
            Release(admission);
        }
    }

    /// <summary>
    /// Step 1, admit: a slot of this listener's cap, then one of the data plane's total. The total is
    /// taken before the backend socket exists, so the connection's second descriptor is never opened
    /// over the cap. What was taken is recorded in <paramref name="admission"/> even on refusal, so
    /// <see cref="Release"/> gives back exactly that.
    /// </summary>
    private bool TryAdmit(IPEndPoint remote, ref Admission admission)
    {
        admission.CountedInListener = true;
        if (Interlocked.Increment(ref _active) > _options.MaxConnectionsPerListener)
        {
            Interlocked.Increment(ref Counters.RefusedOverLimit);
            _overListenerLimitLog.Record(remote);
            return false;
        }

        admission.HoldsTotalSlot = _connectionSlots.TryAcquire();
        if (!admission.HoldsTotalSlot)
        {
            Interlocked.Increment(ref Counters.RefusedOverLimit);
            _overTotalLimitLog.Record(remote);
            return false;
        }

        return true;
    }

    private void Release(Admission admission)
    {
        if (admission.CountedInListener)
        {
            Interlocked.Decrement(ref _active);
        }

        if (admission.HoldsTotalSlot)
        {
            _connectionSlots.Release();
        }
    }

    /// <summary>Step 2, the endpoint's ACL (compiled in the route table).</summary>
    private bool PassesAcl(RouteTable route, IPEndPoint remote)
    {
        if (route.Acl.IsAllowed(remote.Address))
        {
            return true;
        }

        Interlocked.Increment(ref Counters.DeniedByAcl);
        Log.ConnectionDeniedByAcl(_logger, Key, remote);
        return false;
    }

    /// <summary>
    /// Step 3, choose backends: the flow's preference order over the members in rotation (Maglev),
    /// as many as <see cref="DataPlaneOptions.MaxConnectAttempts"/> allows. Empty when no member is in rotation.
    /// </summary>
    private ArraySegment<int> ChooseBackends(RouteTable route, IPEndPoint remote)
    {
        var candidates = new int[_options.MaxConnectAttempts];
        var count = route.FillCandidates(remote, _localEndPoint, candidates);
        if (count == 0)
        {
            Interlocked.Increment(ref Counters.NoHealthyBackend);
            Log.NoHealthyBackend(_logger, Key, remote);
        }

        return new ArraySegment<int>(candidates, 0, count);
    }

    /// <summary>
    /// Step 4, connect: each candidate in turn, each attempt bounded by
    /// <see cref="DataPlaneOptions.BackendConnectTimeout"/>. (null, null) when every one failed.
    /// </summary>
    private async Task<(BackendState? Backend, ConnectionSocket? Socket)> ConnectWithRetriesAsync(RouteTable route, ArraySegment<int> candidates, IPEndPoint remote, ConnectionSocket client)
    {
        for (var attempt = 0; attempt < candidates.Count; attempt++)
        {
            var candidate = route.Members[candidates[attempt]];
            if (attempt > 0)
            {
                Interlocked.Increment(ref Counters.ConnectRetries);
                Interlocked.Increment(ref candidate.Counters.ConnectRetries);
            }

            try
            {
                var socket = await _engine.ConnectAsync(
                    candidate.Spec.Target, client, _options.BackendConnectTimeout, _timeProvider, _stopping.Token).ConfigureAwait(false);
                return (candidate, socket);
            }
            catch (Exception ex) when (ex is SocketException or TimeoutException)
            {
                Interlocked.Increment(ref Counters.ConnectFailures);
                Interlocked.Increment(ref candidate.Counters.ConnectFailures);
                Log.BackendConnectFailed(_logger, Key, attempt + 1, candidate.Spec.Target, ex);
            }
        }

        Interlocked.Increment(ref Counters.ConnectExhausted);
        Log.BackendConnectExhausted(_logger, Key, remote, candidates.Count);
        return (null, null);
    }

    /// <summary>Step 5, the PROXY protocol header, when the endpoint asks for one: before any client byte.</summary>
    private async Task SendProxyHeaderAsync(ListenerSpec spec, ConnectionSocket backendSocket, IPEndPoint remote)
    {
        if (spec.ProxyProtocol == ProxyProtocolVersion.None)
        {
            return;
        }

        var header = ProxyProtocolHeader.Build(spec.ProxyProtocol, remote, _localEndPoint);
        await backendSocket.SendAsync(header).ConfigureAwait(false);
    }

    /// <summary>
    /// Step 6, forward: the connection is registered with the listener and its backend (so drains and
    /// the idle sweep see it) for as long as bytes move.
    /// </summary>
    private async Task ForwardAsync(ForwardedConnection connection, BackendState backend)
    {
        _connections[connection.Id] = connection;
        backend.Attach(connection);
        Interlocked.Increment(ref Counters.Forwarded);
        try
        {
            // Stopped or retired while we were connecting: the drain already took its snapshot.
            if (_stopping.IsCancellationRequested || backend.IsRetired)
            {
                connection.Reset();
            }

            await _forwarder.ForwardAsync(connection).ConfigureAwait(false);
        }
        finally
        {
            _connections.TryRemove(connection.Id, out _);
            backend.Detach(connection);
        }
    }

    /// <summary>What a connection holds against the caps, so the end of its path gives back exactly that.</summary>
    private struct Admission
    {
        public bool CountedInListener;
        public bool HoldsTotalSlot;
    }
}
