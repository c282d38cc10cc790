using MultiVip.Control.State;
using MultiVip.Control.Usage;
using MultiVip.Contracts;
using MultiVip.Model.Errors;

namespace MultiVip.Control.Tests.Usage;

/// <summary>
/// The arithmetic of the report against a scripted history with known answers: Vip2 gets an
/// address at 10:00, loses it at 12:30, gets it again at 13:00 and still has it at 15:00 (now);
/// a reserved IP exists from 09:00 to 11:15.
/// </summary>
public sealed class UsageCalculatorTests
{
    private static readonly DateTimeOffset Day = new(2030, 1, 15, 0, 0, 0, TimeSpan.Zero);

    private static DateTimeOffset At(int hour, int minute = 0) => Day.AddHours(hour).AddMinutes(minute);

    private static readonly DateTimeOffset Now = At(15);

    private static RecordedInterval Vip(string name, DateTimeOffset start, DateTimeOffset? end, string service = "myService", string address = "127.71.0.2") =>
        new(new UsageHolding(UsageMeter.VirtualIp, service, name, address), start, end);

    private static RecordedInterval Reserved(string name, DateTimeOffset start, DateTimeOffset? end, string? service = null, string? vip = null) =>
        new(new UsageHolding(UsageMeter.ReservedIp, service, name, "127.71.0.9", vip), start, end);

    private static readonly RecordedInterval[] History =
    [
        Vip("Vip2", At(10), At(12, 30)),
        Vip("Vip2", At(13), null),
        Reserved("myReservedIP", At(9), At(11, 15)),
    ];

    private static UsageReport Report(DateTimeOffset from, DateTimeOffset to, string? service = null, IEnumerable<RecordedInterval>? intervals = null, IEnumerable<TrafficSample>? traffic = null) =>
        UsageCalculator.Report(service, from, to, Now, intervals ?? History, traffic ?? [], WorldState.Empty);

    [Fact]
    public void Vip_hours_add_every_interval_and_the_one_still_held_runs_to_now()
    {
        var report = Report(At(0), At(24));

        var vip2 = Assert.Single(report.VirtualIps);
        Assert.Equal("Vip2", vip2.Name);
        Assert.Equal(2.5 + 2.0, vip2.Hours);
        Assert.Equal(4.5, report.VipHours);
        Assert.Equal([2.5, 2.0], vip2.Intervals.Select(i => i.Hours));
        Assert.Equal([false, true], vip2.Intervals.Select(i => i.Open));
        Assert.Equal(Now, vip2.Intervals[1].End);
        Assert.Equal(Now, report.GeneratedAt);
    }

    [Fact]
    public void Reserved_ip_hours_run_from_creation_to_removal()
    {
        var report = Report(At(0), At(24));

        var reserved = Assert.Single(report.ReservedIps);
        Assert.Equal("myReservedIP", reserved.Name);
        Assert.Equal(2.25, reserved.Hours);
        Assert.Equal(2.25, report.ReservedIpHours);
        Assert.Equal("127.71.0.9", reserved.Address);
    }

    [Fact]
    public void Intervals_are_clipped_to_from_and_to()
    {
        var report = Report(At(11), At(14));

        var vip2 = Assert.Single(report.VirtualIps);
        Assert.Equal(1.5 + 1.0, vip2.Hours);
        Assert.Equal([(At(11), At(12, 30)), (At(13), At(14))], vip2.Intervals.Select(i => (i.Start, i.End)));
        Assert.Equal(0.25, Assert.Single(report.ReservedIps).Hours);
        Assert.Equal(At(11), report.From);
        Assert.Equal(At(14), report.To);
    }

    [Fact]
    public void A_range_that_ends_where_an_interval_starts_counts_nothing_of_it()
    {
        // [from, to): 10:00 is the first instant Vip2 is held, so a range ending at 10:00 has none of it.
        var before = Report(At(9), At(10));
        Assert.Equal(0, before.VipHours);
        Assert.Empty(before.VirtualIps);
        Assert.Equal(1.0, Assert.Single(before.ReservedIps).Hours);

        var after = Report(At(12, 30), At(13));
        Assert.Equal(0, after.VipHours);
        Assert.Empty(after.ReservedIps);
    }

    [Fact]
    public void A_range_reaching_into_the_future_counts_the_held_interval_only_up_to_now()
    {
        var report = Report(At(14), At(20));

        Assert.Equal(1.0, report.VipHours);
        Assert.Equal(Now, Assert.Single(report.VirtualIps).Intervals.Single().End);
    }

