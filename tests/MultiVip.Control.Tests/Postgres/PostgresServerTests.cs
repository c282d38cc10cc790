using MultiVip.TestSupport.Postgres;

namespace MultiVip.Control.Tests.Postgres;

/// <summary>The test helper itself: a throwaway server starts as the postgres user, stops by its PID, and comes back.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresServerTests(PostgresFixture fixture)
{
    [Fact]
    public async Task Each_test_gets_an_empty_database_of_its_own()
    {
        var first = await fixture.Server.CreateDatabaseAsync();
        var second = await fixture.Server.CreateDatabaseAsync();
        Assert.NotEqual(first, second);
        Assert.Equal("0", await fixture.Server.PsqlAsync(first, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"));
    }

    [Fact]
    public async Task A_stopped_server_is_gone_and_a_restarted_one_keeps_its_data()
    {
        await using var server = await PostgresServer.StartAsync();
        var database = await server.CreateDatabaseAsync();
        await server.PsqlAsync(database, "CREATE TABLE t(x int); INSERT INTO t VALUES (42)");
        var pid = server.ProcessId!.Value;

        await server.StopAsync();
        Assert.False(File.Exists($"/proc/{pid}/status") && !File.ReadAllText($"/proc/{pid}/status").Contains("State:\tZ"));
        await Assert.ThrowsAsync<InvalidOperationException>(() => server.PsqlAsync(database, "SELECT 1"));

        await server.RestartAsync();
        Assert.Equal("42", await server.PsqlAsync(database, "SELECT x FROM t"));
    }
}

/// <summary>--store values: URLs and connection strings read, and the password never shown.</summary>
public sealed class PostgresLocationTests
{
    [Fact]
    public void A_url_becomes_a_connection_string_and_prints_without_its_password()
    {
        var location = MultiVip.Control.State.PostgresLocation.Parse("postgresql://mv%40ops:s%3Acret@db.example:6543/multivip?sslmode=require");
        Assert.Equal("db.example:6543", location.Endpoint);
        Assert.Equal("postgresql://mv@ops@db.example:6543/multivip", location.ToString());
        Assert.Equal("s:cret", location.Builder.Password);
        Assert.Equal(Npgsql.SslMode.Require, location.Builder.SslMode);
        Assert.Equal("postgresql://mv%40ops:***@db.example:6543/multivip?sslmode=require", MultiVip.Control.State.PostgresLocation.Redact("postgresql://mv%40ops:s%3Acret@db.example:6543/multivip?sslmode=require"));
        Assert.DoesNotContain("secret", MultiVip.Control.State.PostgresLocation.Redact("Host=db;Username=u;Password=secret;Database=d"));
        Assert.Equal("db:5432", MultiVip.Control.State.PostgresLocation.Parse("Host=db;Username=u;Password=secret;Database=d").Endpoint);
    }

    [Fact]
    public void A_malformed_value_says_what_is_wrong_without_the_password()
    {
        var unknown = Assert.Throws<FormatException>(() => MultiVip.Control.State.PostgresLocation.Parse("postgresql://u:hunter2@db/x?pool=1"));
        Assert.Contains("'pool'", unknown.Message);
        Assert.DoesNotContain("hunter2", unknown.Message);
        var noHost = Assert.Throws<FormatException>(() => MultiVip.Control.State.PostgresLocation.Parse("Username=u;Password=hunter2"));
        Assert.DoesNotContain("hunter2", noHost.Message);
    }
}
