using System.Data;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using MultiVip.Model.Errors;
using MultiVip.Model.Operations;
using MultiVip.Model.ReservedIps;
using MultiVip.Model.Services;
using Npgsql;
using NpgsqlTypes;

namespace MultiVip.Control.State;

/// <summary>
/// The state shared by several nodes, on PostgreSQL. The same documents as SQLite
/// (<see cref="StoredDocumentJson"/>), the same rules, enforced by the database for every writer:
/// <list type="bullet">
/// <item>a commit carries the versions it read: an UPDATE/DELETE that matches no row of that
/// version, or an INSERT of a name that exists, refuses the whole commit as stale;</item>
/// <item>one address, one owner: the <c>addresses</c> primary key (a unique violation is a stale
/// commit, re-run on fresh state, where the domain reports it in its own words);</item>
/// <item>generations follow commit order. The first statement of every commit increments the one
/// <c>cluster_state</c> row and keeps its row lock until COMMIT, so commits that overlap take their
/// generations one after the other, in the order they become visible. A sequence (<c>nextval</c>)
/// would not do: two transactions could take 5 and 6 and commit 6 first, and a node catching up
/// "after 6" would never read 5;</item>
/// <item>a change feed: every commit NOTIFYs <see cref="Channel"/> with its last generation, and
/// <see cref="LoadChangesSinceAsync"/> is the catch-up read, so a missed notification is only late.</item>
/// </list>
/// A database that cannot be reached makes every call fail with 503 and a sentence naming it and
/// since when (<see cref="Messages.StateDatabaseUnreachable"/>); nothing is changed half-way, as
/// each change is one transaction.
/// </summary>
public sealed partial class PostgresStateStore : IStateStore, ITransferableStore
{
    public const string Channel = "multivip_changes";

    private readonly NpgsqlDataSource _data;
    private readonly NpgsqlDataSource _listenData;
    private readonly PostgresLocation _location;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _notified = new(0, 1);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _outageGate = new();
    private readonly Task _listener;
    private DateTimeOffset? _unreachableSince;

    private PostgresStateStore(PostgresLocation location, NpgsqlDataSource data, NpgsqlDataSource listenData, TimeProvider time, ILogger logger)
    {
        _location = location;
        _data = data;
        _listenData = listenData;
        _time = time;
        _logger = logger;
        Usage = new PostgresUsageStore(data);
        Nodes = new MultiVip.Control.Nodes.PostgresNodeRegistry(data);
        _listener = Task.Run(() => ListenAsync(_stopping.Token));
    }

    public PostgresLocation Location => _location;

    /// <summary>The registry of the nodes sharing this database (heartbeats, applied generations).</summary>
    public MultiVip.Control.Nodes.PostgresNodeRegistry Nodes { get; }

    /// <summary>Usage intervals and traffic, in the same database (intervals written in each commit's transaction).</summary>
    public PostgresUsageStore Usage { get; }

    /// <summary>Opens the store and applies pending migrations (once, however many nodes start together).</summary>
    public static async Task<PostgresStateStore> OpenAsync(PostgresLocation location, TimeProvider time, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var data = NpgsqlDataSource.Create(location.Builder.ConnectionString);

        // The listener holds one connection for LISTEN; keepalives let it notice a server gone away.
        var listen = new NpgsqlConnectionStringBuilder(location.Builder.ConnectionString) { Pooling = false, KeepAlive = 5 };
        var listenData = NpgsqlDataSource.Create(listen.ConnectionString);
        try
        {
            await using var connection = await data.OpenConnectionAsync(cancellationToken);
            await PostgresMigrations.ApplyAsync(connection, cancellationToken);
        }
        catch (Exception ex) when (IsUnreachable(ex) || ex is PostgresException)
        {
            await data.DisposeAsync();
            await listenData.DisposeAsync();
            throw new StateStorageException(Messages.StateDatabaseUnreachableAtStart(location.Endpoint, Detail(ex)), ex);
        }
        catch
        {
            await data.DisposeAsync();
            await listenData.DisposeAsync();
            throw;
        }

        return new PostgresStateStore(location, data, listenData, time, loggers.CreateLogger<PostgresStateStore>());
    }

