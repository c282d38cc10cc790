using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using MultiVip.Control.Commands;
using MultiVip.Control.State;
using MultiVip.Control.Usage;
using MultiVip.DataPlane;
using MultiVip.Contracts;
using MultiVip.Model.Errors;
using MultiVip.Model.Networking;

namespace MultiVip.Control.Tests.Usage;

/// <summary>
/// Usage recorded by the real commit path (control plane, SQLite store) on a fake clock: the
/// seed's walk-through is played at known times, and the report must give the known hours.
/// </summary>
public sealed class UsageRecordingTests
{
    private static readonly DateTimeOffset Start = new(2030, 1, 15, 9, 0, 0, TimeSpan.Zero);
    private static readonly CallContext Call = new("usage test", null);
    private static int s_pool = Random.Shared.Next(0, 80);

    private static DateTimeOffset At(int hour, int minute = 0) => Start.Date.AddHours(hour).AddMinutes(minute);

    private static void MoveTo(FakeTimeProvider clock, DateTimeOffset time) => clock.Advance(time - clock.GetUtcNow());

    /// <summary>A pool of this suite's range 127.71.0.0/16 (127.71.10-89.0/24) for each test.</summary>
    private static string Pool() => $"127.71.{Interlocked.Increment(ref s_pool) % 80 + 10}.0/24";

    private static EndpointRequest Web => new() { Name = "myEndpoint", Protocol = "tcp", LocalPort = 8080, PublicPort = 80, VirtualIpName = "Vip2" };

    /// <summary>09:00 service, VMs, Vip2, Vip3 and myReservedIP; 10:00 Vip2 gets an address; 11:15 myReservedIP removed;
    /// 12:30 Vip2 loses it; 13:00 gets it again, and r2 (new) backs Vip3; 14:00 r2 detached; now 15:00.</summary>
    private static async Task PlayWalkthroughAsync(UsageNode node)
    {
        var c = node.Control;
        var ct = CancellationToken.None;
        MoveTo(node.Clock, At(9));
        await c.CreateServiceAsync(new CreateServiceRequest { Name = "myService" }, Call, ct);
        await c.AddVmAsync("myService", new AddVmRequest { Name = "myVM1", Address = "127.71.250.11" }, Call, ct);
        await c.AddVmAsync("myService", new AddVmRequest { Name = "myVM2", Address = "127.71.250.12" }, Call, ct);
        await c.AddVirtualIpAsync("myService", new AddVirtualIpRequest { Name = "Vip2" }, Call, ct);
        await c.AddVirtualIpAsync("myService", new AddVirtualIpRequest { Name = "Vip3" }, Call, ct);
        await c.CreateReservedIpAsync(new CreateReservedIpRequest { Name = "myReservedIP", Location = "local" }, Call, ct);

        MoveTo(node.Clock, At(10));
        await c.AddEndpointAsync("myService", "myVM1", Web, Call, ct);

        MoveTo(node.Clock, At(11, 15));
        await c.DeleteReservedIpAsync("myReservedIP", Call, ct);

        MoveTo(node.Clock, At(12, 30));
        await c.RemoveEndpointAsync("myService", "myVM1", "myEndpoint", Call, ct);

        MoveTo(node.Clock, At(13));
        await c.AddEndpointAsync("myService", "myVM1", Web, Call, ct);
        await c.CreateReservedIpAsync(new CreateReservedIpRequest { Name = "r2", Location = "local" }, Call, ct);
        await c.AssociateReservedIpAsync("r2", new AssociateReservedIpRequest { ServiceName = "myService", VirtualIpName = "Vip3" }, Call, ct);

        MoveTo(node.Clock, At(14));
        await c.DisassociateReservedIpAsync("r2", null, null, Call, ct);

        MoveTo(node.Clock, At(15));
    }

    private static double HoursOf(UsageReport report, string vip) => report.VirtualIps.Single(v => v.Name == vip).Hours;

    [Fact]
    public async Task The_walkthrough_bills_the_known_vip_and_reserved_ip_hours()
    {
        using var dir = new TempDataDir();
        var clock = new FakeTimeProvider(Start);
        await using var node = await UsageNode.StartAsync(dir.Path, Pool(), clock);
        await PlayWalkthroughAsync(node);

        // Default range: this month so far.
        var service = await node.Ledger.ReportAsync("myService", null, null, CancellationToken.None);
        Assert.Equal(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero), service.From);
        Assert.Equal(At(15), service.To);
        Assert.Equal(["Vip1", "Vip2", "Vip3"], service.VirtualIps.Select(v => v.Name));
        Assert.Equal(0, HoursOf(service, "Vip1"));
        Assert.True(service.VirtualIps[0].IsDnsProgrammed);
        Assert.Equal(2.5 + 2.0, HoursOf(service, "Vip2"));
        Assert.Equal(1.0, HoursOf(service, "Vip3"));
        Assert.Equal(5.5, service.VipHours);
        var r2 = Assert.Single(service.ReservedIps);
        Assert.Equal(("r2", 1.0), (r2.Name, r2.Hours));
        Assert.Equal(1.0, service.ReservedIpHours);

        var all = await node.Ledger.ReportAsync(null, null, null, CancellationToken.None);
        Assert.Equal([("myReservedIP", 2.25), ("r2", 2.0)], all.ReservedIps.Select(r => (r.Name, r.Hours)));
        Assert.Equal(5.5, all.VipHours);

