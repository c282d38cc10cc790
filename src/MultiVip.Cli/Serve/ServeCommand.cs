using System.CommandLine;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using MultiVip.Cli.Infrastructure;
using MultiVip.Contracts;
using MultiVip.Control.Nodes;
using MultiVip.Control.State;
using MultiVip.Model.Errors;
using MultiVip.Model.Networking;
using MultiVip.Model.Validation;
using MultiVip.Server.Hosting;

namespace MultiVip.Cli.Serve;

/// <summary>`multivip serve`: runs the daemon (REST API, control plane, data plane) until SIGTERM or Ctrl+C.</summary>
internal static class ServeCommand
{
    public static Command Create(CliContext cli) => Create(cli, RunAsync);

    /// <param name="run">What the parsed options go to: the server (<see cref="RunAsync"/>), or a test that reads them.</param>
    internal static Command Create(CliContext cli, Func<CliContext, ServerOptions, bool, CancellationToken, Task<int>> run)
    {
        var defaults = new ServerOptions();
        var limits = ServiceLimits.Default;
        var pools = new Option<string[]>("--vip-pool")
        {
            Description = $"VIP address pool as a CIDR or a first-last range; repeat for several (default {AddressPool.DefaultPool}).",
            AllowMultipleArgumentsPerToken = false,
        };
        var vipInterface = new Option<string?>("--vip-interface")
        {
            Description = "Add each VIP address to this interface (/32 or /128) and announce it by ARP/NDP, so clients on that network reach it; needs CAP_NET_ADMIN and CAP_NET_RAW. Default: none (VIP addresses must exist already, as loopback ones do).",
        };
        var dataPlane = new Option<string>("--data-plane")
        {
            Description = "Which plane carries listeners: userspace (the proxy) or nftables (the kernel: DNAT in the nftables table 'inet multivip', no copy through this process; needs CAP_NET_ADMIN; PROXY-protocol endpoints stay in user space). Default userspace.",
            DefaultValueFactory = _ => defaults.DataPlane,
        };
        dataPlane.AcceptOnlyFromAmong("userspace", "nftables");
        var kernelSnat = new Option<string>("--kernel-snat")
        {
            Description = "With --data-plane nftables: always masquerades forwarded connections to this node's address (backends reply to it); never keeps the client's address (the backends must route replies via this node). Default always.",
            DefaultValueFactory = _ => ServerOptions.DefaultKernelSnat,
        };
        kernelSnat.AcceptOnlyFromAmong("always", "never");
        var store = new Option<string?>("--store")
        {
            Description = "Where the state lives: a PostgreSQL database shared by several nodes (postgresql://user:password@host:port/database, or an Npgsql connection string). Default: SQLite in --data-dir (one node).",
        };
        var drain = IntOption("--drain-timeout", "Seconds connections of a removed or moved endpoint may run on, and how long SIGTERM waits for connections.", (int)defaults.DrainTimeout.TotalSeconds, 0);
        var maxConnections = IntOption("--max-connections-per-listener", "Connections one listener carries at once; more are refused with a reset.", defaults.MaxConnectionsPerListener, 1);
        var maxUdpSessions = IntOption("--max-udp-sessions-per-listener", "UDP sessions one listener keeps; when full, a new client evicts the least recently used session.", defaults.MaxUdpSessionsPerListener, 1);
        var maxTotalConnections = OptionalIntOption("--max-connections", "TCP connections all listeners carry together; more are refused with a reset. Default: sized from the open-file limit.", 1);
        var maxTotalUdpSessions = OptionalIntOption("--max-udp-sessions", "UDP sessions all listeners keep together. Default: sized from the open-file limit.", 1);
        var maxApiConnections = IntOption("--max-api-connections", "Connections the API, dashboard and /metrics accept at once; near the cap the longest-idle connection is closed for a new one.", defaults.MaxApiConnections, 8);
        var connectTimeout = IntOption("--connect-timeout", "Milliseconds one connect to a backend may take before the next member is tried (5 s is 5000).", (int)defaults.ConnectTimeout.TotalMilliseconds, 10, "milliseconds");
        var connectAttempts = IntOption("--connect-attempts", "Backends tried for one client connection: the one its flow maps to, then the next in its preference order; a client waits at most attempts x --connect-timeout.", defaults.ConnectAttempts, 1);
        var socketEngine = new Option<MultiVip.DataPlane.SocketEngine>("--socket-engine")
        {
            Description = "What drives the TCP data plane's sockets: epoll (the data plane's own non-blocking sockets on one edge-triggered loop per core, Linux; the default there) or dotnet (System.Net.Sockets).",
            DefaultValueFactory = _ => defaults.SocketEngine,
        };
        var splice = new Option<MultiVip.DataPlane.SpliceMode>("--splice")
        {
            Description = "With --socket-engine epoll: auto (the default) moves a direction that turns out to be bulk with splice(2) through a pipe, without copying it through user space; never always copies through a buffer.",
            DefaultValueFactory = _ => defaults.Splice,
        };
        var maxSplicedDirections = OptionalIntOption("--max-spliced-directions", "Directions spliced at once (each holds a pipe, two descriptors); beyond it a bulk direction copies. Default: sized from the open-file limit, at most 4096.", 1);
        var dns = new Option<string>("--dns")
        {
            Description = $"Address (ip:port) of the embedded authoritative DNS server, UDP and TCP; 'off' disables it. Default {ServerOptions.DefaultDns}.",
            DefaultValueFactory = _ => ServerOptions.DefaultDns,
        };
        var dnsZone = new Option<string>("--dns-zone")
        {
            Description = $"DNS zone of the services: <service>.<zone> resolves to the service's default VIP. Default {ServerOptions.DefaultDnsZone}.",
            DefaultValueFactory = _ => ServerOptions.DefaultDnsZone,
        };
        var maxVips = IntOption("--max-vips-per-deployment", "Virtual IPs per deployment, the default one included (Azure: 5).", limits.MaxVirtualIpsPerDeployment, 1);
        var maxEndpoints = IntOption("--max-endpoints-per-service", "Input endpoints per cloud service (Azure: 150).", limits.MaxEndpointsPerService, 1);
        var maxVms = IntOption("--max-vms-per-service", "VMs per cloud service (Azure: 50).", limits.MaxVmsPerService, 1);
        var maxAcl = IntOption("--max-acl-rules-per-endpoint", "ACL rules per endpoint (Azure: 50).", limits.MaxAclRulesPerEndpoint, 1);
        var maxBody = IntOption("--max-request-body", "Largest API request body in bytes.", (int)defaults.MaxRequestBodyBytes, 1024);
        var tlsCert = new Option<string?>("--tls-cert") { Description = "PEM certificate for HTTPS on the API (needed to listen on a non-loopback address)." };
        var tlsKey = new Option<string?>("--tls-key") { Description = "PEM private key for --tls-cert." };
        var insecure = new Option<bool>("--insecure") { Description = "Allow a non-loopback API address without TLS (the token crosses the network in clear)." };
        var logFormat = new Option<LogFormat>("--log-format") { Description = "Console log format: text (default) or json (one object per line with EventId, Category, Message and State).", DefaultValueFactory = _ => LogFormat.Text };
        var auth = defaults.Authentication;
        var authFailureLimit = IntOption("--auth-failure-limit", "Wrong tokens (API, /metrics, dashboard sign-in) one client address may send per minute; further wrong ones get 429 until the minute ends. The right token is always accepted.", auth.FailureLimit, 1);
        var sessionLifetime = IntOption("--session-lifetime", "Minutes a dashboard sign-in lasts.", (int)auth.SessionLifetime.TotalMinutes, 1);
        var allowedHosts = new Option<string[]>("--allowed-host")
        {
            Description = "Another host name (NAME or NAME:PORT) clients may use in the URL, besides the address they connect to and localhost on loopback; repeat for several. Other Host headers get 421 (DNS rebinding defence).",
            AllowMultipleArgumentsPerToken = false,
        };
        var logLevel = new Option<string?>("--log-level")
        {
            Description = $"Log level at start: {LogLevelNames.Accepted}. Default {LogLevelNames.EnvironmentVariable}, else information. A file <data-dir>/{LogLevelNames.FileName} holding a level overrides it, re-read on SIGHUP.",
        };
        logLevel.CompletionSources.Add([.. LogLevelNames.Names]);
        logLevel.Validators.Add(r =>
        {
            if (!LogLevelNames.TryParse(r.GetValueOrDefault<string?>(), out _))
            {
                r.AddError($"--log-level must be one of {LogLevelNames.Accepted}.");
            }
        });
        var noTakeover = new Option<bool>("--no-takeover")
        {
            Description = "Neither take over from a server already running on this data dir (its listening sockets, without dropping a connection) nor offer that to a later one: a second server on the data dir is refused. See docs/operations.md, Restart and upgrade.",
        };
        var nodeName = new Option<string>("--node-name")
        {
            Description = "This node's name in `multivip node list`, /metrics and operation errors; unique among the nodes sharing one state. Default: the host name.",
            DefaultValueFactory = _ => NodeName.Default(),
        };
        nodeName.Validators.Add(r =>
        {
            if (NodeName.Problem(r.GetValueOrDefault<string>()) is { } problem)
            {
                r.AddError(r.Implicit ? $"The host name is not usable as the node name: {problem}" : problem);
            }
        });
        var nodeDownAfter = IntOption("--node-down-after", "Seconds without a heartbeat after which a node is Down: operations no longer wait for it.", (int)defaults.NodeDownAfter.TotalSeconds, (int)ServerHost.MinNodeDownAfter.TotalSeconds, "seconds");
        var failover = new FailoverServeOptions();
        var accessLog = new Option<string?>("--access-log")
        {
            Description = "Write one line per closed TCP connection (client, VIP, backend, times, bytes each way, how it ended; HAProxy tcplog-like) to this file. Off by default. Rotated by size; SIGHUP reopens it (logrotate).",
        };
        var accessLogMaxSize = IntOption("--access-log-max-size", "Bytes at which the access log is rotated (PATH to PATH.1, and so on).", (int)ServerOptions.DefaultAccessLogMaxBytes, 1024, "bytes");
        var accessLogFiles = IntOption("--access-log-files", "Rotated access log files kept besides the current one; the oldest is deleted.", defaults.AccessLogFiles, 1);
        var tokenFile = new Option<string?>("--token-file")
        {
            Description = "Read the API token from this file (one line, at least 16 characters) instead of the data dir's generated one; give every node sharing a --store the same file and one token works with all of them. It is also written to the data dir's token file for local clients.",
        };
        var demo = new Option<bool>("--demo") { Description = "Create the seed's myService with built-in demo backends on 127.0.0.11 and 127.0.0.12, and print commands that send traffic through three VIPs." };

        var serve = new Command("serve", "Run the MultiVip server (REST API and dashboard on --api, DNS, data plane) with its state in --data-dir, until Ctrl+C or SIGTERM.")
        {
            pools, vipInterface, store, dataPlane, kernelSnat, drain, maxConnections, maxUdpSessions, maxTotalConnections, maxTotalUdpSessions, maxApiConnections, connectTimeout, connectAttempts, socketEngine, splice, maxSplicedDirections, dns, dnsZone, maxVips, maxEndpoints, maxVms, maxAcl, maxBody, tlsCert, tlsKey, insecure, logFormat, logLevel, demo,
            authFailureLimit, sessionLifetime, allowedHosts, noTakeover, nodeName, nodeDownAfter, accessLog, accessLogMaxSize, accessLogFiles, tokenFile,
        };
        foreach (var option in failover.All)
        {
            serve.Options.Add(option);
        }

        serve.SetAction(async (parse, cancellationToken) =>
        {
            var level = parse.GetValue(logLevel) ?? cli.Console.Environment(LogLevelNames.EnvironmentVariable);
            if (!LogLevelNames.TryParse(level ?? "information", out var startLevel))
            {
                return cli.Fail($"{LogLevelNames.EnvironmentVariable}='{level}' is not a log level: use one of {LogLevelNames.Accepted}.", ExitCodes.UsageError);
            }

            string? token = null;
            if (parse.GetValue(tokenFile) is { } tokenPath && ReadTokenFile(tokenPath, out token) is { } tokenProblem)
            {
                return cli.Fail(tokenProblem, ExitCodes.UsageError);
            }

            var options = new ServerOptions
            {
                Token = token,
                DataDir = DemoDataDirectory.Choose(parse.GetValue(cli.Global.DataDir), parse.GetValue(demo), defaults.DataDir),
                Api = parse.GetValue(cli.Global.Api) ?? defaults.Api,
                VipPools = parse.GetValue(pools) is { Length: > 0 } given ? given : defaults.VipPools,
                VipInterface = parse.GetValue(vipInterface),
                DataPlane = parse.GetValue(dataPlane) ?? defaults.DataPlane,
                KernelSnat = parse.GetValue(kernelSnat) ?? ServerOptions.DefaultKernelSnat,
                Store = parse.GetValue(store) is { Length: > 0 } database ? database : null,
                Announce = failover.Announce(parse),
                Failover = failover.Read(parse),
                DrainTimeout = TimeSpan.FromSeconds(parse.GetValue(drain)),
                MaxConnectionsPerListener = parse.GetValue(maxConnections),
                MaxUdpSessionsPerListener = parse.GetValue(maxUdpSessions),
                MaxConnections = parse.GetValue(maxTotalConnections),
                MaxUdpSessions = parse.GetValue(maxTotalUdpSessions),
                MaxApiConnections = parse.GetValue(maxApiConnections),
                ConnectTimeout = TimeSpan.FromMilliseconds(parse.GetValue(connectTimeout)),
                ConnectAttempts = parse.GetValue(connectAttempts),
                SocketEngine = parse.GetValue(socketEngine),
                Splice = parse.GetValue(splice),
                MaxSplicedDirections = parse.GetValue(maxSplicedDirections),
                Dns = parse.GetValue(dns),
                DnsZone = parse.GetValue(dnsZone) ?? ServerOptions.DefaultDnsZone,
                MaxRequestBodyBytes = parse.GetValue(maxBody),
                Limits = new ServiceLimits
                {
                    MaxVirtualIpsPerDeployment = parse.GetValue(maxVips),
                    MaxEndpointsPerService = parse.GetValue(maxEndpoints),
                    MaxVmsPerService = parse.GetValue(maxVms),
                    MaxAclRulesPerEndpoint = parse.GetValue(maxAcl),
                },
                TlsCertificate = parse.GetValue(tlsCert),
                TlsKey = parse.GetValue(tlsKey),
                Insecure = parse.GetValue(insecure),
                LogFormat = parse.GetValue(logFormat),
                Authentication = auth with
                {
                    FailureLimit = parse.GetValue(authFailureLimit),
                    SessionLifetime = TimeSpan.FromMinutes(parse.GetValue(sessionLifetime)),
                    AllowedHosts = parse.GetValue(allowedHosts) ?? [],
                },
                LogLevel = startLevel,
                Takeover = !parse.GetValue(noTakeover),
                NodeName = parse.GetValue(nodeName),
                NodeDownAfter = TimeSpan.FromSeconds(parse.GetValue(nodeDownAfter)),
                AccessLog = parse.GetValue(accessLog),
                AccessLogMaxBytes = parse.GetValue(accessLogMaxSize),
                AccessLogFiles = parse.GetValue(accessLogFiles),
            };
            if (parse.GetValue(demo) && DemoDataDirectory.Prepare(options.DataDir, given: parse.GetValue(cli.Global.DataDir) is not null) is { } refusal)
            {
                return cli.Fail(refusal, ExitCodes.UsageError);
            }

            return await run(cli, options, parse.GetValue(demo), cancellationToken).ConfigureAwait(false);
        });

        // --config FILE and MULTIVIP_<NAME> for every option above (and any added later); --print-config.
        return ServeConfiguration.Attach(cli, serve);
    }

