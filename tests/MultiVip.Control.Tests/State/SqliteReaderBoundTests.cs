using MultiVip.Control.State;

namespace MultiVip.Control.Tests.State;

/// <summary>
/// Reads of the SQLite state (operations, usage, the node registry) share a bounded set of
/// connections: a flood of concurrent reads all succeed while the process's open descriptors
/// (/proc/self/fd) on the database grow by no more than the bound's worth. Only descriptors of
/// this test's data dir are counted: tests running next to it open sockets of their own.
/// </summary>
public sealed class SqliteReaderBoundTests
{
    private const int Readers = 200;

    [Fact]
    public async Task Far_more_concurrent_reads_than_the_bound_all_succeed_on_at_most_the_bound_of_connections()
    {
        using var dir = new TempDataDir();
        await using var store = await SqliteStateStore.OpenAsync(dir.Path, default);
        var bound = store.Readers.Bound;
        Assert.True(bound < Readers / 4, $"bound {bound}");
        var baseline = OpenDescriptors(dir.Path);

        // Each reader holds its connection until released, so all of them want one at the same time.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var holding = 0;
        var reads = Enumerable.Range(0, Readers).Select(_ => Task.Run(async () =>
        {
            await using var connection = await store.Readers.OpenAsync(null, default);
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT count(*) FROM operations";
            var count = (long)(await command.ExecuteScalarAsync())!;
            Interlocked.Increment(ref holding);
            await release.Task;
            return count;
        })).ToList();

        // Every reader either holds a connection or waits for one.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (Volatile.Read(ref holding) + store.Readers.Queued < Readers)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{holding} holding, {store.Readers.Queued} queued of {Readers}");
            await Task.Delay(20);
        }

        var during = OpenDescriptors(dir.Path);
        Assert.True(Volatile.Read(ref holding) <= bound, $"{holding} connections open at once (bound {bound})");

        // A database connection holds the file and its WAL (the shared-memory index is shared).
        Assert.True(during - baseline <= 3 * bound, $"{during - baseline} descriptors more than before the reads ({Readers} readers, bound {bound})");
        release.SetResult();
        Assert.All(await Task.WhenAll(reads), count => Assert.Equal(0, count));

        // The store's own reads go through the same bound.
        var lists = await Task.WhenAll(Enumerable.Range(0, Readers).Select(_ => Task.Run(() => store.ListOperationsAsync(10, default))));
        Assert.All(lists, Assert.Empty);
        Assert.True(OpenDescriptors(dir.Path) - baseline <= 3 * bound, $"{OpenDescriptors(dir.Path) - baseline} descriptors more than before the reads once they ended");
        Assert.Equal(0, store.Readers.Open);
    }

    /// <summary>This process's open descriptors on files under <paramref name="dir"/>.</summary>
    private static int OpenDescriptors(string dir)
    {
        var count = 0;
        foreach (var fd in Directory.GetFiles("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget is { } target && target.StartsWith(dir, StringComparison.Ordinal))
                {
                    count++;
                }
            }
            catch (IOException)
            {
                // Closed while we looked.
            }
        }

        return count;
    }
}