    [Fact]
    public void A_service_report_counts_a_reserved_ip_only_while_it_backs_one_of_the_services_vips()
    {
        RecordedInterval[] reserved =
        [
            Reserved("r1", At(9), At(10)),
            Reserved("r1", At(10), At(12), "myService", "Vip3"),
            Reserved("r1", At(12), At(13), "other", "Vip2"),
            Reserved("r1", At(13), null),
        ];

        var mine = Report(At(0), At(24), "myService", reserved);
        var all = Report(At(0), At(24), null, reserved);

        var r1 = Assert.Single(mine.ReservedIps);
        Assert.Equal(2.0, r1.Hours);
        Assert.Equal("Vip3", Assert.Single(r1.Intervals).VirtualIpName);
        Assert.Equal(6.0, Assert.Single(all.ReservedIps).Hours);
        Assert.Equal(4, all.ReservedIps[0].Intervals.Count);
    }

    [Fact]
    public void Bytes_count_the_buckets_that_start_inside_the_range()
    {
        TrafficSample[] traffic =
        [
            new("myService", "Vip2", At(10, 59), 1, 10),
            new("myService", "Vip2", At(11), 100, 1000),
            new("myService", "Vip1", At(13, 59), 5, 50),
            new("myService", "Vip1", At(14), 7, 70),
            new("other", "Vip2", At(12), 9, 90),
        ];

        var report = Report(At(11), At(14), "myService", traffic: traffic);

        Assert.Equal((100, 1000), report.VirtualIps.Where(v => v.Name == "Vip2").Select(v => (v.BytesIn, v.BytesOut)).Single());
        Assert.Equal((5, 50), report.VirtualIps.Where(v => v.Name == "Vip1").Select(v => (v.BytesIn, v.BytesOut)).Single());
        Assert.Equal(105, report.BytesIn);
        Assert.Equal(1050, report.BytesOut);
    }

    [Fact]
    public void Clip_keeps_only_the_overlap()
    {
        Assert.Equal((At(11), At(12)), UsageCalculator.Clip(At(10), At(12), At(11), At(14), Now));
        Assert.Equal((At(13), Now), UsageCalculator.Clip(At(13), null, At(11), At(16), Now));
        Assert.Null(UsageCalculator.Clip(At(10), At(11), At(11), At(14), Now));
        Assert.Null(UsageCalculator.Clip(At(16), null, At(11), At(20), Now));
    }

    [Fact]
    public void The_range_defaults_to_this_month_so_far_and_parses_iso_8601()
    {
        var now = new DateTimeOffset(2030, 3, 17, 8, 30, 0, TimeSpan.Zero);

        Assert.Equal((new DateTimeOffset(2030, 3, 1, 0, 0, 0, TimeSpan.Zero), now), UsageRange.Resolve(null, null, now));
        Assert.Equal(
            (new DateTimeOffset(2030, 1, 15, 9, 0, 0, TimeSpan.Zero), new DateTimeOffset(2030, 1, 16, 0, 0, 0, TimeSpan.Zero)),
            UsageRange.Resolve("2030-01-15T10:00:00+01:00", "2030-01-16", now));
        Assert.Equal(new DateTimeOffset(2030, 1, 15, 10, 0, 0, TimeSpan.Zero), UsageRange.ParseTime("2030-01-15T10:00", "from"));
        Assert.Equal(new DateTimeOffset(2030, 1, 15, 10, 0, 0, 500, TimeSpan.Zero), UsageRange.ParseTime("2030-01-15T10:00:00.5Z", "from"));
    }

    [Fact]
    public void A_bad_time_or_an_empty_range_is_a_bad_request_that_says_how_to_fix_it()
    {
        var now = new DateTimeOffset(2030, 3, 17, 8, 30, 0, TimeSpan.Zero);

        var bad = Assert.Throws<MultiVipException>(() => UsageRange.Resolve("yesterday", null, now));
        Assert.Equal(ErrorCode.BadRequest, bad.Code);
        Assert.Equal("'yesterday' is not a time for from. Use ISO 8601: a date like 2025-01-15 or a time like 2025-01-15T10:00:00Z (UTC when no offset is given).", bad.Message);

        var empty = Assert.Throws<MultiVipException>(() => UsageRange.Resolve("2030-01-02", "2030-01-01", now));
        Assert.Equal(ErrorCode.BadRequest, empty.Code);
        Assert.Contains("must be before to", empty.Message, StringComparison.Ordinal);
        Assert.Throws<MultiVipException>(() => UsageRange.ParseTime("15/01/2030", "to"));
    }
}
