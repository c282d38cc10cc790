using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace MultiVip.Network.Linux;

/// <summary>An address on an interface, as the kernel reports it.</summary>
internal sealed record InterfaceAddress(IPAddress Address, int PrefixLength, int? Metric)
{
    public bool IsHostRoute => PrefixLength == (Address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);
}

/// <summary>What announcing needs to know about an interface.</summary>
internal sealed record LinkInfo(string Name, int Index, byte[] MacAddress, bool IsUp);

/// <summary>
/// iproute2's `ip`, driven with -json for everything it reads (no text scraping) and -batch for
/// changes, so a desired state with many new addresses costs one process, not one per address.
/// Used because no maintained .NET netlink library is available; the kernel side is the same netlink.
/// </summary>
internal sealed class IpRoute
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    public IpRoute(string executable = "ip")
    {
        Executable = executable;
    }

    public string Executable { get; }

    public async Task<LinkInfo?> GetLinkAsync(string device, CancellationToken cancellationToken)
    {
        var (code, stdout, _) = await RunAsync(["-json", "link", "show", "dev", device], null, cancellationToken);
        if (code != 0)
        {
            return null;
        }

        return ParseLink(stdout);
    }

    public async Task<IReadOnlyList<InterfaceAddress>> GetAddressesAsync(string device, CancellationToken cancellationToken)
    {
        var (code, stdout, stderr) = await RunAsync(["-json", "addr", "show", "dev", device], null, cancellationToken);
        if (code != 0)
        {
            throw new IOException($"`{Executable} -json addr show dev {device}` failed: {stderr.Trim()}");
        }

        return ParseAddresses(stdout);
    }

    /// <summary>Runs `ip -force -batch -` with one command per line; returns stderr (empty when all succeeded).</summary>
    public async Task<string> BatchAsync(IReadOnlyList<string> commands, CancellationToken cancellationToken)
    {
        var (code, _, stderr) = await RunAsync(["-force", "-batch", "-"], string.Join('\n', commands) + "\n", cancellationToken);
        return code == 0 ? "" : stderr.Trim();
    }

    internal static LinkInfo? ParseLink(string json)
    {
        using var document = JsonDocument.Parse(json);
        foreach (var link in document.RootElement.EnumerateArray())
        {
            var mac = link.TryGetProperty("address", out var a) && a.GetString() is { } text ? ParseMac(text) : [];
            var flags = link.TryGetProperty("flags", out var f) ? f.EnumerateArray().Select(x => x.GetString()).ToList() : [];
            return new LinkInfo(link.GetProperty("ifname").GetString()!, link.GetProperty("ifindex").GetInt32(), mac, flags.Contains("UP"));
        }

        return null;
    }

    internal static IReadOnlyList<InterfaceAddress> ParseAddresses(string json)
    {
        var result = new List<InterfaceAddress>();
        using var document = JsonDocument.Parse(string.IsNullOrWhiteSpace(json) ? "[]" : json);
        foreach (var link in document.RootElement.EnumerateArray())
        {
            if (!link.TryGetProperty("addr_info", out var infos))
            {
                continue;
            }

            foreach (var info in infos.EnumerateArray())
            {
                if (!info.TryGetProperty("local", out var local) || !IPAddress.TryParse(local.GetString(), out var address))
                {
                    continue;
                }

                result.Add(new InterfaceAddress(
                    address,
                    info.GetProperty("prefixlen").GetInt32(),
                    info.TryGetProperty("metric", out var metric) ? metric.GetInt32() : null));
            }
        }

        return result;
    }

    internal static byte[] ParseMac(string text)
    {
        var parts = text.Split(':');
        return parts.Length == 6 ? [.. parts.Select(p => Convert.ToByte(p, 16))] : [];
    }

    private async Task<(int Code, string Stdout, string Stderr)> RunAsync(IEnumerable<string> arguments, string? input, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(Executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = input is not null,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new IOException($"could not start {Executable}");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input.AsMemory(), cancellationToken);
            process.StandardInput.Close();
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw new IOException($"`{Executable} {string.Join(' ', start.ArgumentList)}` did not finish within {Timeout.TotalSeconds:0} s");
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}
