using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Health;
using MultiVip.DataPlane.Routing;
using MultiVip.DataPlane.Sockets;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Tcp;

/// <summary>
/// The path of one accepted connection, as named steps: admit → ACL → choose backends → connect
/// with retries (the PROXY header first on the new connection) → forward. Each step that can refuse counts and logs its own refusal
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

        // What the access log says of this connection; nothing is measured when it is off.
        var trace = _connectionLog is null ? null : new ConnectionTrace(_timeProvider);
        var settingUp = true;
        try
        {
            remote = client.PrepareClient();

            if (!TryAdmit(remote, ref admission))
            {
                trace?.End(Logging.Termination.OverLimit);
                client.Abort();
                return;
            }

            // Read once: every decision for this connection uses the same configuration.
            var route = _routing.Current;
            if (trace is not null)
            {
                trace.Route = route;
            }

            if (!PassesAcl(route, remote))
            {
                trace?.End(Logging.Termination.DeniedByAcl);
                client.Abort();
                return;
            }

            var candidates = ChooseBackends(route, remote);
            trace?.Chosen();
            if (candidates.Count == 0)
            {
                trace?.End(Logging.Termination.NoBackend);
                client.Abort();
                return;
            }

            var attempt = await ConnectWithRetriesAsync(route, candidates, remote, client, ProxyHeader(route.Spec, remote)).ConfigureAwait(false);
            backendSocket = attempt.Socket;
            trace?.Connected(attempt.Backend, attempt.Attempts);
            if (attempt.Backend is not { } backend || backendSocket is null)
            {
                trace?.End(attempt.TimedOut ? Logging.Termination.ConnectTimeout : Logging.Termination.ConnectFailed);
                client.Abort();
                return;
            }

            var connection = new ForwardedConnection(client, backendSocket, backend, remote, _timeProvider);
            backendSocket = null;
            if (trace is not null)
            {
                trace.Connection = connection;
            }

            settingUp = false;
            await ForwardAsync(connection, backend).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            trace?.End(Logging.Termination.InternalError);
            Log.ConnectionSetupFailed(_logger, Key, remote, ex);
            if (backendSocket is not null)
            {
                backendSocket.Abort();
            }

            client.Abort();
        }
        finally
        {
            if (settingUp)
            {
                SetupEnded();
            }

            Release(admission);
            if (trace is not null && remote is not null)
            {
                _connectionLog!.Record(trace.ToRecord(remote, Key));
            }
        }
    }

    /// <summary>
    /// Timestamps and outcome of one connection for the access log: a few fields set at each step,
    /// turned into a <see cref="Logging.ConnectionRecord"/> once, when the connection is over.
    /// </summary>
    private sealed class ConnectionTrace(TimeProvider time)
    {
        private readonly long _accepted = time.GetTimestamp();
        private readonly DateTimeOffset _acceptedAt = time.GetUtcNow();
        private long _chosen;
        private long _connected;
        private string? _termination;

        public RouteTable? Route { get; set; }

        public BackendState? Backend { get; private set; }

        public int Attempts { get; private set; }

        public ForwardedConnection? Connection { get; set; }

        public void Chosen() => _chosen = time.GetTimestamp();

        public void Connected(BackendState? backend, int attempts)
        {
            _connected = time.GetTimestamp();
            Backend = backend;
            Attempts = attempts;
        }

        public void End(string termination) => _termination ??= termination;

        public Logging.ConnectionRecord ToRecord(IPEndPoint client, ListenerKey key)
        {
            var spec = Route?.Spec;
            var backend = Backend?.Spec;
            var end = time.GetTimestamp();
            return new Logging.ConnectionRecord
            {
                Client = client,
                AcceptedAt = _acceptedAt,
                Listener = key,
                ServiceName = spec?.ServiceName ?? "-",
                VirtualIpName = spec?.VirtualIpName ?? "-",
                SetOrEndpoint = spec?.LoadBalancedSetName ?? backend?.EndpointName ?? (spec is { Backends.Count: > 0 } ? spec.Backends[0].EndpointName : null),
                VmName = backend?.VmName,
                EndpointName = backend?.EndpointName,
                Backend = backend?.Target,
                WaitMs = _chosen == 0 ? time.GetElapsedTime(_accepted, end).TotalMilliseconds : time.GetElapsedTime(_accepted, _chosen).TotalMilliseconds,
                ConnectMs = _connected == 0 || Attempts == 0 ? -1 : time.GetElapsedTime(_chosen, _connected).TotalMilliseconds,
                TotalMs = time.GetElapsedTime(_accepted, end).TotalMilliseconds,
                BytesIn = Connection?.BytesIn ?? 0,
                BytesOut = Connection?.BytesOut ?? 0,
                Termination = _termination ?? Connection?.Termination ?? Logging.Termination.Normal,
                Retries = Math.Max(0, Attempts - 1),
            };
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
    /// <see cref="DataPlaneOptions.BackendConnectTimeout"/>; an attempt succeeds once the backend is connected
    /// and has been sent <paramref name="preamble"/> (the PROXY header), before any client byte. (null, null) when every one failed.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ConnectAttempt> ConnectWithRetriesAsync(RouteTable route, ArraySegment<int> candidates, IPEndPoint remote, ConnectionSocket client, ReadOnlyMemory<byte> preamble)
    {
        var timedOut = false;
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
                    candidate.Spec.Target, client, preamble, _options.BackendConnectTimeout, _timeProvider, _abandoned.Token).ConfigureAwait(false);
                return new ConnectAttempt(candidate, socket, attempt + 1, TimedOut: false);
            }
            catch (Exception ex) when (ex is SocketException or TimeoutException)
            {
                timedOut = ex is TimeoutException;
                Interlocked.Increment(ref Counters.ConnectFailures);
                Interlocked.Increment(ref candidate.Counters.ConnectFailures);
                Log.BackendConnectFailed(_logger, Key, attempt + 1, candidate.Spec.Target, ex);
            }
        }

        Interlocked.Increment(ref Counters.ConnectExhausted);
        Log.BackendConnectExhausted(_logger, Key, remote, candidates.Count);
        return new ConnectAttempt(null, null, candidates.Count, timedOut);
    }

    /// <summary>The backend a connect reached (null when every candidate failed), after how many attempts, and whether the last one timed out.</summary>
    private readonly record struct ConnectAttempt(BackendState? Backend, ConnectionSocket? Socket, int Attempts, bool TimedOut);

    /// <summary>The PROXY protocol header of this connection when the endpoint asks for one (empty when not): the
    /// first bytes its backend connection sends, built once for every connect attempt.</summary>
    private ReadOnlyMemory<byte> ProxyHeader(ListenerSpec spec, IPEndPoint remote) =>
        spec.ProxyProtocol == ProxyProtocolVersion.None ? ReadOnlyMemory<byte>.Empty : ProxyProtocolHeader.Build(spec.ProxyProtocol, remote, _localEndPoint);

    /// <summary>
    /// Step 5, forward: the connection is registered with the listener and its backend (so drains and
    /// the idle sweep see it) for as long as bytes move.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ForwardAsync(ForwardedConnection connection, BackendState backend)
    {
        // One table per connection: the listener's. A removed backend's drain picks its own out of it.
        _connections[connection.Id] = connection;
        backend.Attach();

        // Full fence: the drain's snapshot, taken after the setup count below reaches 0, holds this connection.
        Interlocked.Increment(ref Counters.Forwarded);
        SetupEnded();
        try
        {
            // A stopping listener drains this connection like the others (the drain waited for its
            // setup). Reset only when the drain already gave up, or its backend was retired while
            // we were connecting (that drain took its snapshot).
            if (_abandoned.IsCancellationRequested || backend.IsRetired)
            {
                connection.Reset();
            }

            await _forwarder.ForwardAsync(connection).ConfigureAwait(false);
        }
        finally
        {
            _connections.TryRemove(connection.Id, out _);
            backend.Detach();
        }
    }

    /// <summary>What a connection holds against the caps, so the end of its path gives back exactly that.</summary>
    private struct Admission
    {
        public bool CountedInListener;
        public bool HoldsTotalSlot;
    }
}
