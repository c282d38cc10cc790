using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace MultiVip.DataPlane.Nftables;

/// <summary>A transaction nft refused: its own message (what and where), for the listener's fault.</summary>
internal sealed class NftException(string message) : Exception(message);

/// <summary>
/// nftables and conntrack: each ruleset change is one transaction (the kernel applies all of it or none),
/// committed through libnftables in this process (<see cref="LibNftables"/>) when <paramref name="inProcess"/>,
/// <paramref name="nft"/> is the default and the library loads, else through <c>nft -f -</c> (one process per
/// commit: the fallback, and what tests point at a stand-in). Either way a refused commit throws
/// <see cref="NftException"/> with nft's own message. Counters are read with <c>nft -j list …</c>, UDP flows
/// deleted with the conntrack executable.
/// </summary>
internal sealed class NftCommand(string nft = "nft", string conntrack = "conntrack", bool inProcess = true) : IDisposable
{
    private readonly LibNftables? _library = inProcess && nft == NftablesOptions.DefaultNft ? LibNftables.TryCreate() : null;

    /// <summary>Whether commits run in this process (libnftables) rather than through an nft process.</summary>
    public bool InProcess => _library is not null;

    public async Task CommitAsync(string transaction, CancellationToken cancellationToken)
    {
        var (code, _, error) = _library is { } library
            ? library.Run(transaction)
            : await RunAsync(nft, ["-f", "-"], transaction, cancellationToken).ConfigureAwait(false);
        if (code != 0)
        {
            throw new NftException(Summarize(error, code));
        }
    }

    public void Dispose() => _library?.Dispose();

    /// <summary>
    /// Packets and bytes of MultiVip's counters, by name: the counters of the counting sets' elements
    /// (<c>backend-B-conns</c>, <c>-in</c>, <c>-out</c> by conntrack mark, <see cref="NftRuleset.NoBackendCounter(string)"/>
    /// by listener key), and, when <paramref name="named"/> (ACL or DSR listeners exist), the named counter
    /// objects. Each <c>list set</c> fills nft's cache with that set only; <c>list counters</c> fills all of it,
    /// so it runs only when there are named counters to read. Synchronous on purpose, with blocking pipe
    /// reads: it is called from synchronous read-backs (scrape, dashboard, usage), and blocking on an async
    /// read there can deadlock when the caller runs on the thread that would complete it.
    /// </summary>
    public IReadOnlyDictionary<string, (long Packets, long Bytes)> Counters(bool named)
    {
        var counters = new Dictionary<string, (long, long)>(StringComparer.Ordinal);
        if (named)
        {
            using var json = JsonDocument.Parse(Run("-j", "list", "counters"));
            foreach (var item in json.RootElement.GetProperty("nftables").EnumerateArray())
            {
                if (item.TryGetProperty("counter", out var counter) && counter.GetProperty("table").GetString() == NftRuleset.TableName)
                {
                    counters[counter.GetProperty("name").GetString()!] = (counter.GetProperty("packets").GetInt64(), counter.GetProperty("bytes").GetInt64());
                }
            }
        }

        foreach (var set in NftRuleset.CountingSets)
        {
            using var json = JsonDocument.Parse(Run("-j", "list", "set", "inet", NftRuleset.TableName, set));
            foreach (var item in json.RootElement.GetProperty("nftables").EnumerateArray())
            {
                if (!item.TryGetProperty("set", out var definition) || !definition.TryGetProperty("elem", out var elements))
                {
                    continue;
                }

                foreach (var element in elements.EnumerateArray())
                {
                    if (!element.TryGetProperty("elem", out var elem) || !elem.TryGetProperty("counter", out var counter))
                    {
                        continue;
                    }

                    var name = CounterName(set, elem.GetProperty("val"));
                    if (name is not null)
                    {
                        counters[name] = (counter.GetProperty("packets").GetInt64(), counter.GetProperty("bytes").GetInt64());
                    }
                }
            }
        }

        return counters;
    }

