using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using MultiVip.Contracts;
using MultiVip.Control;
using MultiVip.Control.Nodes;
using MultiVip.Control.State;
using MultiVip.Control.Usage;
using MultiVip.DataPlane.Contract;
using MultiVip.Model.Errors;
using MultiVip.Model.Networking;
using MultiVip.Server.Api;
using MultiVip.Server.Dns;
using MultiVip.Server.Hosting.Takeover;
using MultiVip.Server.Security;
using MultiVip.Server.Usage;

namespace MultiVip.Server.Hosting;

/// <summary>
/// The daemon: opens the data dir, loads state, brings the data plane up to it, then opens the API.
/// Used by `multivip serve` and by tests, which start it in-process on port 0.
/// </summary>
public static partial class ServerHost
{
    public static async Task<RunningServer> StartAsync(ServerOptions options, CancellationToken cancellationToken = default)
    {
        var (listen, useTls) = ParseApi(options);
        var pool = AddressPool.Parse(options.VipPools);
        var (dnsEndPoint, dnsZone) = ParseDns(options);
        var authentication = AuthenticationSetup.Prepare(options);
        var descriptors = PlanDescriptors(options, dns: dnsEndPoint is not null);
        var nodeName = options.NodeName ?? NodeName.Default();
        if (NodeName.Problem(nodeName) is { } badName)
        {
            throw MultiVipException.BadRequest(options.NodeName is null ? $"The host name is not usable as the node name: {badName}" : badName);
        }

        if (options.NodeDownAfter < MinNodeDownAfter)
        {
            throw MultiVipException.BadRequest($"--node-down-after must be at least {MinNodeDownAfter.TotalSeconds:0} seconds: nodes write their heartbeat every second, so less would call a working node down.");
        }

        var postgres = options.Store is { } database ? ParseStore(database) : null;

        // A server running on this data dir that offers a takeover hands over its listening sockets,
        // stops writing and unlocks the data dir before Open below takes the lock (docs/operations.md,
        // "Restart and upgrade without dropping connections"). Without an offer, the lock refuses us.
        var noTakeover = "this server was started with --no-takeover";
        var predecessor = options.Takeover ? Predecessor.TryConnect(Path.GetFullPath(options.DataDir), out noTakeover) : null;
        var inherited = predecessor?.Sockets ?? InheritedSockets.None;
        DataDirectory dataDir;
        try
        {
            dataDir = DataDirectory.Open(options.DataDir, noTakeover, embeddedDatabase: postgres is null);
        }
        catch
        {
            predecessor?.Dispose();
            throw;
        }

        IStateStore? store = null;
        IHostedDataPlane? dataPlane = null;
        IAddressAnnouncer? announcer = null;
        MultiVip.Network.Announcing.AnnouncingDataPlane? announced = null;
        ControlPlane? control = null;
        ServiceDnsServer? dns = null;
        UsageRecorder? usage = null;
        WebApplication? app = null;
        NodeHeartbeat? heartbeat = null;
        ILoggerFactory? preLoggers = null;
        MultiVip.DataPlane.Logging.AccessLogWriter? accessLog = null;
        try
        {
            // The store opens (in a new data dir: is created) before the token is written, so a
            // token beside a missing or empty database always means lost state (DataDirectory.Open).
            if (postgres is null)
            {
                store = await SqliteStateStore.OpenAsync(dataDir.Path, cancellationToken);
            }

            var logLevel = new LogLevelSetting(options.LogLevel, dataDir.Path);
            var token = options.Token ?? dataDir.LoadOrCreateToken();
            if (options.Token is not null)
            {
                dataDir.WriteToken(options.Token);
            }

            var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = dataDir.Path });
            builder.Services.AddSingleton(inherited);
            builder.AddApiConnectionLimits(descriptors.ApiConnections, TimeProvider.System);
            builder.Logging.ClearProviders();
            builder.Logging.AddMultiVipConsole(options.LogFormat, logLevel);

            builder.WebHost.ConfigureKestrel(kestrel =>
            {
                kestrel.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
                kestrel.Listen(listen, listenOptions =>
                {
                    if (useTls)
                    {
                        listenOptions.UseHttps(X509Certificate2.CreateFromPemFile(options.TlsCertificate!, options.TlsKey));
                    }
                });
            });
            if (useTls)
            {
                builder.WebHost.UseKestrelHttpsConfiguration();
            }