    public Task<StoredState> LoadAsync(CancellationToken cancellationToken) => GuardAsync(async () =>
    {
        await using var connection = await _data.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
        await using var batch = new NpgsqlBatch(connection, tx)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand("SELECT generation, allocation_cursor, allocation_cursor_v6 FROM cluster_state WHERE id = 1"),
                new NpgsqlBatchCommand("SELECT doc FROM services ORDER BY name_key"),
                new NpgsqlBatchCommand("SELECT doc FROM reserved_ips ORDER BY name_key"),
                new NpgsqlBatchCommand("SELECT doc FROM operations WHERE status = 'InProgress' ORDER BY seq"),
            },
        };
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        var (generation, cursor, cursorV6) = await ReadClusterStateAsync(reader, cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        var services = await ReadDocumentsAsync<CloudService>(reader, cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        var reserved = await ReadDocumentsAsync<ReservedIp>(reader, cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        var unfinished = await ReadDocumentsAsync<Operation>(reader, cancellationToken);
        return new StoredState(services, reserved, cursor, generation, unfinished) { AllocationCursorV6 = cursorV6 };
    });

    public Task<StoredChanges> LoadChangesSinceAsync(long generation, CancellationToken cancellationToken) => GuardAsync(async () =>
    {
        // One snapshot (REPEATABLE READ): every commit up to the generation read here is visible in
        // it, since a commit with a higher generation took the counter's lock only after the
        // commit before it had become visible.
        await using var connection = await _data.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
        await using var batch = new NpgsqlBatch(connection, tx)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand("SELECT generation, allocation_cursor, allocation_cursor_v6 FROM cluster_state WHERE id = 1"),
                Since("SELECT doc FROM services WHERE generation > @g ORDER BY name_key", generation),
                Since("SELECT doc FROM reserved_ips WHERE generation > @g ORDER BY name_key", generation),
                Since("SELECT name FROM tombstones WHERE kind = 'services' AND generation > @g ORDER BY name_key", generation),
                Since("SELECT name FROM tombstones WHERE kind = 'reserved_ips' AND generation > @g ORDER BY name_key", generation),
            },
        };
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        var (current, cursor, cursorV6) = await ReadClusterStateAsync(reader, cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        var services = await ReadDocumentsAsync<CloudService>(reader, cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        var reserved = await ReadDocumentsAsync<ReservedIp>(reader, cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        var deletedServices = await ReadStringsAsync(reader, cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        var deletedReserved = await ReadStringsAsync(reader, cancellationToken);
        return new StoredChanges(current, services, deletedServices, reserved, deletedReserved, cursor, cursorV6);
    });

    public Task WaitForChangesAsync(CancellationToken cancellationToken) => _notified.WaitAsync(cancellationToken);

    /// <summary>
    /// How long a commit whose COMMIT reply was lost keeps trying to read back whether it committed
    /// before it gives up and reports the outcome as in doubt (<see cref="CommitInDoubtException"/>).
    /// </summary>
    internal TimeSpan ResolveWithin { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Test hook: runs at <see cref="CommitPoint"/>s with the committing connection's backend pid.</summary>
    internal Func<CommitPoint, int, Task>? CommitHook { get; set; }

    /// <summary>Test hook: runs before each read-back of an ambiguous commit (may throw as an unreachable database would).</summary>
    internal Func<Task>? ReadBackHook { get; set; }

    internal enum CommitPoint
    {
        /// <summary>Everything is written, COMMIT is about to be sent.</summary>
        BeforeCommit,

        /// <summary>COMMIT was answered; a hook that throws here is a reply lost after the commit.</summary>
        AfterCommit,
    }

    public async Task<CommitReceipt> CommitAsync(IReadOnlyList<StateChange> changes, CancellationToken cancellationToken)
    {
        var outcome = new CommitOutcome();
        try
        {
            return await GuardAsync(() => CommitOnceAsync(changes, outcome, cancellationToken), retryBefore: outcome);
        }
        catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.UniqueViolation)
        {
            throw new StateConflictException(UniqueViolationMessage(ex));
        }
        catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure)
        {
            throw new StateConflictException($"The commit met another writer's ({ex.MessageText}).");
        }
    }

    private async Task<CommitReceipt> CommitOnceAsync(IReadOnlyList<StateChange> changes, CommitOutcome outcome, CancellationToken cancellationToken)
    {
        await using var connection = await _data.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken);

        // First: the generation counter, whose row lock orders this commit after every commit that
        // holds it now and before every one that asks for it later (see the class comment).
        long last;
        await using (var counter = new NpgsqlCommand("UPDATE cluster_state SET generation = generation + @n WHERE id = 1 RETURNING generation", connection, tx))
        {
            counter.Parameters.AddWithValue("n", (long)changes.Count);
            last = (long)(await counter.ExecuteScalarAsync(cancellationToken))!;
        }

        var first = last - changes.Count + 1;
        await using var batch = new NpgsqlBatch(connection, tx);
        var guarded = new List<(NpgsqlBatchCommand Command, string Conflict)>();
        for (var i = 0; i < changes.Count; i++)
        {
            AddChange(batch, guarded, changes[i], first + i);
        }

        var notify = new NpgsqlBatchCommand("SELECT pg_notify(@channel, @generation)");
        notify.Parameters.AddWithValue("channel", Channel);
        notify.Parameters.AddWithValue("generation", last.ToString(System.Globalization.CultureInfo.InvariantCulture));
        batch.BatchCommands.Add(notify);
        await batch.ExecuteNonQueryAsync(cancellationToken);
        foreach (var (command, conflict) in guarded)
        {
            if (command.RecordsAffected != 1)
            {
                // Disposing the transaction rolls back everything this commit wrote.
                throw new StateConflictException(conflict);
            }
        }

        var backend = connection.ProcessID;
        if (CommitHook is { } before)
        {
            await before(CommitPoint.BeforeCommit, backend);
        }

        outcome.Committing = true;
        try
        {
            await tx.CommitAsync(cancellationToken);
            if (CommitHook is { } after)
            {
                await after(CommitPoint.AfterCommit, backend);
            }
        }
        catch (Exception ex) when (IsUnreachable(ex))
        {
            // The connection broke while COMMIT was on its way: the transaction may or may not have
            // committed. Answering 503 now would leave a committed operation InProgress forever (no
            // node tracks it) and invite the caller to make the change twice; so find out first.
            var operationId = changes[0].Operation.OperationId;
            switch (await CommittedAsync(operationId, backend, cancellationToken))
            {
                case true:
                    Log.CommitReadBack(_logger, operationId, first, last, "made");
                    return new CommitReceipt(first, last);
                case false:
                    // Certainly not made: a plain failure before the commit, which GuardAsync may
                    // retry on a fresh connection and otherwise words as "the change was not made".
                    Log.CommitReadBack(_logger, operationId, first, last, "not made");
                    outcome.Committing = false;
                    throw;
                default:
                    throw new CommitInDoubtException(
                        Messages.StateDatabaseCommitInDoubt(_location.Endpoint, Detail(ex)),
                        new CommitReceipt(first, last),
                        ct => CommittedOnceAsync(operationId, backend, ct),
                        ex);
            }
        }

        return new CommitReceipt(first, last);
    }

    /// <summary>
    /// Whether the commit whose operation is <paramref name="operationId"/> and whose connection's
    /// backend was <paramref name="backend"/> was made: true, false, or null when the database could
    /// not tell within <see cref="ResolveWithin"/>.
    /// </summary>
    private async Task<bool?> CommittedAsync(Guid operationId, int backend, CancellationToken cancellationToken)
    {
        var deadline = _time.GetUtcNow() + ResolveWithin;
        while (true)
        {
            if (await CommittedOnceAsync(operationId, backend, cancellationToken) is { } known)
            {
                return known;
            }

            if (_time.GetUtcNow() >= deadline)
            {
                return null;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), _time, cancellationToken);
        }
    }

