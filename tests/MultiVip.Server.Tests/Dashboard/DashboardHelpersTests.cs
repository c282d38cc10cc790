using Microsoft.Extensions.Time.Testing;
using MultiVip.Server.Dashboard;

namespace MultiVip.Server.Tests.Dashboard;

/// <summary>The dashboard's one time format and its post/redirect/get flash store.</summary>
public sealed class DashboardHelpersTests
{
    [Fact]
    public void Times_have_one_format_in_utc_whatever_the_offset()
    {
        var at = new DateTimeOffset(2026, 12, 1, 23, 5, 9, 400, TimeSpan.FromHours(2));
        Assert.Equal("2026-12-01 21:05:09Z", Html.When(at));
        Assert.Equal("<time datetime=\"2026-12-01T21:05:09Z\">2026-12-01 21:05:09Z</time>", Html.Time(at));
        Assert.Equal("", Html.When(null));
        Assert.Equal("", Html.Time(null));
    }

    [Fact]
    public void A_flash_message_is_shown_once_and_expires()
    {
        var clock = new FakeTimeProvider();
        var flash = new DashboardFlash(clock);
        var banner = new Banner("ConflictError: nope", IsError: true);
        var id = flash.Put(banner);
        Assert.Matches("^[0-9a-f]{32}$", id);
        Assert.Equal(banner, flash.Take(id));
        Assert.Null(flash.Take(id));
        Assert.Null(flash.Take("not-an-id"));
        Assert.Null(flash.Take(null));

        var late = flash.Put(banner);
        clock.Advance(DashboardFlash.Lifetime);
        Assert.Null(flash.Take(late));
    }

    [Fact]
    public void The_flash_store_is_bounded_and_drops_the_oldest()
    {
        var flash = new DashboardFlash(new FakeTimeProvider());
        var first = flash.Put(new Banner("first", true));
        var ids = Enumerable.Range(0, DashboardFlash.Capacity * 5).Select(i => flash.Put(new Banner($"m{i}", true))).ToList();
        Assert.Null(flash.Take(first));
        Assert.Equal($"m{ids.Count - 1}", flash.Take(ids[^1])?.Text);
        Assert.Equal($"m{ids.Count - DashboardFlash.Capacity + 1}", flash.Take(ids[^(DashboardFlash.Capacity - 1)])?.Text);
    }
}
