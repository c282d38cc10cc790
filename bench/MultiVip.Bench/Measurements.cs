using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace MultiVip.Bench;

/// <summary>One measured figure; higher is better unless <see cref="LowerIsBetter"/>.</summary>
internal sealed record Metric(string Key, string Title, string Unit, bool LowerIsBetter);

internal static partial class Measurements
{
    public static readonly Metric RequestsPerSecond = new("rps", "Requests/s, keep-alive (wrk, 50 connections, 6-byte responses)", "req/s", false);
    public static readonly Metric LatencyP50 = new("p50", "Latency p50 at that load", "ms", true);
    public static readonly Metric LatencyP99 = new("p99", "Latency p99 at that load", "ms", true);
    public static readonly Metric ConnectionsPerSecond = new("cps", "New connections/s (wrk, `Connection: close`, 50 concurrent)", "conn/s", false);
    public static readonly Metric Bulk1 = new("bulk1", "Bulk throughput, 1 stream (iperf3)", "Gbit/s", false);
    public static readonly Metric Bulk8 = new("bulk8", "Bulk throughput, 8 streams (iperf3 -P 8)", "Gbit/s", false);
    public static readonly Metric UdpDatagrams = new("udp", "UDP datagrams/s (iperf3 -u, 64-byte payloads, unlimited rate), received", "dgram/s", false);
    public static readonly Metric IdleRss = new("idle", "Memory per idle proxied connection (RSS growth / connections)", "KiB/conn", true);

    public static readonly Metric CpuPerRequest = new("cpu-rps", "Proxy CPU time per keep-alive request (utime + stime of the proxy's processes / requests)", "µs", true);
    public static readonly Metric CpuPerConnection = new("cpu-cps", "Proxy CPU time per new connection (utime + stime of the proxy's processes / connections)", "µs", true);

    public const string LoadCpu = "0";

    /// <summary>wrk's completed requests over the whole run (for CPU per request).</summary>
    public static double Completed(string wrkOutput) => double.Parse(CompletedRegex().Match(wrkOutput).Groups[1].Value, CultureInfo.InvariantCulture);

    public static async Task<(double Rps, double P50, double P99)> WrkAsync(string address, int port, TimeSpan duration, bool close, string? netns = null) =>
        (await WrkRunAsync(address, port, duration, close, netns)).Figures;

    /// <summary>
    /// Runs a load tool on the load CPU; with <paramref name="netns"/> inside that network namespace
    /// (`ip netns exec` execs the tool, so it is the same process, pinned the same way).
    /// </summary>
    private static Task<string> LoadAsync(string? netns, string command, params string[] args) =>
        netns is null ? Tool.RunAsync(LoadCpu, command, args) : Tool.RunAsync(LoadCpu, "ip", ["netns", "exec", netns, command, .. args]);

