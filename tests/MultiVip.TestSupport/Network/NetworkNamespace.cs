using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace MultiVip.TestSupport.Network;

/// <summary>An address of an interface as `ip -json addr` reports it.</summary>
public sealed record InterfaceAddress(IPAddress Address, int PrefixLength, int? Metric, string? Label);

/// <summary>A neighbour (ARP or NDP) cache entry as `ip -json neigh` reports it.</summary>
public sealed record Neighbour(IPAddress Address, string? LinkAddress, IReadOnlyList<string> States);

/// <summary>
/// One network namespace made by <see cref="NetworkNamespaces"/>. Commands run in it through
/// `ip -n NAME` / `ip netns exec NAME`; sockets are opened in it in-process (a thread enters the
/// namespace, creates the socket, and the socket stays there), so tests need no helper programs.
/// </summary>
public sealed class NetworkNamespace
{
    private readonly NetworkNamespaces _owner;

    internal NetworkNamespace(NetworkNamespaces owner, string name)
    {
        _owner = owner;
        Name = name;
    }

    public string Name { get; }

    public string Path => "/run/netns/" + Name;

    public override string ToString() => Name;

    /// <summary>`ip -n NAME ARGS`; throws with stderr when it fails.</summary>
    public Task<string> IpAsync(params string[] arguments) => Command.RunAsync("ip", ["-n", Name, .. arguments]);

    public Task<CommandResult> TryIpAsync(params string[] arguments) => Command.TryRunAsync("ip", ["-n", Name, .. arguments]);

    /// <summary>`ip -n NAME -json ARGS`, parsed.</summary>
    public async Task<JsonElement> IpJsonAsync(params string[] arguments)
    {
        var text = await Command.RunAsync("ip", ["-n", Name, "-json", .. arguments]);
        using var document = JsonDocument.Parse(string.IsNullOrWhiteSpace(text) ? "[]" : text);
        return document.RootElement.Clone();
    }

    /// <summary>Runs a program inside the namespace to completion.</summary>
    public Task<CommandResult> ExecAsync(params string[] command) => Command.TryRunAsync("ip", ["netns", "exec", Name, .. command]);

    /// <summary>
    /// Starts a long-running program inside the namespace (`ip netns exec` execs it, so the PID is the
    /// program's). The process is stopped when the owning <see cref="NetworkNamespaces"/> is disposed.
    /// </summary>
    public NamespaceProcess Start(string file, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var process = NamespaceProcess.Start(this, file, arguments, environment);
        _owner.Track(process);
        return process;
    }

    /// <summary>
    /// Runs synchronous code with this namespace as the network namespace (on a thread of its own):
    /// sockets it creates, also inside product code, live in this namespace.
    /// </summary>
    public T Run<T>(Func<T> action) => Native.InNamespace(Path, action);

    /// <summary>A socket that lives in this namespace (binds and connects see its interfaces and routes).</summary>
    public Socket OpenSocket(AddressFamily family, SocketType type, ProtocolType protocol) =>
        Native.InNamespace(Path, () => new Socket(family, type, protocol));

    /// <summary>Connects from this namespace, bounded by <paramref name="timeout"/>.</summary>
    public async Task<Socket> ConnectAsync(IPEndPoint remote, TimeSpan timeout)
    {
        var socket = OpenSocket(remote.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            using var cts = new CancellationTokenSource(timeout);
            await socket.ConnectAsync(remote, cts.Token);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Writes /proc/sys/KEY as seen from this namespace (net.* settings are per namespace).</summary>
    public void SetSysctl(string key, string value)
    {
        var path = "/proc/sys/" + key.Replace('.', '/');
        Native.InNamespace(Path, () =>
        {
            File.WriteAllText(path, value);
            return 0;
        });
    }

    public string ReadSysctl(string key)
    {
        var path = "/proc/sys/" + key.Replace('.', '/');
        return Native.InNamespace(Path, () => File.ReadAllText(path).Trim());
    }

    public Task AddAddressAsync(string device, string cidr, params string[] extra) =>
        IpAsync(["addr", "add", cidr, "dev", device, .. extra]);

    public Task SetUpAsync(string device) => IpAsync("link", "set", device, "up");

    public async Task<string> MacAddressAsync(string device)
    {
        var links = await IpJsonAsync("link", "show", "dev", device);
        return links[0].GetProperty("address").GetString()!;
    }

    public async Task<IReadOnlyList<InterfaceAddress>> AddressesAsync(string device)
    {
        var links = await IpJsonAsync("addr", "show", "dev", device);
        var result = new List<InterfaceAddress>();
        foreach (var link in links.EnumerateArray())
        {
            foreach (var info in link.GetProperty("addr_info").EnumerateArray())
            {
                result.Add(new InterfaceAddress(
                    IPAddress.Parse(info.GetProperty("local").GetString()!),
                    info.GetProperty("prefixlen").GetInt32(),
                    info.TryGetProperty("metric", out var metric) ? metric.GetInt32() : null,
                    info.TryGetProperty("label", out var label) ? label.GetString() : null));
            }
        }

        return result;
    }

    /// <summary>Global addresses of <paramref name="device"/> (no link-local IPv6).</summary>
    public async Task<IReadOnlyList<IPAddress>> GlobalAddressesAsync(string device) =>
        [.. (await AddressesAsync(device)).Select(a => a.Address).Where(a => !a.IsIPv6LinkLocal)];

    public async Task<IReadOnlyList<Neighbour>> NeighboursAsync(string device)
    {
        var entries = await IpJsonAsync("neigh", "show", "dev", device);
        var result = new List<Neighbour>();
        foreach (var entry in entries.EnumerateArray())
        {
            var states = entry.TryGetProperty("state", out var s) ? s.EnumerateArray().Select(x => x.GetString()!).ToList() : [];
            result.Add(new Neighbour(
                IPAddress.Parse(entry.GetProperty("dst").GetString()!),
                entry.TryGetProperty("lladdr", out var ll) ? ll.GetString() : null,
                states));
        }

        return result;
    }
}
