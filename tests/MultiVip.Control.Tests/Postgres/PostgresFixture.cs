using MultiVip.TestSupport.Postgres;

namespace MultiVip.Control.Tests.Postgres;

/// <summary>
/// One throwaway PostgreSQL server for every test of the <see cref="PostgresCollection"/>; each test
/// takes a fresh database of its own (<see cref="CreateDatabaseAsync"/>). Starting fails the tests
/// (it never skips them): PostgreSQL 15 is part of the test environment (test.sh installs it).
/// </summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private PostgresServer? _server;

    public PostgresServer Server => _server ?? throw new InvalidOperationException("The PostgreSQL fixture has not started.");

    public async Task InitializeAsync() => _server = await PostgresServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    /// <summary>A connection string to a new, empty database.</summary>
    public async Task<string> CreateDatabaseAsync() => Server.ConnectionString(await Server.CreateDatabaseAsync());
}

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresFixture>
{
    public const string Name = "PostgreSQL";
}
