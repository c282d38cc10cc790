using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MultiVip.DataPlane.Contract;

namespace MultiVip.Server.Hosting.Takeover;

/// <summary>
/// The takeover conversation between a running server and its successor, over
/// <c>&lt;data-dir&gt;/takeover.sock</c>: length-prefixed UTF-8 text frames, descriptors riding
/// on a frame's first byte. Text rather than JSON so either side can be read in strace.
/// <code>
/// successor → old     HELLO 1 &lt;pid&gt;
/// old → successor     SOCKETS\n&lt;kind&gt; &lt;address&gt; &lt;port&gt;\n...   (one frame per ≤ 200 sockets, fds attached)
/// old → successor     END &lt;pid&gt;            (the old server has stopped writing and unlocked the data dir)
/// successor → old     ACCEPTING              (the successor serves: the old one stops accepting, drains, exits)
/// old → successor     DRAINING &lt;seconds&gt;
/// </code>
/// </summary>
internal sealed class TakeoverChannel(Socket socket) : IDisposable
{
    public const string SocketFileName = "takeover.sock";
    public const int Version = 1;

    /// <summary>The longest frame either side accepts: ≤ 200 socket lines are far below it.</summary>
    private const int MaxFrame = 64 * 1024;

    public Socket Socket { get; } = socket;

    public void Send(string text, IReadOnlyList<int>? descriptors = null)
    {
        var payload = Encoding.UTF8.GetBytes(text);
        var frame = new byte[4 + payload.Length];
        BinaryPrimitives.WriteInt32BigEndian(frame, payload.Length);
        payload.CopyTo(frame, 4);
        UnixRights.Send(Socket, frame, descriptors ?? []);
    }

    /// <summary>The next frame's text, null at end of stream; descriptors that came with it are added to <paramref name="descriptors"/>.</summary>
    public string? Receive(List<int> descriptors)
    {
        var header = new byte[4];
        if (!UnixRights.ReceiveExactly(Socket, header, descriptors))
        {
            return null;
        }

        var length = BinaryPrimitives.ReadInt32BigEndian(header);
        if (length is < 0 or > MaxFrame)
        {
            throw new InvalidDataException($"The takeover peer sent a frame of {length} bytes; frames are at most {MaxFrame}.");
        }

        var payload = new byte[length];
        if (length > 0 && !UnixRights.ReceiveExactly(Socket, payload, descriptors))
        {
            throw new EndOfStreamException("The takeover peer closed the connection in the middle of a message.");
        }

        return Encoding.UTF8.GetString(payload);
    }

    /// <summary>One line per socket, in the order of the descriptors.</summary>
    public static string Describe(IEnumerable<ListeningSocket> sockets)
    {
        var text = new StringBuilder("SOCKETS");
        foreach (var socket in sockets)
        {
            text.Append('\n').Append(socket.Kind).Append(' ').Append(socket.EndPoint.Address).Append(' ').Append(socket.EndPoint.Port.ToString(CultureInfo.InvariantCulture));
        }

        return text.ToString();
    }

    /// <summary>The descriptions of a SOCKETS frame; throws on a line it cannot read.</summary>
    public static List<(ListeningSocketKind Kind, IPEndPoint EndPoint)> Parse(string frame)
    {
        var lines = frame.Split('\n');
        var result = new List<(ListeningSocketKind, IPEndPoint)>(lines.Length - 1);
        foreach (var line in lines.Skip(1))
        {
            var parts = line.Split(' ');
            if (parts.Length != 3
                || !Enum.TryParse<ListeningSocketKind>(parts[0], out var kind)
                || !IPAddress.TryParse(parts[1], out var address)
                || !int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var port)
                || port > IPEndPoint.MaxPort)
            {
                throw new InvalidDataException($"The takeover peer described a socket as '{line}', not '<kind> <address> <port>'.");
            }

            result.Add((kind, new IPEndPoint(address, port)));
        }

        return result;
    }

    public void Dispose() => Socket.Dispose();
}
