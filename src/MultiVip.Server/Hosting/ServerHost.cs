using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using MultiVip.Contracts;
using MultiVip.Control;
using MultiVip.Control.State;
using MultiVip.Control.Usage;
using MultiVip.DataPlane.Contract;
using MultiVip.Model.Errors;
using MultiVip.Model.Networking;
using MultiVip.Server.Api;
using MultiVip.Server.Dns;
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
        var dataDir = DataDirectory.Open(options.DataDir);
        SqliteStateStore? store = null;
        IHostedDataPlane? dataPlane = null;
        IAddressAnnouncer? announcer = null;
        MultiVip.Network.Announcing.AnnouncingDataPlane? announced = null;
        ControlPlane? control = null;
        ServiceDnsServer? dns = null;
        UsageRecorder? usage = null;
        WebApplication? app = null;
        ILoggerFactory? preLoggers = null;
        MultiVip.DataPlane.Logging.AccessLogWriter? accessLog = null;
        try
        {
            // The store opens (in a new data dir: is created) before the token is written, so a
            // token beside a missing or empty database always means lost state (DataDirectory.Open).
            store = await SqliteStateStore.OpenAsync(dataDir.Path, cancellationToken);
            var logLevel = new LogLevelSetting(options.LogLevel, dataDir.Path);
            var token = options.Token ?? dataDir.LoadOrCreateToken();
            if (options.Token is not null)
            {
                dataDir.WriteToken(options.Token);
            }

            var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = dataDir.Path });
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

            LogDescriptorPlan(descriptors, preLoggers);
            announcer = await MultiVip.Network.Announcing.AddressAnnouncers.CreateAsync(options.VipInterface, time, preLoggers, cancellationToken);
            dataPlane = DefaultDataPlane(options, descriptors, preLoggers, time, freeBind: announcer.ManagesAddresses, accessLog);
            announced = MultiVip.Network.Announcing.AddressAnnouncers.Wrap(dataPlane, dataPlane, announcer, time, preLoggers);
            control = await ControlPlane.StartAsync(
                store,
                new ControlPlaneOptions { Pool = pool, Limits = options.Limits },
                announced,
                options.Time,
                preLoggers,
                cancellationToken);
            var current = control;
            usage = new UsageRecorder(
                new UsageLedger(new SqliteUsageStore(store.ConnectionString), () => current.Current, options.Time),
                dataPlane,
                options.Time,
                preLoggers.CreateLogger<UsageRecorder>());
            await usage.StartAsync(cancellationToken);
            if (dnsEndPoint is not null)
            {
                var world = control;
                dns = ServiceDnsServer.Start(dnsEndPoint, dnsZone, () => world.Current, preLoggers.CreateLogger("MultiVip.Dns"));
            }

            builder.Services.AddSingleton(control);
            builder.Services.AddSingleton<IStateStore>(store);
            builder.Services.AddSingleton(usage);
            builder.Services.AddSingleton<IDataPlane>(dataPlane);
            builder.Services.AddSingleton(new ServiceDnsZone(dnsZone.ToString(false)));
            builder.Services.AddSingleton(announcer);
            builder.Services.AddSingleton(new AccessLogs.Status(accessLog));
            builder.Services.AddMultiVipObservability(token, control, dataPlane);
            builder.Services.AddMultiVipAuthentication(token, authentication);

            app = builder.Build();
            app.UseMultiVipRequestMetrics();
            app.UseApiErrors();
            app.UseMultiVipAuthentication(token);
            app.MapOpenApi();
            app.MapMultiVipApi();
            app.MapMultiVipObservability();

            await app.StartAsync(cancellationToken);
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            var api = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
            dataDir.WriteEndpoint(api.ToString().TrimEnd('/'));
            ServiceManagerNotifications.ServerReady(app.Lifetime, api, options.DrainTimeout);
            return new RunningServer(app, control, dataPlane, store, dataDir, api, token, preLoggers, dns, usage) { SettingsReload = reload, Announced = announced, AccessLog = accessLog };
        }
        catch
        {
            if (app is not null)
            {
                await app.DisposeAsync();
            }

            dns?.Dispose();
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
public sealed class RunningServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly IHostedDataPlane _dataPlane;
    private readonly IStateStore _store;
    private readonly DataDirectory _dataDir;
    private readonly ILoggerFactory _loggers;
    private readonly ServiceDnsServer? _dns;
    private readonly UsageRecorder _usage;

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
        await _dataPlane.DrainAndStopAsync(CancellationToken.None);

        // Only now, with every connection finished or reset, do the addresses leave the network.
        await Announced.WithdrawAllAsync(CancellationToken.None);
    }

    internal SettingsReload? SettingsReload { get; init; }

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
        await _app.StopAsync();
        await _app.DisposeAsync();
        _dns?.Dispose();
        await Control.DisposeAsync();
        await Announced.DisposeAsync();
        await _dataPlane.DisposeAsync();
        if (AccessLog is not null)
        {
            await AccessLog.DisposeAsync();
        }

        await Announced.Announcer.DisposeAsync();

        // After the data plane stopped (its byte totals are final), before the store closes.
        await _usage.DisposeAsync();
        await _store.DisposeAsync();
        _dataDir.Dispose();
        _loggers.Dispose();
    }
}
