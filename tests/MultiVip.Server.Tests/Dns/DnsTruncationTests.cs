using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net.Dns;
using Microsoft.Extensions.Logging.Abstractions;
using MultiVip.Server.Dns;

namespace MultiVip.Server.Tests.Dns;

/// <summary>
/// TC over UDP. The zone's own answers are far below 512 bytes (one A record, or SOA and NS), so
/// this drives the real UDP transport with ARSoft.Tools.Net's DnsServer and a handler that answers
/// with many A records, over real sockets on 127.67.1.1.
/// </summary>
public sealed class DnsTruncationTests
{
    private const string Name = "big.cloudapp.internal";

    [Theory]
    [InlineData(60, null, true)] // ~1,000 bytes, no EDNS: 512 is the limit
    [InlineData(20, null, false)] // ~370 bytes fit in 512
    [InlineData(60, (ushort)4096, false)] // the client takes 4096, we send up to our 1232
    [InlineData(60, (ushort)700, true)] // the client's size is the limit, not ours
    [InlineData(20, (ushort)400, false)] // below 512 counts as 512 (RFC 6891 section 6.2.5)
    [InlineData(30, (ushort)400, true)] // ~530 bytes
    [InlineData(100, (ushort)4096, true)] // ~1,650 bytes: above our own 1232
    public async Task Udp_answer_larger_than_the_clients_size_is_truncated_to_header_question_and_opt(int records, ushort? ednsSize, bool truncated)
    {
        var transport = new DnsUdpTransport(new IPEndPoint(IPAddress.Parse("127.67.1.1"), 0), NullLogger.Instance);
        var server = new DnsServer(transport);
        server.QueryReceived += (_, e) =>
        {
            var query = (DnsMessage)e.Query;
            var response = query.CreateResponseInstance();
            if (response.EDnsOptions is { } opt)
            {
                opt.UdpPayloadSize = DnsWire.UdpPayloadSize;
            }

            for (var i = 0; i < records; i++)
            {
                response.AnswerRecords.Add(new ARecord(query.Questions[0].Name, 30, new IPAddress([10, 0, (byte)(i / 250), (byte)(i % 250)])));
            }

            e.Response = response;
            return Task.CompletedTask;
        };
        server.Start();
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.Bind(new IPEndPoint(IPAddress.Parse("127.67.1.2"), 0));
            socket.Connect(transport.LocalEndPoint);
            var query = Wire.Query(0x3344, Name, 1, opt: ednsSize is { } size ? Wire.Opt(size, 0, dnssecOk: true) : null);

            var reply = await DnsProtocolTests.ExchangeAsync(socket, query);

            var limit = ednsSize is { } s2 ? Math.Max(512, Math.Min((int)s2, DnsWire.UdpPayloadSize)) : 512;
            Assert.True(reply.Raw.Length <= limit, $"{reply.Raw.Length} bytes sent to a client that takes {limit}");
            Assert.Equal(truncated, reply.Tc);
            Assert.Equal(0x3344, reply.Id);
            Assert.Equal(1, reply.QdCount);
            Assert.Equal(Name, reply.Message.Questions.Single().Name.ToString(false));
            Assert.Equal(truncated ? 0 : records, reply.AnCount);
            Assert.Equal(ednsSize is null ? 0 : 1, reply.ArCount);
            if (ednsSize is not null)
            {
                Assert.Equal(DnsWire.UdpPayloadSize, reply.Message.EDnsOptions!.UdpPayloadSize);
                Assert.True(reply.Message.EDnsOptions.IsDnsSecOk);
            }
        }
        finally
        {
            server.Stop();
        }
    }
}