            builder.Services.ConfigureHttpJsonOptions(o => ApiJson.Configure(o.SerializerOptions));
            builder.Services.AddMultiVipOpenApi();
            builder.Services.AddProblemDetails();

            // State, data plane and DNS come up before the API opens, so no request ever sees a
            // half-started server; they log through their own factory because the app's does not
            // exist until the API is built.
            var time = TimeProvider.System;
            preLoggers = LoggerFactory.Create(l => l.AddMultiVipConsole(options.LogFormat, logLevel));
            dataDir.TightenModes(preLoggers.CreateLogger<DataDirectory>());
            accessLog = AccessLogs.Open(options, preLoggers);
            var reload = new SettingsReload(accessLog is null ? [logLevel] : [logLevel, new AccessLogs.Reopen(accessLog)], preLoggers.CreateLogger<SettingsReload>());
            if (logLevel.FileExists)
            {
                // The file overrides --log-level from the start; say so, once.
                reload.Reload("start");
            }

            if (postgres is not null)
            {
                store = await PostgresStateStore.OpenAsync(postgres, options.Time, preLoggers, cancellationToken);
                if (predecessor is null)
                {
                    // A takeover's predecessor is this node itself, beating under its name until it hands over.
                    await NodeNameGuard.EnsureFreeAsync(((PostgresStateStore)store).Nodes, nodeName, options.NodeDownAfter, NodeHeartbeat.DefaultInterval, options.Time, cancellationToken);
                }

                await VipPoolGuard.EnsureAgreesAsync(((PostgresStateStore)store).Nodes, nodeName, pool, options.NodeDownAfter, options.Time, cancellationToken);
            }

            LogDescriptorPlan(descriptors, preLoggers);
            // Only a shared registry knows the other nodes; on SQLite no --vrrp-peer still means multicast.
            var registryPeers = postgres is null ? null : new NodePeers(nodeName, options.Time);
            announcer = await MultiVip.Network.Announcing.AddressAnnouncers.CreateAsync(FailoverSetup.SettingsFor(options with { NodeName = nodeName }, dataDir.Path, registryPeers), time, preLoggers, cancellationToken);
            dataPlane = DefaultDataPlane(options, descriptors, preLoggers, time, freeBind: announcer.ManagesAddresses, inherited, accessLog);
            announced = MultiVip.Network.Announcing.AddressAnnouncers.Wrap(dataPlane, dataPlane, announcer, time, preLoggers);
            control = await ControlPlane.StartAsync(
                store!,
                new ControlPlaneOptions { Pool = pool, Limits = options.Limits, NodeName = nodeName, NodeDownAfter = options.NodeDownAfter },
                announced,
                options.Time,
                preLoggers,
                cancellationToken);
            var current = control;
            usage = new UsageRecorder(
                new UsageLedger(store is PostgresStateStore shared ? shared.Usage : new SqliteUsageStore(((SqliteStateStore)store!).Readers), () => current.Current, options.Time),
                dataPlane,
                options.Time,
                preLoggers.CreateLogger<UsageRecorder>());
            await usage.StartAsync(cancellationToken);
            if (dnsEndPoint is not null)
            {
                var world = control;
                dns = ServiceDnsServer.Start(dnsEndPoint, dnsZone, () => world.Current, preLoggers.CreateLogger("MultiVip.Dns"), inherited);
            }

            builder.Services.AddSingleton(control);
            heartbeat = new NodeHeartbeat(control, store is PostgresStateStore sharedNodes ? sharedNodes.Nodes : new SqliteNodeRegistry(((SqliteStateStore)store!).Readers), options.Time, preLoggers.CreateLogger<NodeHeartbeat>())
            {
                Announcer = announcer,
            };
            registryPeers?.Attach(control.Nodes);
            builder.Services.AddSingleton(heartbeat);
            builder.Services.AddSingleton<IStateStore>(store!);
            builder.Services.AddSingleton(usage);
            builder.Services.AddSingleton<IDataPlane>(dataPlane);
            builder.Services.AddSingleton(new ServiceDnsZone(dnsZone.ToString(false)));
            builder.Services.AddSingleton(announcer);
            builder.Services.AddSingleton(new AccessLogs.Status(accessLog));
            builder.Services.AddMultiVipObservability(token, control, dataPlane, options.Time);
            builder.Services.AddMultiVipAuthentication(token, authentication);

