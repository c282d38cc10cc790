using Microsoft.Data.Sqlite;
using MultiVip.Control.State;
using MultiVip.Contracts;
using MultiVip.Model.Errors;

namespace MultiVip.Server.Api;

/// <summary>
/// <c>GET /api/backup</c>: a consistent snapshot of the state store, for <c>multivip backup</c>.
/// Behind the bearer token like every route. Through the server rather than by reading the data
/// dir: the server is the one process that owns the database (the data dir is locked and, under
/// systemd, readable only by its user), it knows which store it runs on, and it works remotely.
/// </summary>
internal static class BackupEndpoint
{
    public const string ContentType = "application/vnd.sqlite3";

    public static void MapBackup(this IEndpointRouteBuilder api) =>
        api.MapGet("/backup", async (HttpContext http, IStateStore store, CancellationToken ct) =>
        {
            if (store is not SqliteStateStore sqlite)
            {
                throw MultiVipException.BadRequest(
                    $"This server keeps its state in {store.GetType().Name}, not the embedded SQLite store: the PostgreSQL store is backed up with pg_dump (for example pg_dump --format=custom) and restored with pg_restore into an empty database, not with multivip backup/restore.");
            }

            // The snapshot is written next to the database (a directory the server can write, on the
            // same disk), streamed, and deleted when the response ends, however it ends.
            var dataDir = Path.GetDirectoryName(new SqliteConnectionStringBuilder(sqlite.ConnectionString).DataSource)!;
            var temp = Path.Combine(dataDir, $".backup-{Guid.NewGuid():N}.tmp");
            try
            {
                var summary = await SqliteBackup.SnapshotAsync(sqlite, temp, ct);
                var stream = new FileStream(temp, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 64 * 1024, FileOptions.DeleteOnClose | FileOptions.Asynchronous);
                http.Response.Headers.CacheControl = "no-store";
                http.Response.Headers["X-MultiVip-Backup"] = $"services={summary.Services}; reserved-ips={summary.ReservedIps}; schema={summary.SchemaVersion}";
                return Results.File(stream, ContentType, $"multivip-{DateTimeOffset.UtcNow:yyyyMMdd'T'HHmmss'Z'}.db");
            }
            catch
            {
                File.Delete(temp);
                throw;
            }
        })
        .Produces(200, contentType: ContentType)
        .WithTags("Backup")
        .WithName("GetBackup")
        .WithSummary("A consistent snapshot of the state (SQLite database file), for multivip backup / restore");
}