    public static async Task<((double Rps, double P50, double P99) Figures, double Requests)> WrkRunAsync(string address, int port, TimeSpan duration, bool close, string? netns = null)
    {
        var args = new List<string> { "-t1", "-c50", $"-d{(int)duration.TotalSeconds}s", "--latency", "--timeout", "5s" };
        if (close)
        {
            args.AddRange(["-H", "Connection: close"]);
        }

        args.Add($"http://{address}:{port}/");
        var output = await LoadAsync(netns, "wrk", [.. args]);
        var rps = double.Parse(RequestsRegex().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
        return ((rps, Percentile(output, "50%"), Percentile(output, "99%")), Completed(output));
    }

    private static double Percentile(string output, string label)
    {
        var match = Regex.Match(output, $@"^\s+{Regex.Escape(label)}\s+([\d.]+)(us|ms|s)\s*$", RegexOptions.Multiline);
        if (!match.Success)
        {
            return double.NaN;
        }

        var value = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        return match.Groups[2].Value switch
        {
            "us" => value / 1000,
            "s" => value * 1000,
            _ => value,
        };
    }

    /// <summary>
    /// iperf3 once its server is free: the server takes one test at a time and, on a loaded machine,
    /// may still be closing the previous one when the next starts ("the server is busy").
    /// </summary>
    private static async Task<string> IperfAsync(string[] args, string? netns)
    {
        for (var attempt = 1; ; attempt++)
        {
            string output;
            try
            {
                output = await LoadAsync(netns, "iperf3", args);
            }
            catch (InvalidOperationException ex) when (attempt < 20 && ex.Message.Contains("busy", StringComparison.Ordinal))
            {
                await Task.Delay(500);
                continue;
            }

            if (attempt < 20 && output.Contains("the server is busy", StringComparison.Ordinal))
            {
                await Task.Delay(500);
                continue;
            }

            return output;
        }
    }

    public static async Task<double> IperfTcpAsync(string address, TimeSpan duration, int streams, string? netns = null)
    {
        var output = await IperfAsync(["-c", address, "-p", "5201", "-t", ((int)duration.TotalSeconds).ToString(CultureInfo.InvariantCulture), "-P", streams.ToString(CultureInfo.InvariantCulture), "-J"], netns);
        using var json = JsonDocument.Parse(output);
        if (json.RootElement.TryGetProperty("error", out var error))
        {
            throw new InvalidOperationException($"iperf3 through {address}: {error.GetString()}");
        }

        return json.RootElement.GetProperty("end").GetProperty("sum_received").GetProperty("bits_per_second").GetDouble() / 1e9;
    }

    public static async Task<double> IperfUdpAsync(string address, TimeSpan duration, string? netns = null)
    {
        var output = await IperfAsync(["-c", address, "-p", "5201", "-u", "-b", "0", "-l", "64", "-t", ((int)duration.TotalSeconds).ToString(CultureInfo.InvariantCulture), "-J"], netns);
        using var json = JsonDocument.Parse(output);
        if (json.RootElement.TryGetProperty("error", out var error))
        {
            throw new InvalidOperationException($"iperf3 -u through {address}: {error.GetString()}");
        }

        var sum = json.RootElement.GetProperty("end").GetProperty("sum");
        var packets = sum.GetProperty("packets").GetDouble();
        var lost = sum.GetProperty("lost_packets").GetDouble();
        return (packets - lost) / sum.GetProperty("seconds").GetDouble();
    }

    /// <summary>
    /// Opens <paramref name="count"/> connections through the target and holds them idle; returns the
    /// target's RSS growth per connection in KiB.
    /// </summary>
    public static async Task<double> IdleRssAsync(string address, int port, int count, Func<long> rss)
    {
        GC.Collect();
        await Task.Delay(500);
        var before = rss();
        var sockets = new List<Socket>(count);
        try
        {
            var endpoint = new IPEndPoint(IPAddress.Parse(address), port);
            for (var i = 0; i < count; i += 200)
            {
                var batch = Enumerable.Range(0, Math.Min(200, count - i)).Select(async _ =>
                {
                    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    await socket.ConnectAsync(endpoint);
                    return socket;
                });
                sockets.AddRange(await Task.WhenAll(batch));
            }

            // Connections are idle: give the proxy time to finish its backend connects and settle.
            await Task.Delay(3000);
            var after = rss();
            return (after - before) / 1024.0 / count;
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }

            await Task.Delay(2000);
        }
    }

    /// <summary>
    /// System calls the proxy makes per new connection, by name: strace -c -f attached to the proxy
    /// (every thread) while wrk opens connections with `Connection: close` for a few seconds; the
    /// counts divided by the requests wrk completed (one connection each). Null when strace is missing
    /// or cannot attach (no ptrace permission).
    /// </summary>
    public static async Task<Dictionary<string, double>?> SyscallsPerConnectionAsync(string address, int port, int pid, string run)
    {
        var output = Path.Combine(run, $"strace-{pid}.txt");
        var info = new System.Diagnostics.ProcessStartInfo("strace") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in (string[])["-c", "-f", "-o", output, "-p", pid.ToString(CultureInfo.InvariantCulture)])
        {
            info.ArgumentList.Add(arg);
        }

        System.Diagnostics.Process strace;
        try
        {
            strace = System.Diagnostics.Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }

        using (strace)
        {
            // strace says "Process N attached" per thread on stderr once it is in place.
            var stderr = strace.StandardError;
            var attached = await stderr.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10));
            if (attached is null || !attached.Contains("attached", StringComparison.Ordinal))
            {
                return null;
            }

            _ = stderr.ReadToEndAsync();
            await Task.Delay(500);
            var wrk = await Tool.RunAsync(LoadCpu, "wrk", "-t1", "-c10", "-d3s", "--timeout", "5s", "-H", "Connection: close", $"http://{address}:{port}/");
            var requests = Completed(wrk);
            // SIGINT: strace detaches and writes its summary (stopped by its PID, which we started).
            await Tool.RunAsync("0,1", "kill", "-INT", strace.Id.ToString(CultureInfo.InvariantCulture));
            await strace.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            var counts = new Dictionary<string, double>();
            foreach (var line in File.ReadLines(output))
            {
                // "% time     seconds  usecs/call     calls    errors syscall": the name is last, the calls fourth.
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length >= 5 && double.TryParse(fields[0], CultureInfo.InvariantCulture, out _) && fields[^1] != "total"
                    && double.TryParse(fields[3], CultureInfo.InvariantCulture, out var calls))
                {
                    counts[fields[^1]] = calls / requests;
                }
            }

            return counts.Count > 0 ? counts : null;
        }
    }

    [GeneratedRegex(@"(\d+) requests in")]
    private static partial Regex CompletedRegex();

    [GeneratedRegex(@"Requests/sec:\s+([\d.]+)")]
    private static partial Regex RequestsRegex();
}