            app = builder.Build();
            app.UseMultiVipRequestMetrics();
            var writeGate = new StateWriteGate();
            app.UseApiErrors();
            app.UseRequestBodyLimit(options.MaxRequestBodyBytes);
            app.Use(writeGate.InvokeAsync);
            app.UseMultiVipAuthentication(token);
            app.MapOpenApi();
            app.MapMultiVipApi();
            app.MapMultiVipObservability();

            await app.StartAsync(cancellationToken);
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            var api = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
            // The heartbeat's first write (a database round trip) comes before the endpoint file:
            // a client or a SIGHUP that sees the file finds the server started, not still starting.
            await heartbeat.StartAsync(api.ToString().TrimEnd('/'), cancellationToken);
            registryPeers?.Announced();
            var server = new RunningServer(app, control, dataPlane, store, dataDir, api, token, preLoggers, dns, usage)
            {
                SettingsReload = reload,
                Announced = announced,
                WriteGate = writeGate,
                DrainTimeout = options.DrainTimeout,
                Heartbeat = heartbeat,
                AccessLog = accessLog,
            };
            var takeoverLog = preLoggers.CreateLogger("MultiVip.Server.Hosting.Takeover");

            // The offer exists before anything says this server serves (the endpoint file, READY=1):
            // a `multivip serve` started the moment this one is up finds it instead of being refused.
            // It answers only once the start below is complete (OpenTakeover).
            if (options.Takeover)
            {
                server.OfferTakeover(takeoverLog);
            }

            dataDir.WriteEndpoint(api.ToString().TrimEnd('/'));
            ServiceManagerNotifications.ServerReady(app.Lifetime, api, options.DrainTimeout, predecessor?.Pid, () => server.HandedOverTo is not null);
            if (predecessor is not null)
            {
                // Only now, with every socket accepted on here, does the old server stop accepting.
                var answer = predecessor.Complete();
                TakeoverLog.TookOver(takeoverLog, predecessor.Pid, predecessor.Received, predecessor.Received - inherited.Count, answer);
                foreach (var left in inherited.Unclaimed())
                {
                    TakeoverLog.NotAdopted(takeoverLog, left.Kind, left.EndPoint);
                }

                predecessor.Adopted();
                inherited.Dispose();
                predecessor.Dispose();
                predecessor = null;
            }

            // Shared addresses (VRRP, BGP) go to a peer the moment a stop is asked for, not after the API
            // stopped; a server that handed its sockets to a successor keeps them for it.
            app.Lifetime.ApplicationStopping.Register(() =>
            {
                if (server.HandedOverTo is null)
                {
                    _ = server.ReleaseAsync();
                }
            });