        var clipped = await node.Ledger.ReportAsync("myService", "2030-01-15T11:00:00Z", "2030-01-15T14:00:00Z", CancellationToken.None);
        Assert.Equal(2.5, HoursOf(clipped, "Vip2"));
        Assert.Equal(1.0, HoursOf(clipped, "Vip3"));
        var clippedAll = await node.Ledger.ReportAsync(null, "2030-01-15T11:00:00Z", "2030-01-15T14:00:00Z", CancellationToken.None);
        Assert.Equal([("myReservedIP", 0.25), ("r2", 1.0)], clippedAll.ReservedIps.Select(r => (r.Name, r.Hours)));
    }

    [Fact]
    public async Task A_refused_change_records_nothing_and_a_restart_keeps_every_interval()
    {
        using var dir = new TempDataDir();
        var clock = new FakeTimeProvider(Start);
        var pool = Pool();
        await using (var node = await UsageNode.StartAsync(dir.Path, pool, clock))
        {
            await PlayWalkthroughAsync(node);
            var rows = UsageNode.IntervalRows(dir.Database);
            await Assert.ThrowsAsync<MultiVipException>(() => node.Control.RemoveVirtualIpAsync("myService", "Vip2", Call, CancellationToken.None));
            Assert.Equal(rows, UsageNode.IntervalRows(dir.Database));
        }

        await using var restarted = await UsageNode.StartAsync(dir.Path, pool, clock);
        Assert.Equal(0, await restarted.Ledger.ReconcileAsync(CancellationToken.None));
        var report = await restarted.Ledger.ReportAsync("myService", null, null, CancellationToken.None);
        Assert.Equal(4.5, HoursOf(report, "Vip2"));

        // Deleting the service ends its VIPs; its usage stays reportable.
        MoveTo(clock, At(16));
        await restarted.Control.DeleteServiceAsync("myService", deleteAll: true, Call, CancellationToken.None);
        MoveTo(clock, At(17));
        var gone = await restarted.Ledger.ReportAsync("myService", null, null, CancellationToken.None);
        Assert.Equal(2.5 + 3.0, HoursOf(gone, "Vip2"));
        Assert.DoesNotContain(gone.VirtualIps.Single(v => v.Name == "Vip2").Intervals, i => i.Open);

        var unknown = await Assert.ThrowsAsync<MultiVipException>(() => restarted.Ledger.ReportAsync("neverThere", null, null, CancellationToken.None));
        Assert.Equal(ErrorCode.ResourceNotFound, unknown.Code);
    }

    [Fact]
    public async Task Start_up_reconciliation_opens_what_a_data_dir_from_before_usage_holds_from_then_on()
    {
        using var dir = new TempDataDir();
        var clock = new FakeTimeProvider(Start);
        await using var node = await UsageNode.StartAsync(dir.Path, Pool(), clock);
        await PlayWalkthroughAsync(node);

        // As a data dir upgraded from schema 1 looks: the state holds Vip2 and r2, but no usage was recorded.
        UsageNode.Execute(dir.Database, "DELETE FROM usage_intervals");
        Assert.Equal(2, await node.Ledger.ReconcileAsync(CancellationToken.None));
        Assert.Equal(0, await node.Ledger.ReconcileAsync(CancellationToken.None));

        MoveTo(clock, At(16, 30));
        var report = await node.Ledger.ReportAsync(null, null, null, CancellationToken.None);
        Assert.Equal(1.5, HoursOf(report, "Vip2"));
        Assert.Equal(1.5, Assert.Single(report.ReservedIps).Hours);
    }
}

/// <summary>A control plane on a fake clock with its SQLite store and usage ledger, as the server wires them.</summary>
internal sealed class UsageNode : IAsyncDisposable
{
    private readonly DataPlaneHost _dataPlane;
    private readonly SqliteStateStore _store;

    private UsageNode(FakeTimeProvider clock, SqliteStateStore store, DataPlaneHost dataPlane, ControlPlane control)
    {
        Clock = clock;
        _store = store;
        _dataPlane = dataPlane;
        Control = control;
        Ledger = new UsageLedger(new SqliteUsageStore(store.ConnectionString), () => control.Current, clock);
    }

    public FakeTimeProvider Clock { get; }

    public ControlPlane Control { get; }

    public UsageLedger Ledger { get; }

    public static async Task<UsageNode> StartAsync(string dataDir, string pool, FakeTimeProvider clock)
    {
        var store = await SqliteStateStore.OpenAsync(dataDir, CancellationToken.None);
        var dataPlane = new DataPlaneHost(new DataPlaneOptions(), NullLoggerFactory.Instance, TimeProvider.System);
        var control = await ControlPlane.StartAsync(
            store, new ControlPlaneOptions { Pool = AddressPool.Parse([pool]) }, dataPlane, clock, NullLoggerFactory.Instance, CancellationToken.None);
        var node = new UsageNode(clock, store, dataPlane, control);
        await node.Ledger.ReconcileAsync(CancellationToken.None);
        return node;
    }

    /// <summary>Every usage_intervals row as text, to compare before and after.</summary>
    public static string IntervalRows(string database)
    {
        using var connection = new SqliteConnection($"Data Source={database}");
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT group_concat(id || ':' || meter || ':' || name || ':' || address || ':' || started_at || ':' || IFNULL(ended_at, '-'), ' ') FROM usage_intervals";
        return cmd.ExecuteScalar() as string ?? "";
    }

    public static void Execute(string database, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={database}");
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    public async ValueTask DisposeAsync()
    {
        await Control.DisposeAsync();
        await _dataPlane.DisposeAsync();
        await _store.DisposeAsync();
    }
}
