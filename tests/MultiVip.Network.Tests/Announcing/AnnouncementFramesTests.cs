using System.Buffers.Binary;
using System.Net;
using MultiVip.Network.Linux;

namespace MultiVip.Network.Tests.Announcing;

/// <summary>The announcement frames byte by byte (the namespace tests show a kernel accepts them).</summary>
public sealed class AnnouncementFramesTests
{
    private static readonly byte[] Mac = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];

    [Fact]
    public void Gratuitous_arp_is_a_broadcast_request_and_reply_with_sender_and_target_the_vip()
    {
        var frames = AnnouncementFrames.GratuitousArp(Mac, IPAddress.Parse("198.18.0.100"));
        Assert.Equal(2, frames.Count);
        foreach (var (frame, operation) in frames.Zip(new ushort[] { 1, 2 }))
        {
            Assert.Equal(42, frame.Length);
            Assert.Equal(new byte[] { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, frame[..6]);
            Assert.Equal(Mac, frame[6..12]);
            Assert.Equal(0x0806, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)));
            Assert.Equal(operation, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(20)));
            Assert.Equal(Mac, frame[22..28]);                       // sender MAC
            Assert.Equal(new byte[] { 198, 18, 0, 100 }, frame[28..32]); // sender IP
            Assert.Equal(new byte[] { 198, 18, 0, 100 }, frame[38..42]); // target IP = sender IP
        }
    }

    [Fact]
    public void The_neighbour_advertisement_goes_to_all_nodes_with_override_our_mac_and_a_valid_checksum()
    {
        var vip = IPAddress.Parse("2001:db8:1::100");
        var frame = AnnouncementFrames.UnsolicitedNeighbourAdvertisement(Mac, vip);
        Assert.Equal(new byte[] { 0x33, 0x33, 0, 0, 0, 1 }, frame[..6]);
        Assert.Equal(0x86DD, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)));
        var ip = frame.AsSpan(14);
        Assert.Equal(58, ip[6]);
        Assert.Equal(255, ip[7]);
        Assert.Equal(vip, new IPAddress(ip[8..24]));
        Assert.Equal(IPAddress.Parse("ff02::1"), new IPAddress(ip[24..40]));
        var icmp = ip[40..];
        Assert.Equal(136, icmp[0]);
        Assert.Equal(0x20, icmp[4]); // Override, not Solicited, not Router
        Assert.Equal(vip, new IPAddress(icmp[8..24]));
        Assert.Equal(Mac, icmp[26..32].ToArray());

        // A receiver sums the message with its checksum in place and gets 0 (RFC 4443 2.3).
        Assert.Equal(0, AnnouncementFrames.Icmpv6Checksum(ip[8..24], ip[24..40], icmp[..32]));
    }
}
