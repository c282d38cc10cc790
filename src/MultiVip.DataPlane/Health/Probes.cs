using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MultiVip.DataPlane.Sockets;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Health;

/// <summary>
/// One probe attempt, Azure semantics: TCP is healthy when the handshake completes; HTTP is
/// healthy only on status 200 — any other status, a timeout or a reset is a failure.
/// </summary>
internal static class Probes
{
    private const int MaxStatusLineBytes = 1024;

    public static async Task<string?> ProbeOnceAsync(
        LoadBalancerProbe probe, IPEndPoint target, TimeSpan timeout, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        using var timeoutSource = new CancellationTokenSource(timeout, timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutSource.Token);
        try
        {
            using var socket = await BackendConnector.ConnectAsync(target, timeout, timeProvider, linked.Token).ConfigureAwait(false);
            if (probe.Protocol == ProbeProtocol.Tcp)
            {
                return null;
            }

            var status = await HttpGetStatusAsync(socket, probe.Path ?? "/", target, linked.Token).ConfigureAwait(false);
            return status == 200 ? null : $"HTTP status {status}";
        }
        catch (OperationCanceledException) when (timeoutSource.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return $"timed out after {timeout.TotalSeconds:0.###} s";
        }
        catch (Exception ex) when (ex is SocketException or TimeoutException or IOException or FormatException)
        {
            return BackendConnector.Describe(ex);
        }
    }

    private static async Task<int> HttpGetStatusAsync(Socket socket, string path, IPEndPoint target, CancellationToken cancellationToken)
    {
        var request = string.Create(
            CultureInfo.InvariantCulture,
            $"GET {path} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: MultiVip-Probe/1.0\r\nConnection: close\r\n\r\n");
        await socket.SendAsync(Encoding.ASCII.GetBytes(request), SocketFlags.None, cancellationToken).ConfigureAwait(false);

        var buffer = new byte[MaxStatusLineBytes];
        var length = 0;
        while (length < buffer.Length)
        {
            var read = await socket.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            length += read;
            var lineEnd = buffer.AsSpan(0, length).IndexOf("\r\n"u8);
            if (lineEnd >= 0)
            {
                return ParseStatus(buffer.AsSpan(0, lineEnd));
            }
        }

        throw new FormatException("no HTTP status line in the probe response");
    }

    /// <summary>"HTTP/1.1 200 OK" → 200.</summary>
    internal static int ParseStatus(ReadOnlySpan<byte> statusLine)
    {
        var line = Encoding.ASCII.GetString(statusLine);
        var parts = line.Split(' ', 3);
        if (parts.Length < 2 || !parts[0].StartsWith("HTTP/", StringComparison.Ordinal)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var status))
        {
            throw new FormatException($"not an HTTP status line: '{line}'");
        }

        return status;
    }
}