            server.OpenTakeover();
            return server;
        }
        catch
        {
            // The old server sees the takeover connection close and carries on (docs/operations.md).
            predecessor?.Dispose();
            if (app is not null)
            {
                await app.DisposeAsync();
            }

            dns?.Dispose();
            if (heartbeat is not null)
            {
                await heartbeat.DisposeAsync();
            }

            if (control is not null)
            {
                await control.DisposeAsync();
            }

            if (announced is not null)
            {
                await announced.DisposeAsync();
            }

            if (dataPlane is not null)
            {
                await dataPlane.DisposeAsync();
            }

            if (usage is not null)
            {
                await usage.DisposeAsync();
            }

            if (announcer is not null)
            {
                await announcer.DisposeAsync();
            }

            if (store is not null)
            {
                await store.DisposeAsync();
            }

            if (accessLog is not null)
            {
                await accessLog.DisposeAsync();
            }

            dataDir.Dispose();
            preLoggers?.Dispose();
            throw;
        }
    }

    private static partial class TakeoverLog
    {
        [LoggerMessage(EventId = 5520, EventName = "TookOver", Level = LogLevel.Information,
            Message = "Took over from the server with PID {Pid}: adopted {Adopted} of its {Received} listening socket(s); it answered '{Answer}' and exits once its connections drain")]
        public static partial void TookOver(ILogger logger, int pid, int received, int adopted, string answer);

        [LoggerMessage(EventId = 5521, EventName = "TakeoverSocketNotAdopted", Level = LogLevel.Information,
            Message = "The previous server's {Kind} socket on {EndPoint} is not used by this configuration; it closes with the previous server")]
        public static partial void NotAdopted(ILogger logger, ListeningSocketKind kind, IPEndPoint endPoint);
    }

    /// <summary>Three missed heartbeats at least, so one slow write does not declare a node down.</summary>
    public static readonly TimeSpan MinNodeDownAfter = TimeSpan.FromSeconds(3);

    private static (IPEndPoint? EndPoint, ARSoft.Tools.Net.DomainName Zone) ParseDns(ServerOptions options)
    {
        if (!ARSoft.Tools.Net.DomainName.TryParse(options.DnsZone, out var zone) || zone is null || zone.LabelCount == 0)
        {
            throw MultiVipException.BadRequest($"'{options.DnsZone}' is not a DNS zone. Use a domain name like {ServerOptions.DefaultDnsZone} (--dns-zone).");
        }

        // The SOA names hostmaster.<zone>: it must fit the 255-octet limit too (RFC 1035 section 2.3.4).
        if (zone.Labels.Sum(label => label.Length + 1) + 1 > 255 - "hostmaster.".Length)
        {
            throw MultiVipException.BadRequest($"The DNS zone '{options.DnsZone}' is too long: the names under it (hostmaster.<zone>) must fit in 255 octets, so a zone may have at most 242 characters. Choose a shorter --dns-zone.");
        }

        if (options.Dns is null || options.Dns.Equals("off", StringComparison.OrdinalIgnoreCase))
        {
            return (null, zone);
        }

        if (!IPEndPoint.TryParse(options.Dns, out var endPoint) || !options.Dns.Contains(':', StringComparison.Ordinal))
        {
            throw MultiVipException.BadRequest($"'{options.Dns}' is not a DNS listen address. Use ip:port like {ServerOptions.DefaultDns}, or off (--dns).");
        }

        return (endPoint, zone);
    }

    /// <summary>--store: a PostgreSQL URL or connection string; what is wrong with it is said without its password.</summary>
    private static PostgresLocation ParseStore(string value)
    {
        try
        {
            return PostgresLocation.Parse(value);
        }
        catch (FormatException ex)
        {
            throw MultiVipException.BadRequest($"--store: {ex.Message}");
        }
    }

    private static (IPEndPoint Listen, bool UseTls) ParseApi(ServerOptions options)
    {
        if (!Uri.TryCreate(options.Api, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw MultiVipException.BadRequest($"'{options.Api}' is not an API address. Use a URL like http://127.0.0.1:7400.");
        }

        var host = uri.Host.Trim('[', ']');
        var ip = host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
            ? IPAddress.Loopback
            : IPAddress.TryParse(host, out var parsed)
                ? parsed
                : throw MultiVipException.BadRequest($"The API address must be an IP address (or localhost), not '{uri.Host}'.");
        var useTls = options.TlsCertificate is not null;
        if (useTls != (options.TlsKey is not null))
        {
            throw MultiVipException.BadRequest("Give both --tls-cert and --tls-key, or neither.");
        }

        if (uri.Scheme == Uri.UriSchemeHttps && !useTls)
        {
            throw MultiVipException.BadRequest("An https:// API address needs --tls-cert and --tls-key.");
        }

        if (!IPAddress.IsLoopback(ip) && !useTls && !options.Insecure)
        {
            throw MultiVipException.BadRequest(
                $"Refusing to serve the API on non-loopback address {ip} without TLS: the bearer token would cross the network in clear. Give --tls-cert and --tls-key, or --insecure if the network is trusted.");
        }

        return (new IPEndPoint(ip, uri.Port), useTls);
    }
}

/// <summary>A started server; dispose to stop it (API first, then the data plane).</summary>
public sealed class RunningServer : IAsyncDisposable, ITakeoverSource
{
    private readonly WebApplication _app;
    private readonly IHostedDataPlane _dataPlane;
    private readonly IStateStore _store;
    private readonly DataDirectory _dataDir;
    private readonly ILoggerFactory _loggers;
    private readonly ServiceDnsServer? _dns;
    private readonly UsageRecorder _usage;
    private readonly Lock _takeoverGate = new();
    private TakeoverOffer? _offer;
    private ILogger? _takeoverLog;
    private bool _stateReleased;
    private DataDirectory? _relocked;
    private int _handedOverTo;

