using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace MultiVip.DataPlane.Nftables;

/// <summary>A transaction nft refused: its own message (what and where), for the listener's fault.</summary>
internal sealed class NftException(string message) : Exception(message);

/// <summary>
/// The nft and conntrack executables: each ruleset change is one <c>nft -f -</c> transaction (the
/// kernel applies all of it or none), counters are read with <c>nft -j list counters</c>. Processes
/// rather than libnftables through P/Invoke: the binary is what an operator debugs with, and its
/// messages go into faults verbatim.
/// </summary>
internal sealed class NftCommand(string nft = "nft", string conntrack = "conntrack")
{
    public async Task CommitAsync(string transaction, CancellationToken cancellationToken)
    {
        var (code, _, error) = await RunAsync(nft, ["-f", "-"], transaction, cancellationToken).ConfigureAwait(false);
        if (code != 0)
        {
            throw new NftException(Summarize(error, code));
        }
    }

    /// <summary>
    /// Packets and bytes of every named counter of MultiVip's tables, by name. Synchronous on purpose,
    /// with blocking pipe reads: it is called from synchronous read-backs (scrape, dashboard, usage), and
    /// blocking on an async read there can deadlock when the caller runs on the thread that would complete it.
    /// </summary>
    public IReadOnlyDictionary<string, (long Packets, long Bytes)> Counters()
    {
        var start = new ProcessStartInfo(nft) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "-j", "list", "counters" })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new NftException($"cannot run {nft}");
        var error = new StringBuilder();
        process.ErrorDataReceived += (_, e) => error.Append(e.Data);
        process.BeginErrorReadLine();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new NftException(Summarize(error.ToString(), process.ExitCode));
        }

        var counters = new Dictionary<string, (long, long)>(StringComparer.Ordinal);
        using var json = JsonDocument.Parse(output);
        foreach (var item in json.RootElement.GetProperty("nftables").EnumerateArray())
        {
            if (item.TryGetProperty("counter", out var counter) && counter.GetProperty("table").GetString() == NftRuleset.TableName)
            {
                counters[counter.GetProperty("name").GetString()!] = (counter.GetProperty("packets").GetInt64(), counter.GetProperty("bytes").GetInt64());
            }
        }

        return counters;
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
