using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using MultiVip.Contracts;

namespace MultiVip.Server.Tests.Observability;

/// <summary>/metrics beyond traffic: the process and runtime, what build runs, and the API's own requests.</summary>
public sealed class RuntimeAndApiMetricsTests
{
    [Fact]
    public async Task Metrics_show_the_process_the_runtime_and_the_build()
    {
        await using var f = await ServerFixture.StartAsync();
        var text = await f.Http.GetStringAsync("/metrics");
        foreach (var name in new[]
        {
            "process_cpu_seconds_total", "process_working_set_bytes", "process_private_memory_bytes", "process_num_threads",
            "process_open_handles", "process_start_time_seconds", "dotnet_total_memory_bytes",
        })
        {
            Assert.True(Value(text, name, "") is > 0, $"{name} missing or zero in:\n{text}");
        }

        Assert.Matches(new Regex(@"^dotnet_collection_count_total\{generation=""0""\} \d+", RegexOptions.Multiline), text);
        var build = Regex.Match(text, @"^multivip_build_info\{version=""([^""]+)"",commit=""([^""]+)"",runtime=""([^""]+)""\} 1$", RegexOptions.Multiline);
        Assert.True(build.Success, $"no multivip_build_info in:\n{text}");
        Assert.Matches(@"^\d+\.\d+\.\d+", build.Groups[1].Value);
        Assert.Matches("^([0-9a-f]{7,40}|unknown)$", build.Groups[2].Value);
        Assert.StartsWith(".NET ", build.Groups[3].Value, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Api_requests_are_counted_and_timed_by_route_template_not_by_path()
    {
        await using var f = await ServerFixture.StartAsync();
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "alpha" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "beta" });
        Assert.Equal(HttpStatusCode.OK, (await f.Http.GetAsync(ApiRoutes.Service("alpha"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await f.Http.GetAsync(ApiRoutes.Service("beta"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await f.Http.GetAsync(ApiRoutes.Service("gamma"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await f.Http.GetAsync("/api/no-such-thing/12345")).StatusCode);
        using var anonymous = new HttpClient { BaseAddress = f.Server.Api };
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(ApiRoutes.Service("alpha"))).StatusCode);

        var text = await f.Http.GetStringAsync("/metrics");
        const string service = "route=\"/api/services/{service}\",method=\"GET\"";
        Expect(text, "multivip_api_requests_total", service + ",status=\"200\"", 2);
        Expect(text, "multivip_api_requests_total", service + ",status=\"404\"", 1);
        Expect(text, "multivip_api_requests_total", service + ",status=\"401\"", 1);
        Expect(text, "multivip_api_requests_total", "route=\"/api/services\",method=\"POST\",status=\"202\"", 2);
        Expect(text, "multivip_api_requests_total", "route=\"unmatched\",method=\"GET\",status=\"404\"", 1);
        Expect(text, "multivip_api_request_duration_seconds_count", "route=\"/api/services/{service}\"", 4);
        Expect(text, "multivip_api_request_duration_seconds_bucket", "route=\"/api/services/{service}\",le=\"+Inf\"", 4);

        // No raw path, name or id ever becomes a label value.
        foreach (var raw in new[] { "alpha", "beta", "gamma", "no-such-thing", "12345" })
        {
            Assert.DoesNotContain(raw, string.Join('\n', text.Split('\n').Where(l => l.StartsWith("multivip_api_", StringComparison.Ordinal))), StringComparison.Ordinal);
        }
    }

    private static void Expect(string text, string name, string labels, double expected)
    {
        var value = Value(text, name, labels);
        Assert.True(value == expected, $"{name}{{{labels}}} is {value?.ToString(CultureInfo.InvariantCulture) ?? "missing"}, not {expected}:\n{string.Join('\n', text.Split('\n').Where(l => l.StartsWith("multivip_api_", StringComparison.Ordinal)))}");
    }

    private static double? Value(string text, string name, string labels)
    {
        var pattern = labels.Length == 0 ? $@"^{Regex.Escape(name)} (\S+)$" : $@"^{Regex.Escape(name)}\{{{Regex.Escape(labels)}\}} (\S+)$";
        var match = Regex.Match(text, pattern, RegexOptions.Multiline);
        return match.Success ? double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : null;
    }
}