    /// <summary>
    /// One look, on a fresh connection: the old backend is ended (it may still be running our
    /// COMMIT, or be waiting on a socket the network cut) and, once it is gone, the operation's row
    /// is there exactly when the commit was made: the row is written in the commit's transaction,
    /// and a transaction that ended before this look is visible to the look's later snapshot.
    /// Null while the database cannot be asked or the backend has not exited yet.
    /// </summary>
    private async Task<bool?> CommittedOnceAsync(Guid operationId, int backend, CancellationToken cancellationToken)
    {
        try
        {
            if (ReadBackHook is { } hook)
            {
                await hook();
            }

            _data.Clear();
            await using var connection = await _data.OpenConnectionAsync(cancellationToken);

            // The order matters: first make sure the backend is gone (a COMMIT in progress finishes or
            // not before it exits; pg_terminate_backend is allowed on our own role's sessions), then
            // look for the row in a new statement, whose snapshot sees whatever that backend committed.
            await using (var alive = new NpgsqlCommand("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = @pid AND pid <> pg_backend_pid()", connection))
            {
                alive.Parameters.AddWithValue("pid", backend);
                if (await alive.ExecuteScalarAsync(cancellationToken) is not null)
                {
                    return null;
                }
            }

            await using var look = new NpgsqlCommand("SELECT EXISTS(SELECT 1 FROM operations WHERE id = @id)", connection);
            look.Parameters.AddWithValue("id", operationId);
            return (bool)(await look.ExecuteScalarAsync(cancellationToken))!;
        }
        catch (Exception ex) when (IsUnreachable(ex))
        {
            return null;
        }
    }

