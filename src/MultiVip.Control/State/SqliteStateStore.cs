using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using MultiVip.Contracts;
using MultiVip.Model.Errors;
using MultiVip.Model.Operations;
using MultiVip.Model.ReservedIps;
using MultiVip.Model.Services;

namespace MultiVip.Control.State;

/// <summary>
/// The embedded store: one SQLite file in the data dir, WAL journal, synchronous=FULL so a commit
/// that returned is on disk before the API acknowledges it (a kill -9 or power cut loses nothing
/// acknowledged). Aggregates are JSON documents; the <c>addresses</c> table mirrors every address
/// in use with a primary key, so the database itself refuses to hand one address out twice.
/// </summary>
public sealed partial class SqliteStateStore : IStateStore, ITransferableStore
{
    public const string FileName = "multivip.db";

    private readonly SqliteConnection _writer;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly string _connectionString;

    private SqliteStateStore(string connectionString, SqliteConnection writer)
    {
        _connectionString = connectionString;
        _writer = writer;
        Readers = new SqliteConnections(connectionString);
    }

    public string ConnectionString => _connectionString;

    /// <summary>The bounded connections every reader of this database shares (operations, usage, node registry).</summary>
    public SqliteConnections Readers { get; }

    public static async Task<SqliteStateStore> OpenAsync(string dataDir, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(dataDir);
        var path = Path.Combine(dataDir, FileName);
        var connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        var writer = new SqliteConnection(connectionString);
        try
        {
            await writer.OpenAsync(cancellationToken);
            await ExecuteAsync(writer, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=30000;", cancellationToken);
            await CheckIntegrityAsync(writer, dataDir, path, cancellationToken);
            await SchemaMigrations.ApplyAsync(writer, cancellationToken);
        }
        catch (Exception ex) when (ex is SqliteException or IOException or StateStorageException)
        {
            // A store that cannot be opened whole is not opened at all: the server must not start
            // on part of its state (or an empty one) and hand out addresses that are in use.
            await writer.DisposeAsync();
            SqliteConnection.ClearPool(writer);
            throw StorageFailures.AtStart(ex, dataDir, path);
        }

        return new SqliteStateStore(connectionString, writer);
    }

    /// <summary>
    /// Reads every page once at start (PRAGMA integrity_check): a damaged file stops the start with
    /// one line, instead of loading whatever rows can still be read and serving that as the state.
    /// </summary>
    private static async Task CheckIntegrityAsync(SqliteConnection connection, string dataDir, string path, CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        await using (var cmd = connection.CreateCommand())
        {
            cmd.CommandText = "PRAGMA integrity_check(3)";
            await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                problems.Add(reader.GetString(0));
            }
        }

        if (problems is not ["ok"])
        {
            throw new StateStorageException(Messages.DatabaseDamaged(dataDir, path, StorageFailures.Detail(new InvalidDataException("SQLite integrity check: " + string.Join("; ", problems)))));
        }
    }

    /// <summary>The directory holding the database, for messages about its disk.</summary>
    private string DataDir => Path.GetDirectoryName(new SqliteConnectionStringBuilder(_connectionString).DataSource) ?? ".";

    public async Task<StoredState> LoadAsync(CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            var services = new List<CloudService>();
            await using (var cmd = _writer.CreateCommand())
            {
                cmd.CommandText = "SELECT doc FROM services ORDER BY name";
                await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    services.Add(Deserialize<CloudService>(reader.GetString(0)));
                }
            }

