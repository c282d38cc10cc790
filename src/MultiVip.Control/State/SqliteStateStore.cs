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
public sealed class SqliteStateStore : IStateStore
{
    public const string FileName = "multivip.db";

    private readonly SqliteConnection _writer;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly string _connectionString;

    private SqliteStateStore(string connectionString, SqliteConnection writer)
    {
        _connectionString = connectionString;
        _writer = writer;
    }

    public string ConnectionString => _connectionString;

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

    public async Task CommitAsync(IReadOnlyList<StateChange> changes, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            await using var tx = (SqliteTransaction)await _writer.BeginTransactionAsync(System.Data.IsolationLevel.Serializable, cancellationToken);
            try
            {
                foreach (var change in changes)
                {
                    await ApplyAsync(tx, change, cancellationToken);
                }

                await tx.CommitAsync(cancellationToken);
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

    private static async Task ApplyAsync(SqliteTransaction tx, StateChange change, CancellationToken cancellationToken)
    {
        foreach (var (name, expected) in change.DeleteServices)
        {
            await ReleaseAddressesAsync(tx, "vip", name, cancellationToken);
            await DeleteAsync(tx, "services", name, expected, cancellationToken);
        }

        foreach (var (name, expected) in change.DeleteReservedIps)
        {
            await ReleaseAddressesAsync(tx, "reserved", name, cancellationToken);
            await DeleteAsync(tx, "reserved_ips", name, expected, cancellationToken);
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
            await UpsertAsync(tx, "services", service.Name, service.Version, expected, Serialize(service), cancellationToken);
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
            await UpsertAsync(tx, "reserved_ips", reserved.Name, reserved.Version, expected, Serialize(reserved), cancellationToken);
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

        await SetMetaAsync(tx, "generation", change.Generation.ToString(CultureInfo.InvariantCulture), cancellationToken);
        await InsertOperationAsync(tx, change.Operation, cancellationToken);
        await SqliteUsageStore.WriteAsync(tx, change.Usage, cancellationToken);
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

    private async Task<SqliteConnection> OpenReaderAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    private async Task<string?> GetMetaAsync(string key, CancellationToken cancellationToken)
    {
        await using var cmd = _writer.CreateCommand();
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

    private static async Task UpsertAsync(SqliteTransaction tx, string table, string name, long version, long expected, string doc, CancellationToken cancellationToken)
    {
        await using var cmd = tx.Connection!.CreateCommand();
        cmd.Transaction = tx;
        if (expected == 0)
        {
            cmd.CommandText = $"INSERT INTO {table}(name, version, doc) VALUES($name, $version, $doc)";
        }
        else
        {
            cmd.CommandText = $"UPDATE {table} SET version = $version, doc = $doc WHERE name = $name AND version = $expected";
            cmd.Parameters.AddWithValue("$expected", expected);
        }

        cmd.Parameters.AddWithValue("$name", name);
        cmd.Parameters.AddWithValue("$version", version);
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

    private static async Task DeleteAsync(SqliteTransaction tx, string table, string name, long expected, CancellationToken cancellationToken)
    {
        await using var cmd = tx.Connection!.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = $"DELETE FROM {table} WHERE name = $name AND version = $expected";
        cmd.Parameters.AddWithValue("$name", name);
        cmd.Parameters.AddWithValue("$expected", expected);
        if (await cmd.ExecuteNonQueryAsync(cancellationToken) != 1)
        {
            throw new StateConflictException($"{table} '{name}' was changed by another writer (expected version {expected}).");
        }
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