    private static void AddChange(NpgsqlBatch batch, List<(NpgsqlBatchCommand, string)> guarded, StateChange change, long generation)
    {
        foreach (var (name, expected) in change.DeleteServices)
        {
            Release(batch, "vip", name);
            Delete(batch, guarded, "services", name, expected, generation);
        }

        foreach (var (name, expected) in change.DeleteReservedIps)
        {
            Release(batch, "reserved", name);
            Delete(batch, guarded, "reserved_ips", name, expected, generation);
        }

        // Release every address the changed aggregates held before claiming what they hold now:
        // an address may move between owners in one change (reserving a VIP's address).
        foreach (var (service, _) in change.UpsertServices)
        {
            Release(batch, "vip", service.Name);
        }

        foreach (var (reserved, _) in change.UpsertReservedIps)
        {
            Release(batch, "reserved", reserved.Name);
        }

        foreach (var (service, expected) in change.UpsertServices)
        {
            Upsert(batch, guarded, "services", service.Name, service.Version, expected, generation, StoredDocumentJson.Write(service));
            foreach (var vip in service.Deployment?.VirtualIps ?? [])
            {
                if (vip.Address is { } address && vip.ReservedIpName is null)
                {
                    Claim(batch, address, "vip", service.Name, vip.Name);
                }
            }
        }

        foreach (var (reserved, expected) in change.UpsertReservedIps)
        {
            Upsert(batch, guarded, "reserved_ips", reserved.Name, reserved.Version, expected, generation, StoredDocumentJson.Write(reserved));
            Claim(batch, reserved.Address, "reserved", reserved.Name, null);
        }

        if (change.AllocationCursor is { } cursor)
        {
            var command = new NpgsqlBatchCommand("UPDATE cluster_state SET allocation_cursor = @c WHERE id = 1");
            command.Parameters.AddWithValue("c", (long)cursor);
            batch.BatchCommands.Add(command);
        }

        if (change.AllocationCursorV6 is { } cursorV6)
        {
            var command = new NpgsqlBatchCommand("UPDATE cluster_state SET allocation_cursor_v6 = @c WHERE id = 1");
            command.Parameters.AddWithValue("c", cursorV6.ToString());
            batch.BatchCommands.Add(command);
        }

        var operation = change.Operation with { Generation = generation };
        var insert = new NpgsqlBatchCommand("INSERT INTO operations(id, created_at, status, target, doc) VALUES(@id, @created, @status, @target, @doc)");
        insert.Parameters.AddWithValue("id", operation.OperationId);
        insert.Parameters.AddWithValue("created", operation.CreatedAt.ToUniversalTime());
        insert.Parameters.AddWithValue("status", operation.OperationStatus.ToString());
        insert.Parameters.Add(Text("target", operation.Target));
        insert.Parameters.AddWithValue("doc", StoredDocumentJson.Write(operation));
        batch.BatchCommands.Add(insert);
        PostgresUsageStore.AddWrites(batch, change.Usage);
    }

