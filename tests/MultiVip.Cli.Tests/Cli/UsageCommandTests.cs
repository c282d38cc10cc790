using System.Text.Json;
using MultiVip.Cli.Tests.Support;
using MultiVip.Contracts;

namespace MultiVip.Cli.Tests.Cli;

/// <summary>`multivip usage` against a scripted server: the request it sends and the report it prints.</summary>
public sealed class UsageCommandTests
{
    private static readonly DateTimeOffset Day = new(2030, 1, 15, 0, 0, 0, TimeSpan.Zero);

    private static string Lines(params string[] lines) => string.Concat(lines.Select(l => l + Environment.NewLine));

    private static UsageReport Report => new()
    {
        ServiceName = "myService",
        From = Day.AddHours(9),
        To = Day.AddHours(15),
        GeneratedAt = Day.AddHours(15),
        VipHours = 4.5,
        ReservedIpHours = 1,
        BytesIn = 51_100,
        BytesOut = 51_200,
        VirtualIps =
        [
            new VirtualIpUsage { ServiceName = "myService", Name = "Vip1", IsDnsProgrammed = true, Intervals = [] },
            new VirtualIpUsage
            {
                ServiceName = "myService", Name = "Vip2", Hours = 4.5, BytesIn = 51_100, BytesOut = 51_200,
                Intervals =
                [
                    new UsageInterval { Start = Day.AddHours(10), End = Day.AddHours(12.5), Address = "127.100.0.2", Hours = 2.5 },
                    new UsageInterval { Start = Day.AddHours(13), End = Day.AddHours(15), Address = "127.100.0.3", Hours = 2, Open = true },
                ],
            },
        ],
        ReservedIps =
        [
            new ReservedIpUsage
            {
                Name = "r2", Address = "127.100.0.9", Hours = 1,
                Intervals = [new UsageInterval { Start = Day.AddHours(13), End = Day.AddHours(14), Address = "127.100.0.9", ServiceName = "myService", VirtualIpName = "Vip3", Hours = 1 }],
            },
        ],
    };

    [Fact]
    public async Task Usage_prints_the_report_and_json_prints_the_object()
    {
        await using var server = new FakeServer(_ => FakeResponse.Json(200, Report));

        var text = await TestCli.RunAsync(TestCli.Against(server.Url, "usage", "--service", "myService", "--from", "2030-01-15T10:00+01:00", "--to", "2030-01-15T15:00:00Z"));
        var json = await TestCli.RunAsync(TestCli.Against(server.Url, "usage", "--service", "myService", "-o", "json"));

        Assert.Equal(0, text.ExitCode);
        Assert.Equal(
            Lines(
                "ServiceName     : myService",
                "From            : 2030-01-15 09:00:00Z",
                "To              : 2030-01-15 15:00:00Z",
                "VipHours        : 4.50",
                "ReservedIPHours : 1.00",
                "BytesIn         : 51100",
                "BytesOut        : 51200",
                "",
                "VirtualIPs",
                "",
                "VirtualIPName IsDnsProgrammed Hours BytesIn BytesOut Intervals",
                "------------- --------------- ----- ------- -------- ---------",
                "Vip1          True                        0        0",
                "Vip2                           4.50   51100    51200 2030-01-15 10:00-12:30, 2030-01-15 13:00-15:00*",
                "",
                "ReservedIPs",
                "",
                "ReservedIPName Address     Hours Intervals",
                "-------------- -------     ----- ---------",
                "r2             127.100.0.9  1.00 2030-01-15 13:00-14:00"),
            text.Out);
        var requests = server.Requests.ToArray();
        Assert.Equal("/api/services/myService/usage?from=2030-01-15T09%3A00%3A00Z&to=2030-01-15T15%3A00%3A00Z", requests[0].PathAndQuery);
        Assert.Equal("/api/services/myService/usage", requests[1].PathAndQuery);

        var root = JsonDocument.Parse(json.Out).RootElement;
        Assert.Equal(4.5, root.GetProperty("vipHours").GetDouble());
        Assert.Equal("Vip2", root.GetProperty("virtualIps")[1].GetProperty("name").GetString());
    }

    [Fact]
    public async Task A_time_that_is_not_iso_8601_or_an_empty_range_is_a_usage_error_and_nothing_is_sent()
    {
        await using var server = new FakeServer(_ => FakeResponse.Json(200, Report));

        var run = await TestCli.RunAsync(TestCli.Against(server.Url, "usage", "--from", "last tuesday"));

        var empty = await TestCli.RunAsync(TestCli.Against(server.Url, "usage", "--from", "2030-02-01", "--to", "2030-01-01"));

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("'last tuesday' is not a time for --from. Use ISO 8601", run.Error, StringComparison.Ordinal);
        Assert.Equal(2, empty.ExitCode);
        Assert.Contains("must be before --to", empty.Error, StringComparison.Ordinal);
        Assert.Empty(server.Requests);
    }
}