    /// <summary>A counting set's element as the counter name the data plane reads: a mark → its backend, a key → its listener.</summary>
    private static string? CounterName(string set, JsonElement value)
    {
        if (set.StartsWith("nobackend", StringComparison.Ordinal))
        {
            if (!value.TryGetProperty("concat", out var concat) || concat.GetArrayLength() != 3)
            {
                return null;
            }

            var address = System.Net.IPAddress.Parse(concat[0].GetString()!);
            var port = concat[2].ValueKind == JsonValueKind.Number ? concat[2].GetInt32() : int.Parse(concat[2].GetString()!, CultureInfo.InvariantCulture);
            return NftRuleset.NoBackendCounter($"{address} . {concat[1].GetString()} . {port.ToString(CultureInfo.InvariantCulture)}");
        }

        var mark = value.ValueKind == JsonValueKind.Number
            ? value.GetUInt32()
            : uint.Parse(value.GetString()!.Replace("0x", "", StringComparison.Ordinal), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        var suffix = set switch { "conns" => "conns", "bytes-in" => "in", _ => "out" };
        return $"backend-{(mark & NftRuleset.MaxBackendId).ToString(CultureInfo.InvariantCulture)}-{suffix}";
    }

    private string Run(params string[] arguments)
    {
        var (code, output, error) = RunReading(nft, arguments, reader => reader.ReadToEnd());
        return code == 0 ? output : throw new NftException(Summarize(error, code));
    }

    /// <summary>
    /// Runs <paramref name="file"/> and hands its standard output to <paramref name="read"/> while it
    /// runs (a conntrack dump of many flows is counted line by line, never held whole); standard error
    /// is collected beside it. The caller words a non-zero exit.
    /// </summary>
    internal static (int Code, T Result, string Error) RunReading<T>(string file, string[] arguments, Func<TextReader, T> read)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new NftException($"cannot run {file}");
        var error = new StringBuilder();
        process.ErrorDataReceived += (_, e) => error.Append(e.Data).Append(' ');
        process.BeginErrorReadLine();
        var result = read(process.StandardOutput);
        process.WaitForExit();
        return (process.ExitCode, result, error.ToString().Trim());
    }

    /// <summary>The table as nft prints it (tests, and the fault of a failed start).</summary>
    public async Task<string> ListAsync(CancellationToken cancellationToken)
    {
        var (code, output, error) = await RunAsync(nft, ["list", "table", NftRuleset.Table], null, cancellationToken).ConfigureAwait(false);
        return code == 0 ? output : throw new NftException(Summarize(error, code));
    }

    /// <summary>
    /// Deletes conntrack entries of UDP flows DNATed to <paramref name="backend"/> for the listener
    /// (kube-proxy's stale-UDP lesson: without it a client keeps sending to a gone backend for as long as
    /// it keeps sending). conntrack exits 1 when nothing matched: not an error.
    /// </summary>
    public async Task<string?> DeleteUdpFlowsAsync(System.Net.IPEndPoint vip, System.Net.IPEndPoint backend, CancellationToken cancellationToken)
    {
        var family = vip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? "ipv6" : "ipv4";
        var (code, _, error) = await RunAsync(
            conntrack,
            ["-D", "-f", family, "-p", "udp", "--orig-dst", vip.Address.ToString(), "--orig-port-dst", vip.Port.ToString(CultureInfo.InvariantCulture),
             "--reply-src", backend.Address.ToString(), "--reply-port-src", backend.Port.ToString(CultureInfo.InvariantCulture)],
            null,
            cancellationToken).ConfigureAwait(false);
        return code is 0 or 1 ? null : Summarize(error, code);
    }

    private static string Summarize(string error, int code)
    {
        var text = error.Trim();
        if (text.Length > 2000)
        {
            text = text[..2000] + " …";
        }

        return text.Length == 0 ? $"nft exited with {code}" : text;
    }

    private static async Task<(int Code, string Output, string Error)> RunAsync(string file, string[] arguments, string? input, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardInput = input is not null,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new NftException($"cannot run {file}: {e.Message} (install the nftables and conntrack packages)");
        }

        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input.AsMemory(), cancellationToken).ConfigureAwait(false);
            process.StandardInput.Close();
        }

        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        return (process.ExitCode, await output.ConfigureAwait(false), await error.ConfigureAwait(false));
    }
}

/// <summary>Whether this process may change nftables: CAP_NET_ADMIN in its effective set (/proc/self/status).</summary>
internal static class NetAdminCapability
{
    private const int CapNetAdmin = 12;

    public static bool IsEffective()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("CapEff:", StringComparison.Ordinal))
                {
                    var mask = ulong.Parse(line["CapEff:".Length..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                    return (mask & (1UL << CapNetAdmin)) != 0;
                }
            }
        }
        catch (IOException)
        {
        }

        return false;
    }
}