    private static void Upsert(NpgsqlBatch batch, List<(NpgsqlBatchCommand, string)> guarded, string table, string name, long version, long expected, long generation, string doc)
    {
        NpgsqlBatchCommand command;
        if (expected == 0)
        {
            // A name deleted earlier and created again: the row is its state now, not the tombstone.
            var tombstone = new NpgsqlBatchCommand($"DELETE FROM tombstones WHERE kind = '{table}' AND name_key = @key");
            tombstone.Parameters.AddWithValue("key", Key(name));
            batch.BatchCommands.Add(tombstone);
            command = new NpgsqlBatchCommand($"INSERT INTO {table}(name_key, name, version, generation, doc) VALUES(@key, @name, @version, @generation, @doc) ON CONFLICT (name_key) DO NOTHING");
            guarded.Add((command, $"{table} '{name}' already exists in the store."));
        }
        else
        {
            command = new NpgsqlBatchCommand($"UPDATE {table} SET version = @version, generation = @generation, doc = @doc WHERE name_key = @key AND version = @expected");
            command.Parameters.AddWithValue("expected", expected);
            guarded.Add((command, $"{table} '{name}' was changed by another writer (expected version {expected})."));
        }

        command.Parameters.AddWithValue("key", Key(name));
        command.Parameters.AddWithValue("name", name);
        command.Parameters.AddWithValue("version", version);
        command.Parameters.AddWithValue("generation", generation);
        command.Parameters.AddWithValue("doc", doc);
        batch.BatchCommands.Add(command);
    }

    private static void Delete(NpgsqlBatch batch, List<(NpgsqlBatchCommand, string)> guarded, string table, string name, long expected, long generation)
    {
        var command = new NpgsqlBatchCommand($"DELETE FROM {table} WHERE name_key = @key AND version = @expected");
        command.Parameters.AddWithValue("key", Key(name));
        command.Parameters.AddWithValue("expected", expected);
        batch.BatchCommands.Add(command);
        guarded.Add((command, $"{table} '{name}' was changed by another writer (expected version {expected})."));

        // The tombstone is how other nodes' catch-up reads learn of the deletion.
        var tombstone = new NpgsqlBatchCommand("""
            INSERT INTO tombstones(kind, name_key, name, generation) VALUES(@kind, @key, @name, @generation)
            ON CONFLICT (kind, name_key) DO UPDATE SET name = excluded.name, generation = excluded.generation
            """);
        tombstone.Parameters.AddWithValue("kind", table);
        tombstone.Parameters.AddWithValue("key", Key(name));
        tombstone.Parameters.AddWithValue("name", name);
        tombstone.Parameters.AddWithValue("generation", generation);
        batch.BatchCommands.Add(tombstone);
    }

    private static void Release(NpgsqlBatch batch, string kind, string owner)
    {
        var command = new NpgsqlBatchCommand("DELETE FROM addresses WHERE owner_kind = @kind AND owner_key = @owner");
        command.Parameters.AddWithValue("kind", kind);
        command.Parameters.AddWithValue("owner", Key(owner));
        batch.BatchCommands.Add(command);
    }

    private static void Claim(NpgsqlBatch batch, string address, string kind, string owner, string? vip)
    {
        var command = new NpgsqlBatchCommand("INSERT INTO addresses(address, owner_kind, owner_key, vip_name) VALUES(@address, @kind, @owner, @vip)");
        command.Parameters.AddWithValue("address", address);
        command.Parameters.AddWithValue("kind", kind);
        command.Parameters.AddWithValue("owner", Key(owner));
        command.Parameters.Add(Text("vip", vip));
        batch.BatchCommands.Add(command);
    }

    private static string UniqueViolationMessage(PostgresException ex)
    {
        // Detail: "Key (address)=(127.110.1.5) already exists."
        if (ex.ConstraintName == "addresses_pkey" && ex.Detail is { } detail)
        {
            var open = detail.IndexOf(")=(", StringComparison.Ordinal);
            var close = detail.IndexOf(')', open + 3);
            if (open >= 0 && close > open)
            {
                return $"The address {detail[(open + 3)..close]} is already in use.";
            }
        }

        return $"Another writer stored the same key first ({ex.ConstraintName}: {ex.Detail ?? ex.MessageText}).";
    }

