using System.Net;
using System.Net.Sockets;

namespace MultiVip.DataPlane.Sockets;

/// <summary>Outbound TCP connect bounded by a timeout measured on the injected clock.</summary>
internal static class BackendConnector
{
    public static async Task<Socket> ConnectAsync(IPEndPoint target, TimeSpan timeout, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeoutSource = new CancellationTokenSource(timeout, timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutSource.Token);
        try
        {
            await socket.ConnectAsync(target, linked.Token).ConfigureAwait(false);
            return socket;
        }
        catch (OperationCanceledException) when (timeoutSource.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new TimeoutException($"connect to {target} timed out after {timeout.TotalSeconds:0.###} s");
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Short, log-friendly reason for a failed connect or probe.</summary>
    public static string Describe(Exception exception) => exception switch
    {
        SocketException se => $"{se.SocketErrorCode} ({se.Message})",
        TimeoutException te => te.Message,
        _ => exception.Message,
    };
}
