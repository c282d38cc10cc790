using Microsoft.Extensions.Logging.Abstractions;
using MultiVip.Contracts;
using MultiVip.Control.Commands;
using MultiVip.Control.State;
using MultiVip.Control.Tests.Support;
using MultiVip.Model.Errors;
using MultiVip.Model.Networking;
using MultiVip.Model.Operations;
using Npgsql;

namespace MultiVip.Control.Tests.Postgres;

/// <summary>
/// The connection to PostgreSQL breaks at the commit point (its backend is terminated from another
/// connection, as a failover or a network cut would): whether or not the transaction committed, the
/// node finds out before it answers, so no operation stays InProgress and no change is made twice.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class CommitReplyLostTests(PostgresFixture fixture)
{
    private static readonly CallContext Caller = new("pg-commit-test");

    [Fact]
    public async Task A_commit_whose_reply_is_lost_is_read_back_as_made_and_its_operation_succeeds()
    {
        await using var node = await Node.StartAsync(fixture);
        node.LoseTheFirstCommitReply();

        var created = await node.Control.CreateServiceAsync(new CreateServiceRequest { Name = "web" }, Caller, default);

        Assert.Equal(OperationStatus.Succeeded, (await node.Control.WaitAsync(created, TimeSpan.FromSeconds(30), default)).OperationStatus);
        await node.AssertStoredOnceAsync(created.OperationId);
    }

    [Fact]
    public async Task A_commit_whose_connection_breaks_before_COMMIT_is_read_back_as_not_made_and_made_once_on_a_fresh_connection()
    {
        await using var node = await Node.StartAsync(fixture);
        var once = 0;
        node.Store.CommitHook = async (point, backend) =>
        {
            if (point == PostgresStateStore.CommitPoint.BeforeCommit && Interlocked.Exchange(ref once, 1) == 0)
            {
                await node.TerminateAsync(backend);
            }
        };

        var created = await node.Control.CreateServiceAsync(new CreateServiceRequest { Name = "web" }, Caller, default);

        Assert.Equal(1, once);
        Assert.Equal(OperationStatus.Succeeded, (await node.Control.WaitAsync(created, TimeSpan.FromSeconds(30), default)).OperationStatus);
        await node.AssertStoredOnceAsync(created.OperationId);
    }

    [Fact]
    public async Task A_commit_the_database_cannot_confirm_gets_503_and_its_operation_is_settled_once_the_database_answers()
    {
        await using var node = await Node.StartAsync(fixture);
        node.Store.ResolveWithin = TimeSpan.Zero;
        var unreachable = 1;
        node.Store.ReadBackHook = () => Volatile.Read(ref unreachable) == 1
            ? Task.FromException(new NpgsqlException("Failed to connect (the test keeps the database away)", new IOException("refused")))
            : Task.CompletedTask;
        node.LoseTheFirstCommitReply();

        var refused = await Assert.ThrowsAsync<MultiVipException>(() => node.Control.CreateServiceAsync(new CreateServiceRequest { Name = "web" }, Caller, default));
        Assert.Equal(ErrorCode.ServiceUnavailable, refused.Code);
        Assert.Contains("may have been made", refused.Message);
        var id = (await node.Store.ListOperationsAsync(10, default)).Single().OperationId;

        Volatile.Write(ref unreachable, 0);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while ((await node.Store.GetOperationAsync(id, default))?.OperationStatus != OperationStatus.Succeeded)
        {
            Assert.True(DateTime.UtcNow < deadline, "The operation was not settled within 30 s of the database answering.");
            await Task.Delay(50);
        }

        await node.AssertStoredOnceAsync(id);
        Assert.True(node.Control.Current.Services.ContainsKey("web"));
    }

    private sealed class Node : IAsyncDisposable
    {
        private readonly RecordingDataPlane _dataPlane;
        private readonly string _connectionString;

        private Node(string connectionString, PostgresStateStore store, RecordingDataPlane dataPlane, ControlPlane control)
        {
            _connectionString = connectionString;
            Store = store;
            _dataPlane = dataPlane;
            Control = control;
        }

        public PostgresStateStore Store { get; }

        public ControlPlane Control { get; }

        public static async Task<Node> StartAsync(PostgresFixture fixture)
        {
            var connectionString = await fixture.CreateDatabaseAsync();
            var store = await PostgresStateStore.OpenAsync(PostgresLocation.Parse(connectionString), TimeProvider.System, NullLoggerFactory.Instance, default);
            var dataPlane = new RecordingDataPlane();
            var control = await ControlPlane.StartAsync(store, new ControlPlaneOptions { Pool = AddressPool.Parse(["127.126.1.0/24"]) }, dataPlane, TimeProvider.System, NullLoggerFactory.Instance, default);
            return new Node(connectionString, store, dataPlane, control);
        }

        /// <summary>The first COMMIT is made, then its connection dies before the node hears of it.</summary>
        public void LoseTheFirstCommitReply()
        {
            var once = 0;
            Store.CommitHook = async (point, backend) =>
            {
                if (point == PostgresStateStore.CommitPoint.AfterCommit && Interlocked.Exchange(ref once, 1) == 0)
                {
                    await TerminateAsync(backend);
                    throw new NpgsqlException("Exception while reading from stream (the test lost the COMMIT reply)", new IOException("reply lost"));
                }
            };
        }

        /// <summary>Ends the backend from another connection and waits until it has exited.</summary>
        public async Task TerminateAsync(int backend)
        {
            await using var connection = new NpgsqlConnection(_connectionString + ";Pooling=false");
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT pg_terminate_backend(@pid, 30000)", connection);
            command.Parameters.AddWithValue("pid", backend);
            Assert.True((bool)(await command.ExecuteScalarAsync())!);
        }

        /// <summary>The change is in the database once: one operation row, one service, one generation.</summary>
        public async Task AssertStoredOnceAsync(Guid operationId)
        {
            await using var connection = new NpgsqlConnection(_connectionString + ";Pooling=false");
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT (SELECT count(*) FROM operations) || '|' || (SELECT count(*) FROM operations WHERE id = @id) || '|' || (SELECT count(*) FROM services) || '|' || (SELECT generation FROM cluster_state)", connection);
            command.Parameters.AddWithValue("id", operationId);
            Assert.Equal("1|1|1|1", (string)(await command.ExecuteScalarAsync())!);
        }

        public async ValueTask DisposeAsync()
        {
            _dataPlane.Release();
            await Control.DisposeAsync();
            await Store.DisposeAsync();
        }
    }
}