    public Task UpdateOperationsAsync(IReadOnlyList<Operation> operations, CancellationToken cancellationToken)
    {
        if (operations.Count == 0)
        {
            return Task.CompletedTask;
        }

        return GuardAsync<bool>(async () =>
        {
            await using var connection = await _data.OpenConnectionAsync(cancellationToken);
            await using var tx = await connection.BeginTransactionAsync(cancellationToken);
            await using var batch = new NpgsqlBatch(connection, tx);
            foreach (var operation in operations)
            {
                var command = new NpgsqlBatchCommand("UPDATE operations SET status = @status, doc = @doc WHERE id = @id");
                command.Parameters.AddWithValue("status", operation.OperationStatus.ToString());
                command.Parameters.AddWithValue("doc", StoredDocumentJson.Write(operation));
                command.Parameters.AddWithValue("id", operation.OperationId);
                batch.BatchCommands.Add(command);
            }

            await batch.ExecuteNonQueryAsync(cancellationToken);
            await tx.CommitAsync(cancellationToken);
            return true;
        });
    }

    public Task<Operation?> GetOperationAsync(Guid id, CancellationToken cancellationToken) => GuardAsync(async () =>
    {
        await using var command = _data.CreateCommand("SELECT doc FROM operations WHERE id = @id");
        command.Parameters.AddWithValue("id", id);
        return await command.ExecuteScalarAsync(cancellationToken) is string doc ? StoredDocumentJson.Read<Operation>(doc) : null;
    });

    public Task<IReadOnlyList<Operation>> ListOperationsAsync(int limit, CancellationToken cancellationToken) => GuardAsync<IReadOnlyList<Operation>>(async () =>
    {
        await using var command = _data.CreateCommand("SELECT doc FROM operations ORDER BY seq DESC LIMIT @limit");
        command.Parameters.AddWithValue("limit", limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await ReadDocumentsAsync<Operation>(reader, cancellationToken);
    });

    /// <summary>
    /// Holds one connection with LISTEN on <see cref="Channel"/> and wakes <see cref="WaitForChangesAsync"/>
    /// on every notification; on the node registry's channel it passes the writer's name to
    /// <see cref="Nodes"/> instead (a record, not a commit: nothing to catch up). A lost connection is opened again every second; after each (re)start
    /// it wakes the waiter once, since commits made while nobody listened were not announced.
    /// </summary>
    private async Task ListenAsync(CancellationToken cancellationToken)
    {
        var failing = false;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await _listenData.OpenConnectionAsync(cancellationToken);
                connection.Notification += (_, e) =>
                {
                    if (e.Channel == MultiVip.Control.Nodes.PostgresNodeRegistry.Channel)
                    {
                        Nodes.Notified(e.Payload);
                    }
                    else
                    {
                        Wake();
                    }
                };
                await using (var listen = new NpgsqlCommand($"LISTEN {Channel}; LISTEN {MultiVip.Control.Nodes.PostgresNodeRegistry.Channel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(cancellationToken);
                }

                failing = false;
                Wake();
                while (true)
                {
                    await connection.WaitAsync(cancellationToken);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // Once per lost connection, not once a second while the database is away.
                if (!failing)
                {
                    Log.ListenFailed(_logger, _location.Endpoint, Detail(ex));
                }

                failing = true;
                await Task.Delay(TimeSpan.FromSeconds(1), _time, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    private void Wake()
    {
        try
        {
            _notified.Release();
        }
        catch (SemaphoreFullException)
        {
            // A wake-up is already pending; the catch-up it causes reads this commit too.
        }
    }

    /// <summary>
    /// Runs one database call and words a lost database as a 503 with the time the outage began
    /// (kept until a call succeeds again). A call that failed on a broken pooled connection (the
    /// server restarted since) is tried once more on a fresh one — unless it failed while
    /// committing, when the outcome is unknown and only the caller can look.
    /// </summary>
    private async Task<T> GuardAsync<T>(Func<Task<T>> call, CommitOutcome? retryBefore = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var result = await call();
                lock (_outageGate)
                {
                    if (_unreachableSince is { } since)
                    {
                        Log.Reachable(_logger, _location.Endpoint, since);
                    }

                    _unreachableSince = null;
                }

                return result;
            }
            catch (Exception ex) when (IsUnreachable(ex))
            {
                _data.Clear();
                if (attempt == 1 && retryBefore is not { Committing: true })
                {
                    continue;
                }

                DateTimeOffset since;
                lock (_outageGate)
                {
                    if (_unreachableSince is null)
                    {
                        Log.Unreachable(_logger, _location.Endpoint, Detail(ex));
                    }

                    since = _unreachableSince ??= _time.GetUtcNow();
                }

                var message = Messages.StateDatabaseUnreachable(_location.Endpoint, since, Detail(ex));
                if (retryBefore is { Committing: true })
                {
                    message += " The connection was lost while committing, so the change may have been made: look before making it again.";
                }

                throw new MultiVipException(ErrorCode.ServiceUnavailable, message, ex);
            }
        }
    }

    /// <summary>The server did not answer (refused, reset, timed out, shutting down), as opposed to refusing a statement.</summary>
    internal static bool IsUnreachable(Exception error) => error switch
    {
        PostgresException pg => pg.SqlState.StartsWith("08", StringComparison.Ordinal)
            || pg.SqlState is PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown or PostgresErrorCodes.CannotConnectNow or PostgresErrorCodes.TooManyConnections,
        NpgsqlException or SocketException or TimeoutException or IOException => true,
        _ => false,
    };

    private static string Detail(Exception error)
    {
        var inner = error;
        while (inner.InnerException is { } next && inner is not PostgresException)
        {
            inner = next;
        }

        return StorageFailures.Detail(inner == error ? error : new InvalidOperationException($"{error.Message.TrimEnd('.')}: {inner.Message}"));
    }

    private static string Key(string name) => name.ToUpperInvariant();

    private static NpgsqlParameter Text(string name, string? value) =>
        new(name, NpgsqlDbType.Text) { Value = (object?)value ?? DBNull.Value };

    private static NpgsqlBatchCommand Since(string sql, long generation)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.AddWithValue("g", generation);
        return command;
    }

    private static async Task<(long Generation, uint? Cursor, Model.Networking.IpNumber? CursorV6)> ReadClusterStateAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        if (!await reader.ReadAsync(cancellationToken))
        {
            throw new StateStorageException("The state database has no cluster_state row: it was not created by MultiVip, or was damaged.");
        }

        var generation = reader.GetInt64(0);
        uint? cursor = reader.IsDBNull(1) ? null : (uint)reader.GetInt64(1);
        Model.Networking.IpNumber? cursorV6 = !reader.IsDBNull(2) && Model.Networking.IpNumber.TryParse(reader.GetString(2), out var v6) ? v6 : null;
        return (generation, cursor, cursorV6);
    }

    private static async Task<List<T>> ReadDocumentsAsync<T>(NpgsqlDataReader reader, CancellationToken cancellationToken)
        where T : class
    {
        var list = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(StoredDocumentJson.Read<T>(reader.GetString(0)));
        }

        return list;
    }