    internal RunningServer(WebApplication app, ControlPlane control, IHostedDataPlane dataPlane, IStateStore store, DataDirectory dataDir, Uri api, string token, ILoggerFactory loggers, ServiceDnsServer? dns, UsageRecorder usage)
    {
        _usage = usage;
        _dns = dns;
        _app = app;
        Control = control;
        _dataPlane = dataPlane;
        _store = store;
        _dataDir = dataDir;
        Api = api;
        Token = token;
        _loggers = loggers;
    }

    public Uri Api { get; }

    public string Token { get; }

    public string DataDir => _dataDir.Path;

    /// <summary>Where the state lives, for the start banner: the SQLite file, or the PostgreSQL database without its password.</summary>
    public string StoreDescription => _store is PostgresStateStore shared
        ? $"PostgreSQL {shared.Location} (shared by every node on it)"
        : $"SQLite {System.IO.Path.Combine(DataDir, SqliteStateStore.FileName)}";

    public ControlPlane Control { get; }

    public IDataPlane DataPlane => _dataPlane;

    /// <summary>The announcer in front of the data plane (holds VIP addresses on the network).</summary>
    internal MultiVip.Network.Announcing.AnnouncingDataPlane Announced { get; init; } = null!;

    /// <summary>Whether this node holds each VIP address, and the last announcement error.</summary>
    public IAddressAnnouncer Announcer => Announced.Announcer;

    /// <summary>Where the DNS server answers (UDP and TCP), with the port actually bound; null when --dns off.</summary>
    public IPEndPoint? DnsEndPoint => _dns?.EndPoint;

    /// <summary>The zone the DNS server is authoritative for, without the trailing dot.</summary>
    public string? DnsZone => _dns?.Zone.ToString(false);

    /// <summary>
    /// Graceful stop of traffic (SIGTERM): listeners stop accepting at once, established connections
    /// run on until they end or the drain timeout passes. The API stays up meanwhile.
    /// </summary>
    public async Task DrainAsync()
    {
        // Shared addresses (VRRP, BGP) go to a peer first; after a takeover the successor keeps them.
        if (HandedOverTo is null)
        {
            await ReleaseAsync();
        }

        // Leaving the cluster first: no other node's operation waits for this one while it drains.
        await Heartbeat.StopAsync();
        await _dataPlane.DrainAndStopAsync(CancellationToken.None);

        // Only now, with every connection finished or reset, do the addresses leave the network;
        // after a takeover they stay: the successor serves them.
        if (HandedOverTo is null)
        {
            await Announced.WithdrawAllAsync(CancellationToken.None);
        }
    }

    /// <summary>The PID of the server that took over from this one (it then drains and exits), or null.</summary>
    public int? HandedOverTo => Volatile.Read(ref _handedOverTo) is var pid and not 0 ? pid : null;

    internal StateWriteGate WriteGate { get; init; } = new();

    public TimeSpan DrainTimeout { get; init; }

    /// <summary>Offers takeover to a successor on this data dir until the server starts stopping.</summary>
    internal void OfferTakeover(ILogger logger)
    {
        _takeoverLog = logger;
        var offer = TakeoverOffer.TryStart(DataDir, this, logger);
        lock (_takeoverGate)
        {
            _offer = offer;
        }

        // A stopping server (SIGTERM) no longer offers: a new server is refused until it is gone.
        _app.Lifetime.ApplicationStopping.Register(() => Volatile.Read(ref _offer)?.Dispose());
    }

    /// <summary>The start is complete (endpoint written, the predecessor told to stop accepting): a waiting successor is served.</summary>
    internal void OpenTakeover() => Volatile.Read(ref _offer)?.Open();

    async Task ITakeoverSource.ReleaseStateAsync()
    {
        lock (_takeoverGate)
        {
            if (_stateReleased)
            {
                // An earlier successor went away: the state is closed already, only the lock is back.
                _relocked?.Dispose();
                _relocked = null;
                return;
            }

            _stateReleased = true;
        }

        // In this order: no new change is accepted, the control plane commits what it queued and stops
        // publishing, the last usage sample is written, the database closes, and only then the lock
        // goes. From here the successor's control plane is the only writer.
        WriteGate.Close("This server is handing over to a new process (restart or upgrade), which commits changes from now on; nothing was changed. Retry in a moment: the new process answers on the same address.");
        // The heartbeat writes the node registry (in the SQLite file when the state is embedded): it stops first.
        await Heartbeat.DisposeAsync();
        await Control.DisposeAsync();
        await _usage.DisposeAsync();
        await _store.DisposeAsync();
        _dataDir.Dispose();
    }

