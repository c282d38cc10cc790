using System.Net;
using MultiVip.TestSupport.Network;

namespace MultiVip.TestSupport.Postgres;

/// <summary>
/// What a <see cref="PostgresCluster"/> starts: the node names (each gets a namespace
/// <c>{NamespacePrefix}{name}</c>, a data dir <c>{Root}/{name}</c> and the API relay
/// <c>RelayAddress(i)</c> on host loopback), the VIP pool every node is given, and the backends
/// each node's namespace gets before the node starts.
/// </summary>
public sealed record PostgresClusterOptions
{
    /// <summary>The multivip.dll every node runs.</summary>
    public required string Cli { get; init; }

    /// <summary>Data dirs and the token file go under it; it is deleted on dispose when <see cref="DeleteRoot"/>.</summary>
    public required string Root { get; init; }

    public required string VipPool { get; init; }

    /// <summary>The host-loopback address of node i's API relay (one address per node).</summary>
    public required Func<int, IPAddress> RelayAddress { get; init; }

    /// <summary>The backends node <c>name</c>'s namespace serves (started before the node); none when null.</summary>
    public Func<NetworkNamespace, string, IEnumerable<NamespaceEchoBackend>>? Backends { get; init; }

    public IReadOnlyList<string> NodeNames { get; init; } = ["a", "b", "c"];

    public string NamespacePrefix { get; init; } = "pg-";

    /// <summary>PostgreSQL's TCP listener (the test suite's share unless a caller has its own).</summary>
    public string DatabaseAddress { get; init; } = PostgresServer.DefaultListenAddress;

    /// <summary>A free port when null.</summary>
    public int? DatabasePort { get; init; }

    /// <summary>False for the benchmark, which stops only what it started (see <see cref="NetworkNamespaces.CreateAsync"/>).</summary>
    public bool CleanLeftoverNamespaces { get; init; } = true;

    /// <summary>The benchmark keeps its run directory (logs, data dirs) for a look afterwards.</summary>
    public bool DeleteRoot { get; init; } = true;
}

/// <summary>
/// Several `multivip serve` nodes on one throwaway PostgreSQL, as docs/cluster.md sets them up: the
/// database (reached through its Unix socket, which crosses network namespaces), one namespace per
/// node with its own backends, one API token for all, and a <see cref="PostgresNode"/> per name,
/// started in order. The one set-up of the three-node tests and of <c>bench/run --cluster</c>.
/// Dispose stops the nodes, the backends, the namespaces and the database, in that order.
/// </summary>
public sealed class PostgresCluster : IAsyncDisposable
{
    private readonly PostgresClusterOptions _options;
    private readonly List<PostgresNode> _nodes = [];
    private readonly List<NamespaceEchoBackend> _backends = [];
    private NetworkNamespaces? _namespaces;

    private PostgresCluster(PostgresClusterOptions options, PostgresServer database, string store)
    {
        _options = options;
        Database = database;
        Store = store;
    }

    public PostgresServer Database { get; }

    /// <summary>The --store every node is given.</summary>
    public string Store { get; }

    public IReadOnlyList<PostgresNode> Nodes => _nodes;

    /// <summary>Starts the database, the namespaces, backends and nodes; on any failure stops what it started and throws.</summary>
    public static async Task<PostgresCluster> StartAsync(PostgresClusterOptions options)
    {
        var database = await PostgresServer.StartAsync(options.DatabaseAddress, options.DatabasePort);
        PostgresCluster cluster;
        try
        {
            cluster = new PostgresCluster(options, database, database.SocketConnectionString(await database.CreateDatabaseAsync()));
        }
        catch
        {
            await database.DisposeAsync();
            throw;
        }

        try
        {
            await cluster.StartNodesAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    private async Task StartNodesAsync()
    {
        _namespaces = await NetworkNamespaces.CreateAsync(_options.CleanLeftoverNamespaces);
        Directory.CreateDirectory(_options.Root);
        var token = Path.Combine(_options.Root, "token");
        PostgresNode.WriteToken(token);
        for (var i = 0; i < _options.NodeNames.Count; i++)
        {
            var name = _options.NodeNames[i];
            var ns = await _namespaces.AddAsync(_options.NamespacePrefix + name);
            foreach (var backend in _options.Backends?.Invoke(ns, name) ?? [])
            {
                _backends.Add(backend);
            }

            var node = new PostgresNode(name, ns, _options.Cli, Path.Combine(_options.Root, name), _options.RelayAddress(i), Store, _options.VipPool, token);
            _nodes.Add(node);
            await node.StartAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            foreach (var node in _nodes)
            {
                await node.DisposeAsync();
            }

            foreach (var backend in _backends)
            {
                await backend.DisposeAsync();
            }

            if (_namespaces is not null)
            {
                await _namespaces.DisposeAsync();
            }
        }
        finally
        {
            await Database.DisposeAsync();
            if (_options.DeleteRoot && Directory.Exists(_options.Root))
            {
                Directory.Delete(_options.Root, recursive: true);
            }
        }
    }
}