    private static async Task<List<string>> ReadStringsAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        var list = new List<string>();
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(reader.GetString(0));
        }

        return list;
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _listener;
        await _data.DisposeAsync();
        await _listenData.DisposeAsync();
        _stopping.Dispose();
        _notified.Dispose();
    }

    private sealed class CommitOutcome
    {
        /// <summary>Set just before COMMIT is sent: a failure after it leaves the outcome unknown.</summary>
        public bool Committing { get; set; }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5010, EventName = "StateDatabaseUnreachable", Level = LogLevel.Error, Message = "The state database at {Endpoint} is unreachable ({Detail}); changes are refused with 503 until it answers, traffic keeps the last state")]
        public static partial void Unreachable(ILogger logger, string endpoint, string detail);

        [LoggerMessage(EventId = 5011, EventName = "StateDatabaseReachable", Level = LogLevel.Information, Message = "The state database at {Endpoint} answers again (unreachable since {Since:u})")]
        public static partial void Reachable(ILogger logger, string endpoint, DateTimeOffset since);

        [LoggerMessage(EventId = 5920, EventName = "CommitReadBack", Level = LogLevel.Warning, Message = "The connection to the state database broke while committing operation {OperationId} (generations {First}-{Last}); read back from the database: the change was {Outcome}")]
        public static partial void CommitReadBack(ILogger logger, Guid operationId, long first, long last, string outcome);

        [LoggerMessage(EventId = 5012, EventName = "ChangeListenerFailed", Level = LogLevel.Warning, Message = "Listening for changes on the state database at {Endpoint} failed ({Detail}); trying again every second (the periodic catch-up goes on meanwhile)")]
        public static partial void ListenFailed(ILogger logger, string endpoint, string detail);
    }
}
