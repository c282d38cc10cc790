using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace MultiVip.Network.Linux;

/// <summary>Sends announcement frames.</summary>
internal interface IAnnouncementSender : IDisposable
{
    /// <summary>Sends the frames that announce <paramref name="address"/>; throws with the reason when the kernel refuses.</summary>
    void Announce(IPAddress address);
}

/// <summary>
/// A raw AF_PACKET socket on one interface (needs CAP_NET_RAW). Protocol 0: it only sends, so the
/// kernel never queues received frames on it. No helper program (arping, ndsend) is needed.
/// </summary>
internal sealed class PacketSender : IAnnouncementSender
{
    private readonly Socket _socket;
    private readonly LinkInfo _link;

    public PacketSender(LinkInfo link)
    {
        _link = link;
        _socket = new Socket(AddressFamily.Packet, SocketType.Raw, ProtocolType.Unspecified);
    }

    public void Announce(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            foreach (var frame in AnnouncementFrames.GratuitousArp(_link.MacAddress, address))
            {
                Send(frame, AnnouncementFrames.EtherTypeArp);
            }
        }
        else
        {
            Send(AnnouncementFrames.UnsolicitedNeighbourAdvertisement(_link.MacAddress, address), AnnouncementFrames.EtherTypeIpv6);
        }
    }

    private void Send(byte[] frame, ushort etherType)
    {
        // struct sockaddr_ll: family (2), protocol (2, network order), ifindex (4), hatype (2),
        // pkttype (1), halen (1), addr (8). .NET fills in the family.
        var address = new SocketAddress(AddressFamily.Packet, 20);
        var bytes = address.Buffer.Span;
        BinaryPrimitives.WriteUInt16BigEndian(bytes[2..], etherType);
        var index = _link.Index; // host byte order
        System.Runtime.InteropServices.MemoryMarshal.Write(bytes[4..], in index);
        bytes[11] = 6;
        frame.AsSpan(0, 6).CopyTo(bytes[12..]);
        _socket.SendTo(frame, SocketFlags.None, address);
    }

    public void Dispose() => _socket.Dispose();
}