    IReadOnlyList<ListeningSocket> ITakeoverSource.ListeningSockets()
    {
        var api = _app.Services.GetServices<Microsoft.AspNetCore.Connections.IConnectionListenerFactory>().OfType<ApiSocketTransport>().FirstOrDefault();
        return [.. _dataPlane.ListeningSockets(), .. api?.ListeningSockets() ?? [], .. _dns?.ListeningSockets() ?? []];
    }

    void ITakeoverSource.ReacquireState()
    {
        WriteGate.Close("A new server began to take over from this one and went away; this server carries traffic but its state is read-only. Start the new server again, or restart this one; nothing was changed.");
        try
        {
            var relocked = DataDirectory.Open(DataDir);
            lock (_takeoverGate)
            {
                _relocked = relocked;
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or UnauthorizedAccessException or StateStorageException)
        {
            // Another server holds it: it is the one writing now; this one only carries traffic.
            if (_takeoverLog is { } logger)
            {
                TakeoverReacquireLog.Failed(logger, ex.Message);
            }
        }
    }

    void ITakeoverSource.HandOver(int successorPid)
    {
        Volatile.Write(ref _handedOverTo, successorPid);

        // DNS has no connections to drain: stop answering at once, so every query reaches the successor.
        _dns?.Dispose();
        _app.Lifetime.StopApplication();
    }

    private readonly Lock _releaseGate = new();
    private Task? _release;

    /// <summary>
    /// With addresses shared with other nodes (VRRP, BGP): gives them up, once, so a peer takes new
    /// connections at once instead of this node refusing them while it drains. Started as soon as
    /// the host is asked to stop; <see cref="DrainAsync"/> waits for it.
    /// </summary>
    internal Task ReleaseAsync()
    {
        lock (_releaseGate)
        {
            return _release ??= Announcer is INodeFailover failover ? failover.ReleaseAsync(CancellationToken.None) : Task.CompletedTask;
        }
    }

    internal SettingsReload? SettingsReload { get; init; }

    /// <summary>This node's record in the node registry and what it knows of the others.</summary>
    public NodeHeartbeat Heartbeat { get; init; } = null!;

    /// <summary>The access log (--access-log), closed after the data plane stopped: its last connections are written.</summary>
    internal MultiVip.DataPlane.Logging.AccessLogWriter? AccessLog { get; init; }

    /// <summary>
    /// SIGHUP: re-reads what can change without a restart (the log level, see
    /// <see cref="LogLevelSetting"/>) and logs one line saying what it is now; traffic and the API
    /// are not touched. Returns that description.
    /// </summary>
    public string Reload(string trigger) => SettingsReload?.Reload(trigger) ?? "nothing to re-read";

    /// <summary>Completes when the host is asked to stop (SIGTERM, Ctrl+C).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        Volatile.Read(ref _offer)?.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _dns?.Dispose();
        bool released;
        lock (_takeoverGate)
        {
            released = _stateReleased;
        }

        if (!released)
        {
            await Heartbeat.DisposeAsync();
            await Control.DisposeAsync();
        }

        await Announced.DisposeAsync();
        await _dataPlane.DisposeAsync();
        if (AccessLog is not null)
        {
            await AccessLog.DisposeAsync();
        }

        await Announced.Announcer.DisposeAsync();

        // After the data plane stopped (its byte totals are final), before the store closes. A
        // takeover closed both already, for the successor.
        if (!released)
        {
            await _usage.DisposeAsync();
            await _store.DisposeAsync();
            _dataDir.Dispose();
        }

        _relocked?.Dispose();
        _loggers.Dispose();
    }
}

internal static partial class TakeoverReacquireLog
{
    [LoggerMessage(EventId = 5519, EventName = "TakeoverRelockFailed", Level = LogLevel.Warning,
        Message = "Could not lock the data dir again after a failed takeover: {Reason}")]
    public static partial void Failed(ILogger logger, string reason);
}
