using Microsoft.Data.Sqlite;

namespace MultiVip.Control.State;

/// <summary>
/// The connections the state database is read on besides the state writer's own (operation and usage
/// reads, the node heartbeat), at most <see cref="Bound"/> open at once. Microsoft.Data.Sqlite's pool
/// has no maximum: every concurrent read would open a connection of its own (the database file and
/// its WAL are descriptors each) and keep it pooled, so a flood of authenticated reads could use up
/// the process's descriptors, which the data plane needs for connections. Reads past the bound
/// wait their turn (they take milliseconds); the pool then holds at most the bound.
/// </summary>
public sealed class SqliteConnections(string connectionString, int bound)
{
    private readonly SemaphoreSlim _slots = new(bound, bound);
    private int _queued;

    public SqliteConnections(string connectionString)
        : this(connectionString, DefaultBound)
    {
    }

    /// <summary>Enough for the API's concurrent reads on every core, few enough to be noise next to the data plane's descriptors.</summary>
    public static int DefaultBound { get; } = Math.Clamp(Environment.ProcessorCount * 2, 4, 16);

    public string ConnectionString { get; } = connectionString;

    public int Bound { get; } = bound;

    /// <summary>Connections handed out and not yet disposed.</summary>
    internal int Open => Bound - _slots.CurrentCount;

    /// <summary>Callers waiting for a connection.</summary>
    internal int Queued => Volatile.Read(ref _queued);

    /// <summary>
    /// An open connection (with <paramref name="pragmas"/> run on it, if any) that gives its slot back
    /// when disposed; waits while <see cref="Bound"/> are out.
    /// </summary>
    public async Task<SqliteConnection> OpenAsync(string? pragmas, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _queued);
        try
        {
            await _slots.WaitAsync(cancellationToken);
        }
        finally
        {
            Interlocked.Decrement(ref _queued);
        }

        var connection = new Slot(ConnectionString, _slots);
        try
        {
            await connection.OpenAsync(cancellationToken);
            if (pragmas is not null)
            {
                await using var pragma = connection.CreateCommand();
                pragma.CommandText = pragmas;
                await pragma.ExecuteNonQueryAsync(cancellationToken);
            }

            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>A connection that frees its slot once, however it is disposed.</summary>
    private sealed class Slot(string connectionString, SemaphoreSlim slots) : SqliteConnection(connectionString)
    {
        private int _released;

        protected override void Dispose(bool disposing)
        {
            try
            {
                base.Dispose(disposing);
            }
            finally
            {
                if (disposing)
                {
                    Release();
                }
            }
        }

        public override async ValueTask DisposeAsync()
        {
            try
            {
                await base.DisposeAsync();
            }
            finally
            {
                Release();
            }
        }

        private void Release()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                slots.Release();
            }
        }
    }
}
