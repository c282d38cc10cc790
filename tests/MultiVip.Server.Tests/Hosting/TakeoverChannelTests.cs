using System.Net;
using System.Net.Sockets;
using MultiVip.DataPlane.Contract;
using MultiVip.Server.Hosting.Takeover;

namespace MultiVip.Server.Tests.Hosting;

/// <summary>
/// The takeover's descriptor passing on real sockets: a listening socket sent with SCM_RIGHTS keeps
/// its accept queue, and the sender's close of a handed-over socket leaves it working for the receiver.
/// </summary>
public sealed class TakeoverChannelTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"mvt-{Guid.NewGuid():N}.sock");

    public void Dispose() => File.Delete(_path);

    [Fact]
    public async Task A_passed_listening_socket_keeps_its_queued_connection_and_outlives_the_senders_close()
    {
        var address = IPAddress.Parse($"127.115.{Random.Shared.Next(200, 250)}.1");
        var original = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        original.Bind(new IPEndPoint(address, 0));
        original.Listen(16);
        var endPoint = (IPEndPoint)original.LocalEndPoint!;

        // Queued before the handover: nobody has accepted it yet.
        using var queued = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await queued.ConnectAsync(endPoint);

        var (sender, receiver) = Pair();
        using var senderChannel = new TakeoverChannel(sender);
        using var receiverChannel = new TakeoverChannel(receiver);
        HandedOverSockets.Mark(original);
        senderChannel.Send(TakeoverChannel.Describe([new ListeningSocket(ListeningSocketKind.VipTcp, endPoint, original)]), [(int)original.Handle]);

        var descriptors = new List<int>();
        var frame = receiverChannel.Receive(descriptors);
        Assert.NotNull(frame);
        var described = Assert.Single(TakeoverChannel.Parse(frame));
        Assert.Equal((ListeningSocketKind.VipTcp, endPoint), described);
        using var adopted = new Socket(new SafeSocketHandle(Assert.Single(descriptors), ownsHandle: true));
        Assert.Equal(endPoint, adopted.LocalEndPoint);

        // The sender lets go: its close of a handed-over socket must not stop the receiver's.
        HandedOverSockets.Close(original);
        using (var accepted = await adopted.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(10)))
        {
            Assert.Equal(queued.LocalEndPoint, accepted.RemoteEndPoint);
        }

        original.Dispose();
        using var later = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await later.ConnectAsync(endPoint);
        using var second = await adopted.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(later.LocalEndPoint, second.RemoteEndPoint);
    }

    [Theory]
    [InlineData("SOCKETS\nVipTcp not-an-address 80")]
    [InlineData("SOCKETS\nSomething 127.0.0.1 80")]
    [InlineData("SOCKETS\nApi 127.0.0.1 70000")]
    [InlineData("SOCKETS\nApi 127.0.0.1")]
    public void A_description_it_cannot_read_is_refused(string frame) =>
        Assert.Throws<InvalidDataException>(() => TakeoverChannel.Parse(frame));

    private (Socket Sender, Socket Receiver) Pair()
    {
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(_path));
        listener.Listen(1);
        var sender = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        sender.Connect(new UnixDomainSocketEndPoint(_path));
        var receiver = listener.Accept();
        UnixRights.SetTimeouts(receiver, TimeSpan.FromSeconds(10));
        return (sender, receiver);
    }
}
