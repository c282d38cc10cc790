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