            var reserved = new List<ReservedIp>();
            await using (var cmd = _writer.CreateCommand())
            {
                cmd.CommandText = "SELECT doc FROM reserved_ips ORDER BY name";
                await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    reserved.Add(Deserialize<ReservedIp>(reader.GetString(0)));
                }
            }

            var unfinished = new List<Operation>();
            await using (var cmd = _writer.CreateCommand())
            {
                cmd.CommandText = "SELECT doc FROM operations WHERE status = 'InProgress' ORDER BY seq";
                await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    unfinished.Add(Deserialize<Operation>(reader.GetString(0)));
                }
            }

            var cursor = await GetMetaAsync("allocation_cursor", cancellationToken);
            var cursorV6 = await GetMetaAsync("allocation_cursor_v6", cancellationToken);
            var generation = await GetMetaAsync("generation", cancellationToken);
            return new StoredState(
                services,
                reserved,
                cursor is null ? null : uint.Parse(cursor, CultureInfo.InvariantCulture),
                generation is null ? 0 : long.Parse(generation, CultureInfo.InvariantCulture),
                unfinished)
            {
                AllocationCursorV6 = cursorV6 is not null && Model.Networking.IpNumber.TryParse(cursorV6, out var v6) ? v6 : null,
            };
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public async Task<CommitReceipt> CommitAsync(IReadOnlyList<StateChange> changes, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            // BEGIN IMMEDIATE: the file's write lock is held from here to the commit, so reading the
            // generation and writing the next ones cannot interleave with another process's commit —
            // generations are handed out in commit order (see docs/architecture.md#storage).
            await using var tx = (SqliteTransaction)await _writer.BeginTransactionAsync(System.Data.IsolationLevel.Serializable, cancellationToken);
            try
            {
                var stored = await GetMetaAsync(tx, "generation", cancellationToken);
                var generation = stored is null ? 0 : long.Parse(stored, CultureInfo.InvariantCulture);
                var first = generation + 1;
                foreach (var change in changes)
                {
                    await ApplyAsync(tx, change, ++generation, cancellationToken);
                }

                await tx.CommitAsync(cancellationToken);
                return new CommitReceipt(first, generation);
            }
            catch
            {
                await tx.RollbackAsync(CancellationToken.None);
                throw;
            }
        }
        catch (SqliteException ex) when (StorageFailures.IsDiskFull(ex, DataDir))
        {
            // 507 with a sentence, not a 500: the change was rolled back, and the next one after
            // space returns is committed normally.
            throw StorageFailures.DiskFull(DataDir, ex);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private static async Task ApplyAsync(SqliteTransaction tx, StateChange change, long generation, CancellationToken cancellationToken)
    {
        foreach (var (name, expected) in change.DeleteServices)
        {
            await ReleaseAddressesAsync(tx, "vip", name, cancellationToken);
            await DeleteAsync(tx, "services", name, expected, generation, cancellationToken);
        }

        foreach (var (name, expected) in change.DeleteReservedIps)
        {
            await ReleaseAddressesAsync(tx, "reserved", name, cancellationToken);
            await DeleteAsync(tx, "reserved_ips", name, expected, generation, cancellationToken);
        }

        // Release every address the changed aggregates held before inserting what they hold
        // now: an address may move between owners in one change (reserving a VIP's address).
        foreach (var (service, _) in change.UpsertServices)
        {
            await ReleaseAddressesAsync(tx, "vip", service.Name, cancellationToken);
        }

        foreach (var (reserved, _) in change.UpsertReservedIps)
        {
            await ReleaseAddressesAsync(tx, "reserved", reserved.Name, cancellationToken);
        }

        foreach (var (service, expected) in change.UpsertServices)
        {
            await UpsertAsync(tx, "services", service.Name, service.Version, expected, generation, Serialize(service), cancellationToken);
            foreach (var vip in service.Deployment?.VirtualIps ?? [])
            {
                if (vip.Address is { } address && vip.ReservedIpName is null)
                {
                    await ClaimAddressAsync(tx, address, "vip", service.Name, vip.Name, cancellationToken);
                }
            }
        }

        foreach (var (reserved, expected) in change.UpsertReservedIps)
        {
            await UpsertAsync(tx, "reserved_ips", reserved.Name, reserved.Version, expected, generation, Serialize(reserved), cancellationToken);
            await ClaimAddressAsync(tx, reserved.Address, "reserved", reserved.Name, null, cancellationToken);
        }

        if (change.AllocationCursor is { } cursor)
        {
            await SetMetaAsync(tx, "allocation_cursor", cursor.ToString(CultureInfo.InvariantCulture), cancellationToken);
        }

        if (change.AllocationCursorV6 is { } cursorV6)
        {
            await SetMetaAsync(tx, "allocation_cursor_v6", cursorV6.ToString(), cancellationToken);
        }

        await SetMetaAsync(tx, "generation", generation.ToString(CultureInfo.InvariantCulture), cancellationToken);
        await InsertOperationAsync(tx, change.Operation with { Generation = generation }, cancellationToken);
        await SqliteUsageStore.WriteAsync(tx, change.Usage, cancellationToken);
    }

    public async Task<StoredChanges> LoadChangesSinceAsync(long generation, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            // One read transaction: the documents, tombstones, cursors and generation of one snapshot.
            await using var tx = _writer.BeginTransaction(deferred: true);
            var services = await ReadDocumentsSinceAsync<CloudService>(tx, "services", generation, cancellationToken);
            var reserved = await ReadDocumentsSinceAsync<ReservedIp>(tx, "reserved_ips", generation, cancellationToken);
            var deletedServices = await ReadTombstonesSinceAsync(tx, "services", generation, cancellationToken);
            var deletedReserved = await ReadTombstonesSinceAsync(tx, "reserved_ips", generation, cancellationToken);
            var cursor = await GetMetaAsync(tx, "allocation_cursor", cancellationToken);
            var cursorV6 = await GetMetaAsync(tx, "allocation_cursor_v6", cancellationToken);
            var current = await GetMetaAsync(tx, "generation", cancellationToken);
            await tx.CommitAsync(cancellationToken);
            return new StoredChanges(
                current is null ? 0 : long.Parse(current, CultureInfo.InvariantCulture),
                services,
                deletedServices,
                reserved,
                deletedReserved,
                cursor is null ? null : uint.Parse(cursor, CultureInfo.InvariantCulture),
                cursorV6 is not null && Model.Networking.IpNumber.TryParse(cursorV6, out var v6) ? v6 : null);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>SQLite has no notifications: the control plane's periodic catch-up read is the feed.</summary>
    public Task WaitForChangesAsync(CancellationToken cancellationToken) => Task.Delay(Timeout.Infinite, cancellationToken);

    private static async Task<List<T>> ReadDocumentsSinceAsync<T>(SqliteTransaction tx, string table, long generation, CancellationToken cancellationToken)
        where T : class
    {
        await using var cmd = tx.Connection!.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = $"SELECT doc FROM {table} WHERE generation > $generation ORDER BY name";
        cmd.Parameters.AddWithValue("$generation", generation);
        var list = new List<T>();
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(Deserialize<T>(reader.GetString(0)));
        }

        return list;
    }

    private static async Task<List<string>> ReadTombstonesSinceAsync(SqliteTransaction tx, string table, long generation, CancellationToken cancellationToken)
    {
        await using var cmd = tx.Connection!.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "SELECT name FROM tombstones WHERE kind = $kind AND generation > $generation ORDER BY name";
        cmd.Parameters.AddWithValue("$kind", table);
        cmd.Parameters.AddWithValue("$generation", generation);
        var list = new List<string>();
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(reader.GetString(0));
        }

        return list;
    }

    public async Task UpdateOperationsAsync(IReadOnlyList<Operation> operations, CancellationToken cancellationToken)
    {
        if (operations.Count == 0)
        {
            return;
        }

        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            // One transaction for a batch: operations completing together cost one fsync, not one each.
            await using var tx = (SqliteTransaction)await _writer.BeginTransactionAsync(cancellationToken);
            foreach (var operation in operations)
            {
                await using var cmd = _writer.CreateCommand();
                cmd.Transaction = tx;
                cmd.CommandText = "UPDATE operations SET status = $status, doc = $doc WHERE id = $id";
                cmd.Parameters.AddWithValue("$status", operation.OperationStatus.ToString());
                cmd.Parameters.AddWithValue("$doc", Serialize(operation));
                cmd.Parameters.AddWithValue("$id", operation.OperationId.ToString());
                await cmd.ExecuteNonQueryAsync(cancellationToken);
            }

            await tx.CommitAsync(cancellationToken);
        }
        catch (SqliteException ex) when (StorageFailures.IsDiskFull(ex, DataDir))
        {
            throw StorageFailures.DiskFull(DataDir, ex);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public async Task<Operation?> GetOperationAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT doc FROM operations WHERE id = $id";
        cmd.Parameters.AddWithValue("$id", id.ToString());
        var doc = await cmd.ExecuteScalarAsync(cancellationToken) as string;
        return doc is null ? null : Deserialize<Operation>(doc);
    }

    public async Task<IReadOnlyList<Operation>> ListOperationsAsync(int limit, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT doc FROM operations ORDER BY seq DESC LIMIT $limit";
        cmd.Parameters.AddWithValue("$limit", limit);
        var list = new List<Operation>();
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(Deserialize<Operation>(reader.GetString(0)));
        }

        return list;
    }

    public async ValueTask DisposeAsync()
    {
        await _writeLock.WaitAsync();
        try
        {
            await _writer.DisposeAsync();
        }
        finally
        {
            _writeLock.Release();
            _writeLock.Dispose();
        }
    }

    private Task<SqliteConnection> OpenReaderAsync(CancellationToken cancellationToken) =>
        Readers.OpenAsync(null, cancellationToken);

    private async Task<string?> GetMetaAsync(string key, CancellationToken cancellationToken)
    {
        await using var cmd = _writer.CreateCommand();
        cmd.CommandText = "SELECT value FROM meta WHERE key = $key";
        cmd.Parameters.AddWithValue("$key", key);
        return await cmd.ExecuteScalarAsync(cancellationToken) as string;
    }

    private static async Task<string?> GetMetaAsync(SqliteTransaction tx, string key, CancellationToken cancellationToken)
    {
        await using var cmd = tx.Connection!.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "SELECT value FROM meta WHERE key = $key";
        cmd.Parameters.AddWithValue("$key", key);
        return await cmd.ExecuteScalarAsync(cancellationToken) as string;
    }

    private static async Task SetMetaAsync(SqliteTransaction tx, string key, string value, CancellationToken cancellationToken)
    {
        await using var cmd = tx.Connection!.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "INSERT INTO meta(key, value) VALUES($key, $value) ON CONFLICT(key) DO UPDATE SET value = excluded.value";
        cmd.Parameters.AddWithValue("$key", key);
        cmd.Parameters.AddWithValue("$value", value);
        await cmd.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task UpsertAsync(SqliteTransaction tx, string table, string name, long version, long expected, long generation, string doc, CancellationToken cancellationToken)
    {
        await using var cmd = tx.Connection!.CreateCommand();
        cmd.Transaction = tx;
        if (expected == 0)
        {
            // A name deleted earlier and created again: the row is its state now, not the tombstone.
            await using (var tombstone = tx.Connection!.CreateCommand())
            {
                tombstone.Transaction = tx;
                tombstone.CommandText = "DELETE FROM tombstones WHERE kind = $kind AND name = $name";
                tombstone.Parameters.AddWithValue("$kind", table);
                tombstone.Parameters.AddWithValue("$name", name);
                await tombstone.ExecuteNonQueryAsync(cancellationToken);
            }

            cmd.CommandText = $"INSERT INTO {table}(name, version, generation, doc) VALUES($name, $version, $generation, $doc)";
        }
        else
        {
            cmd.CommandText = $"UPDATE {table} SET version = $version, generation = $generation, doc = $doc WHERE name = $name AND version = $expected";
            cmd.Parameters.AddWithValue("$expected", expected);
        }

        cmd.Parameters.AddWithValue("$name", name);
        cmd.Parameters.AddWithValue("$version", version);
        cmd.Parameters.AddWithValue("$generation", generation);
        cmd.Parameters.AddWithValue("$doc", doc);
        try
        {
            if (await cmd.ExecuteNonQueryAsync(cancellationToken) != 1)
            {
                throw new StateConflictException($"{table} '{name}' was changed by another writer (expected version {expected}).");
            }
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode == 19)
        {
            throw new StateConflictException($"{table} '{name}' already exists in the store.");
        }
    }

    private static async Task DeleteAsync(SqliteTransaction tx, string table, string name, long expected, long generation, CancellationToken cancellationToken)
    {
        await using (var cmd = tx.Connection!.CreateCommand())
        {
            cmd.Transaction = tx;
            cmd.CommandText = $"DELETE FROM {table} WHERE name = $name AND version = $expected";
            cmd.Parameters.AddWithValue("$name", name);
            cmd.Parameters.AddWithValue("$expected", expected);
            if (await cmd.ExecuteNonQueryAsync(cancellationToken) != 1)
            {
                throw new StateConflictException($"{table} '{name}' was changed by another writer (expected version {expected}).");
            }
        }

        // The tombstone is how other writers' catch-up reads learn of the deletion.
        await using var tombstone = tx.Connection!.CreateCommand();
        tombstone.Transaction = tx;
        tombstone.CommandText = "INSERT INTO tombstones(kind, name, generation) VALUES($kind, $name, $generation) ON CONFLICT(kind, name) DO UPDATE SET generation = excluded.generation";
        tombstone.Parameters.AddWithValue("$kind", table);
        tombstone.Parameters.AddWithValue("$name", name);
        tombstone.Parameters.AddWithValue("$generation", generation);
        await tombstone.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task ReleaseAddressesAsync(SqliteTransaction tx, string kind, string owner, CancellationToken cancellationToken)
    {
        await using var cmd = tx.Connection!.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "DELETE FROM addresses WHERE owner_kind = $kind AND owner_name = $owner";
        cmd.Parameters.AddWithValue("$kind", kind);
        cmd.Parameters.AddWithValue("$owner", owner);
        await cmd.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task ClaimAddressAsync(SqliteTransaction tx, string address, string kind, string owner, string? vip, CancellationToken cancellationToken)
    {
        await using var cmd = tx.Connection!.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "INSERT INTO addresses(address, owner_kind, owner_name, vip_name) VALUES($address, $kind, $owner, $vip)";
        cmd.Parameters.AddWithValue("$address", address);
        cmd.Parameters.AddWithValue("$kind", kind);
        cmd.Parameters.AddWithValue("$owner", owner);
        cmd.Parameters.AddWithValue("$vip", (object?)vip ?? DBNull.Value);
        try
        {
            await cmd.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode == 19)
        {
            throw new StateConflictException($"The address {address} is already in use; it cannot be given to {kind} '{owner}'.");
        }
    }

    private static async Task InsertOperationAsync(SqliteTransaction tx, Operation operation, CancellationToken cancellationToken)
    {
        await using var cmd = tx.Connection!.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "INSERT INTO operations(id, created_at, status, target, doc) VALUES($id, $created, $status, $target, $doc)";
        cmd.Parameters.AddWithValue("$id", operation.OperationId.ToString());
        cmd.Parameters.AddWithValue("$created", operation.CreatedAt.ToString("O", CultureInfo.InvariantCulture));
        cmd.Parameters.AddWithValue("$status", operation.OperationStatus.ToString());
        cmd.Parameters.AddWithValue("$target", (object?)operation.Target ?? DBNull.Value);
        cmd.Parameters.AddWithValue("$doc", Serialize(operation));
        await cmd.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task ExecuteAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        await cmd.ExecuteNonQueryAsync(cancellationToken);
    }

    // Stored documents have their own tolerant, versioned JSON (StoredDocumentJson), not the API's.
    private static string Serialize<T>(T value) => StoredDocumentJson.Write(value);

    private static T Deserialize<T>(string json)
        where T : class => StoredDocumentJson.Read<T>(json);
}