    /// <summary>
    /// The token of --token-file, or why it cannot be used (then nothing starts): one line of at
    /// least 16 characters, as the data dir's own token file holds.
    /// </summary>
    internal static string? ReadTokenFile(string path, out string? token)
    {
        token = null;
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return $"--token-file {path} cannot be read ({ex.Message.TrimEnd('.')}): give a file the server's user can read, holding the API token on one line.";
        }

        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (lines.Length != 1 || lines[0].Length < 16 || lines[0].Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            return $"--token-file {path} must hold the API token on one line: at least 16 characters, no spaces (for example `openssl rand -base64 32 > {path}`).";
        }

        token = lines[0];
        return null;
    }

    private static async Task<int> RunAsync(CliContext cli, ServerOptions options, bool demo, CancellationToken cancellationToken)
    {
        // SIGHUP's default action ends the process at once (exit 129, every connection dropped):
        // a closed SSH session or a `kill -HUP` meant as a reload must not do that. It re-reads
        // what can be re-read instead; while the server starts or stops it is ignored.
        RunningServer? started = null;
        using var hangUp = PosixSignalRegistration.Create(PosixSignal.SIGHUP, signal =>
        {
            signal.Cancel = true;
            if (Volatile.Read(ref started) is { } running)
            {
                running.Reload("SIGHUP");
            }
            else
            {
                cli.Console.Error.WriteLine("multivip: SIGHUP ignored: the server is starting or stopping; once it serves, SIGHUP re-reads the log level.");
            }
        });
        // SIGUSR2 (systemctl reload): start the successor that takes over. One that arrives while the
        // server starts (systemd may reload right after READY=1) is kept until it serves.
        var phase = 0; // 0 starting, 1 serving, 2 stopping
        var upgradeRequested = 0;
        using var upgrade = SuccessorProcess.Register(() =>
        {
            if (!options.Takeover)
            {
                cli.Console.Error.WriteLine("multivip: SIGUSR2 ignored: this server runs with --no-takeover, so no successor can take over from it.");
            }
            else if (Volatile.Read(ref phase) == 1 && Volatile.Read(ref started) is { HandedOverTo: null })
            {
                SuccessorProcess.StartAndReport(cli.Console.Error);
            }
            else if (Volatile.Read(ref phase) == 0)
            {
                Volatile.Write(ref upgradeRequested, 1);
                cli.Console.Error.WriteLine("multivip: SIGUSR2 while starting: the successor starts as soon as this server serves.");
            }
            else
            {
                cli.Console.Error.WriteLine("multivip: SIGUSR2 ignored: the server is stopping or has handed over already.");
            }
        });
        RunningServer server;
        try
        {
            server = await ServerHost.StartAsync(options, cancellationToken).ConfigureAwait(false);
        }
        catch (MultiVipException e)
        {
            return cli.Fail($"{e.Code}: {e.Message}", ExitCodes.UsageError);
        }
        catch (StateStorageException e)
        {
            // The data dir cannot be used (full, read-only, damaged or lost database): the
            // message already says what, where and what to do; a stack trace would bury it.
            return cli.Fail(e.Message, ExitCodes.ServiceError);
        }
        catch (InvalidOperationException e)
        {
            return cli.Fail(e.Message, ExitCodes.ServiceError);
        }
        catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse } || e.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
        {
            return cli.Fail($"Cannot listen on {options.Api}: the address is already in use. Is another `multivip serve` running? Choose another --api address.", ExitCodes.ServiceError);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Data.Common.DbException)
        {
            // Storage trouble no one worded yet (e.g. an I/O error while loading the state): still
            // one line, with the data dir, never a stack trace and never an empty start.
            return cli.Fail(Messages.DataDirUnusable(Path.GetFullPath(options.DataDir), e.GetType().Name, StorageFailures.Detail(e)), ExitCodes.ServiceError);
        }

        Volatile.Write(ref started, server);
        Volatile.Write(ref phase, 1);
        if (Interlocked.Exchange(ref upgradeRequested, 0) == 1)
        {
            SuccessorProcess.StartAndReport(cli.Console.Error);
        }
        await using (server.ConfigureAwait(false))
        {
            var output = cli.Console.Out;
            output.WriteLine($"MultiVip is serving the API on {server.Api.ToString().TrimEnd('/')}");
            output.WriteLine($"  data dir : {server.DataDir}");
            output.WriteLine($"  state    : {server.StoreDescription}");
            output.WriteLine($"  node     : {server.Heartbeat.NodeName} (Down after {options.NodeDownAfter.TotalSeconds:0} s without a heartbeat; `multivip node list`)");
            output.WriteLine($"  token    : {Path.Combine(server.DataDir, "token")} ({Server.Demo.DemoScenario.HowClientsFind(server.DataDir)})");
            output.WriteLine($"  VIP pool : {string.Join(", ", options.VipPools)}");
            output.WriteLine(server.Announcer.Name switch
            {
                "vrrp" => $"  VIPs on  : {options.Failover.VrrpInterface ?? options.VipInterface} (VRRP: keepalived, virtual router {options.Failover.VrrpRouterId}, priority {options.Failover.VrrpPriority})",
                "bgp" => $"  VIPs on  : BGP (BIRD, AS {options.Failover.BgpAsn}, peers {string.Join(", ", options.Failover.BgpPeers)})",
                _ => options.VipInterface is { } vipDevice
                    ? $"  VIPs on  : {vipDevice} (addresses added and announced by ARP/NDP)"
                    : "  VIPs on  : the host's own addresses (no --vip-interface)",
            });
            output.WriteLine(options.DataPlane == "nftables"
                ? $"  plane    : nftables (table inet multivip, SNAT {options.KernelSnat}; PROXY-protocol endpoints in user space)"
                : "  plane    : userspace");
            output.WriteLine(server.DnsEndPoint is { } dnsAt
                ? $"  DNS      : {dnsAt} (UDP, TCP), zone {server.DnsZone}: try dig @{dnsAt.Address} -p {dnsAt.Port} myservice.{server.DnsZone}"
                : "  DNS      : off");
            output.WriteLine($"  OpenAPI  : {server.Api.ToString().TrimEnd('/')}{ApiRoutes.OpenApiDocument}");
            output.WriteLine($"  dashboard: {server.Api} (sign in with the token)  metrics: {server.Api.ToString().TrimEnd('/')}/metrics (bearer token)");
            Server.Demo.DemoScenario.DemoBackends? backends = null;
            if (demo)
            {
                try
                {
                    backends = await Server.Demo.DemoScenario.StartAsync(server, cancellationToken).ConfigureAwait(false);
                }
                catch (IOException e)
                {
                    return cli.Fail($"The demo backends could not listen on 127.0.0.11/127.0.0.12 ports 8081-8083 and 8181 ({e.Message}). Stop whatever uses them, or run without --demo.", ExitCodes.ServiceError);
                }

                output.WriteLine();
                output.WriteLine("Demo: myService with myVM1 (127.0.0.11) and myVM2 (127.0.0.12) and their built-in web servers. Try:");
                foreach (var line in Server.Demo.DemoScenario.TryCommands(server))
                {
                    output.WriteLine("  " + line);
                }

                output.WriteLine();
            }

            output.WriteLine("Stop with Ctrl+C or SIGTERM; SIGHUP re-reads the log level; SIGUSR2 (or a second multivip serve here) restarts without dropping a connection." + (demo ? "" : " Try: ./multivip service create --name myService (or restart with --demo)"));
            try
            {
                await server.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Ctrl+C / SIGTERM: fall through to an orderly stop.
            }

            Volatile.Write(ref phase, 2);
            output.WriteLine(server.HandedOverTo is { } successor
                ? $"MultiVip handed over to the new server (PID {successor}): draining connections (up to {options.DrainTimeout.TotalSeconds:0} s), then exiting."
                : $"MultiVip is stopping: draining connections (up to {options.DrainTimeout.TotalSeconds:0} s).");
            await server.DrainAsync().ConfigureAwait(false);
            if (backends is not null)
            {
                await backends.DisposeAsync().ConfigureAwait(false);
            }

            // The server's loggers go with it: a SIGHUP from here on is ignored.
            Volatile.Write(ref started, null);
        }

        return ExitCodes.Success;
    }

    /// <summary>An int option whose absence means "derive it" (here: from the open-file limit).</summary>
    private static Option<int?> OptionalIntOption(string name, string description, int minimum)
    {
        var option = new Option<int?>(name) { Description = description };
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is int value && value < minimum)
            {
                r.AddError($"{name} must be at least {minimum}.");
            }
        });
        return option;
    }

    private static Option<int> IntOption(string name, string description, int defaultValue, int minimum, string? unit = null)
    {
        var option = new Option<int>(name) { Description = $"{description} Default {defaultValue}.", DefaultValueFactory = _ => defaultValue };
        option.Validators.Add(r =>
        {
            // Not a number ("abc"): the parser reports that itself; reading the value here would throw.
            if (r.Tokens.Count > 0 && !int.TryParse(r.Tokens[^1].Value, System.Globalization.CultureInfo.InvariantCulture, out _))
            {
                return;
            }

            if (r.GetValueOrDefault<int>() < minimum)
            {
                r.AddError(unit is null ? $"{name} must be at least {minimum}." : $"{name} is in {unit} and must be at least {minimum}.");
            }
        });
        return option;
    }
}
