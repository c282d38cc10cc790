using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using Microsoft.Extensions.Logging.Abstractions;
using MultiVip.Contracts;
using MultiVip.Server.Dns;

namespace MultiVip.Server.Tests.Dns;

/// <summary>One real server with myService deployed; its DNS server on 127.67.0.1 (this suite's loopback range).</summary>
public sealed class DnsProtocolFixture : IAsyncLifetime
{
    internal ServerFixture Server { get; private set; } = null!;

    public IPEndPoint Dns => Server.Server.DnsEndPoint!;

    public async Task InitializeAsync()
    {
        Server = await ServerFixture.StartAsync(configure: o => o with { Dns = "127.67.0.1:0" });
        await Server.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "myService" });
        await Server.SendAsync(HttpMethod.Post, ApiRoutes.Vms("myService"), new AddVmRequest { Name = "myVM1", Address = "127.67.0.11" });
    }

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>
/// The embedded DNS server at the packet level, against what RFC 1035 and RFC 6891 require and what
/// NSD and Knot answer: queries are written byte by byte (so malformed ones can be), sent over real
/// UDP and TCP, and the reply's bytes are read back (header flags and counts raw, sections through
/// ARSoft.Tools.Net's parser).
/// </summary>
public sealed class DnsProtocolTests(DnsProtocolFixture fixture) : IClassFixture<DnsProtocolFixture>
{
    private const string Service = "myservice.cloudapp.internal";
    private const ushort TypeA = 1, TypeNs = 2, TypeSoa = 6, TypeAaaa = 28, TypeAxfr = 252, TypeIxfr = 251;

    private static readonly IPAddress Client = IPAddress.Parse("127.67.0.2");

    private IPEndPoint Dns => fixture.Dns;

    // ---- EDNS (RFC 6891) ----

    [Theory]
    [InlineData(1, false)]
    [InlineData(1, true)]
    [InlineData(255, false)]
    public async Task Edns_version_above_0_gets_badvers_with_an_opt_record_of_version_0(byte version, bool dnssecOk)
    {
        var reply = await UdpAsync(Wire.Query(0x1234, Service, TypeA, opt: Wire.Opt(4096, version, dnssecOk)));

        Assert.Equal(0x1234, reply.Id);
        Assert.True(reply.Qr);
        Assert.Equal(0, reply.HeaderRcode); // BADVERS is 16: 0 in the header, 1 in the OPT record's extended RCODE
        Assert.Equal(ReturnCode.BadVersion, reply.Message.ReturnCode);
        Assert.Equal(1, reply.QdCount);
        Assert.Equal(Service, reply.Message.Questions.Single().Name.ToString(false));
        Assert.Equal(0, reply.AnCount);
        Assert.Equal(0, reply.NsCount);
        var opt = reply.Message.EDnsOptions!;
        Assert.Equal(0, opt.Version);
        Assert.Equal(DnsWire.UdpPayloadSize, opt.UdpPayloadSize);
        Assert.Equal(dnssecOk, opt.IsDnsSecOk);
        Assert.False(reply.Aa);
    }

    [Fact]
    public async Task Unknown_edns_options_are_ignored_and_not_echoed_and_opt_is_there_iff_the_query_had_one()
    {
        // Option 65001 (local use), NSID (3) and a COOKIE (10): none is implemented here, each ignored.
        var options = Wire.Option(65001, Encoding.ASCII.GetBytes("abc")).Concat(Wire.Option(3, [])).Concat(Wire.Option(10, [1, 2, 3, 4, 5, 6, 7, 8])).ToArray();
        var vip = await DefaultVipAsync();

        var withOpt = await UdpAsync(Wire.Query(7, Service, TypeA, opt: Wire.Opt(4096, 0, dnssecOk: true, options)));
        Assert.Equal(0, withOpt.HeaderRcode);
        Assert.Equal(vip, ((ARecord)withOpt.Message.AnswerRecords.Single()).Address);
        var opt = withOpt.Message.EDnsOptions!;
        Assert.Equal(0, opt.Version);
        Assert.Equal(DnsWire.UdpPayloadSize, opt.UdpPayloadSize);
        Assert.True(opt.IsDnsSecOk);
        Assert.Empty(opt.Options);
        Assert.Equal(1, withOpt.ArCount);

        // A client that offers less than 512 still gets our size in the reply.
        var small = await UdpAsync(Wire.Query(8, Service, TypeA, opt: Wire.Opt(200, 0, dnssecOk: false)));
        Assert.Equal(DnsWire.UdpPayloadSize, small.Message.EDnsOptions!.UdpPayloadSize);
        Assert.False(small.Message.EDnsOptions.IsDnsSecOk);

        var without = await UdpAsync(Wire.Query(9, Service, TypeA));
        Assert.Equal(0, without.ArCount);
        Assert.Null(without.Message.EDnsOptions);
    }

    // ---- opcodes ----

    [Theory]
    [InlineData(1)] // IQUERY (obsolete, RFC 3425)
    [InlineData(2)] // STATUS
    [InlineData(4)] // NOTIFY (RFC 1996): this server has no secondaries
    [InlineData(5)] // UPDATE (RFC 2136): its zone section is the "question"
    [InlineData(6)] // DSO (RFC 8490)
    [InlineData(15)] // unassigned
    public async Task Opcodes_other_than_query_get_notimp_echoing_id_opcode_and_question(int opcode)
    {
        var query = Wire.Query(0xBEEF, opcode == 5 ? "cloudapp.internal" : Service, opcode == 5 ? TypeSoa : TypeA, opcode: opcode, cd: true, opt: Wire.Opt(4096, 0, dnssecOk: false));

        var reply = await UdpAsync(query);

        Assert.Equal(0xBEEF, reply.Id);
        Assert.True(reply.Qr);
        Assert.Equal(opcode, reply.Opcode);
        Assert.Equal((int)ReturnCode.NotImplemented, reply.HeaderRcode);
        Assert.True(reply.Rd);
        Assert.False(reply.Aa);
        Assert.False(reply.Cd);
        Assert.Equal(1, reply.QdCount);
        Assert.Equal(query.AsSpan(12, reply.QuestionLength).ToArray(), reply.Raw.AsSpan(12, reply.QuestionLength).ToArray());
        Assert.Equal(0, reply.AnCount + reply.NsCount);
        Assert.Equal(DnsWire.UdpPayloadSize, reply.Message.EDnsOptions!.UdpPayloadSize);
    }

    // ---- flags and rcodes of normal answers ----

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task Flags_are_qr_aa_and_rd_echoed_ra_ad_cd_clear(bool rd, bool cd)
    {
        var reply = await UdpAsync(Wire.Query(42, Service, TypeA, rd: rd, cd: cd, ad: true));

        Assert.True(reply.Qr);
        Assert.Equal(0, reply.Opcode);
        Assert.True(reply.Aa);
        Assert.False(reply.Tc);
        Assert.Equal(rd, reply.Rd);
        Assert.False(reply.Ra);
        Assert.False(reply.Ad);
        Assert.False(reply.Cd); // NSD and Knot clear CD in authoritative answers
        Assert.Equal(0, reply.HeaderRcode);
    }

    [Theory]
    [InlineData(Service, TypeA, ReturnCode.NoError, 1, 0, true)]
    [InlineData("MyService.CloudApp.Internal", TypeA, ReturnCode.NoError, 1, 0, true)]
    [InlineData(Service, TypeAaaa, ReturnCode.NoError, 0, 1, true)] // NODATA: the name exists, not with this type
    [InlineData("cloudapp.internal", TypeA, ReturnCode.NoError, 0, 1, true)] // NODATA at the apex
    [InlineData("cloudapp.internal", TypeNs, ReturnCode.NoError, 1, 0, true)]
    [InlineData("nosuchservice.cloudapp.internal", TypeA, ReturnCode.NxDomain, 0, 1, true)]
    [InlineData("deeper.myservice.cloudapp.internal", TypeA, ReturnCode.NxDomain, 0, 1, true)]
    [InlineData("example.com", TypeA, ReturnCode.Refused, 0, 0, false)]
    [InlineData("internal", TypeSoa, ReturnCode.Refused, 0, 0, false)] // the zone's parent is outside it
    public async Task Names_in_and_outside_the_zone(string name, ushort type, ReturnCode rcode, int answers, int soaInAuthority, bool aa)
    {
        var reply = await UdpAsync(Wire.Query(43, name, type));

        Assert.Equal((int)rcode, reply.HeaderRcode);
        Assert.Equal(aa, reply.Aa);
        Assert.Equal(answers, reply.AnCount);
        Assert.Equal(soaInAuthority, reply.Message.AuthorityRecords.Count(r => r.RecordType == RecordType.Soa));
        Assert.Equal(soaInAuthority, reply.NsCount);
        Assert.Equal(name, reply.Message.Questions.Single().Name.ToString(false)); // case kept for 0x20 resolvers
    }

    [Theory]
    [InlineData(3, TypeA, ReturnCode.Refused)] // CHAOS: no version.bind or id.server here
    [InlineData(4, TypeA, ReturnCode.Refused)] // HESIOD
    [InlineData(255, TypeA, ReturnCode.NoError)] // ANY class: the IN data
    public async Task Classes_other_than_in_are_refused(ushort qclass, ushort type, ReturnCode rcode)
    {
        var reply = await UdpAsync(Wire.Query(44, Service, type, qclass: qclass));

        Assert.Equal((int)rcode, reply.HeaderRcode);
        Assert.Equal(rcode == ReturnCode.NoError ? 1 : 0, reply.AnCount);
    }

    [Fact]
    public async Task Zone_transfers_get_notimp_over_udp_and_refused_over_tcp()
    {
        Assert.Equal((int)ReturnCode.NotImplemented, (await UdpAsync(Wire.Query(45, "cloudapp.internal", TypeAxfr))).HeaderRcode);
        Assert.Equal((int)ReturnCode.Refused, (await UdpAsync(Wire.Query(46, "cloudapp.internal", TypeIxfr))).HeaderRcode);

        using var tcp = await TcpAsync();
        var axfr = await ExchangeTcpAsync(tcp, Wire.Query(47, "cloudapp.internal", TypeAxfr));
        Assert.Equal((int)ReturnCode.Refused, axfr.HeaderRcode);
        Assert.Equal(0, axfr.AnCount);
    }

    // ---- malformed packets ----

    public static TheoryData<string, byte[], bool> Malformed()
    {
        var good = Wire.Query(0x0A0B, Service, TypeA);
        var question = good[12..];
        var data = new TheoryData<string, byte[], bool>
        {
            { "no question", Wire.Header(0x0A0B, 0x0100, 0, 0, 0, 0), false },
            { "two questions", [.. Wire.Header(0x0A0B, 0x0100, 2, 0, 0, 0), .. question, .. question], false },
            { "question cut short", good[..^3], false },
            { "a label longer than the packet", [.. Wire.Header(0x0A0B, 0x0100, 1, 0, 0, 0), 40, (byte)'a', (byte)'b'], false },
            { "extended label type 0x41", [.. Wire.Header(0x0A0B, 0x0100, 1, 0, 0, 0), 0x41, 8, 0xFF, 0, 0, 1, 0, 1], false },
            { "compression pointer in the question", [.. Wire.Header(0x0A0B, 0x0100, 1, 0, 0, 0), 0xC0, 0x0C, 0, 1, 0, 1], false },
            { "bytes after the last record", [.. good, 0xDE, 0xAD], true },
            { "additional record count larger than the records", [.. Wire.Header(0x0A0B, 0x0100, 1, 0, 0, 2), .. question, .. Wire.Opt(4096, 0, false)], true },
            { "OPT in the answer section", [.. Wire.Header(0x0A0B, 0x0100, 1, 1, 0, 0), .. question, .. Wire.Opt(4096, 0, false)], true },
            { "two OPT records", [.. Wire.Header(0x0A0B, 0x0100, 1, 0, 0, 2), .. question, .. Wire.Opt(4096, 0, false), .. Wire.Opt(4096, 0, false)], true },
            { "OPT option longer than its record", [.. Wire.Header(0x0A0B, 0x0100, 1, 0, 0, 1), .. question, .. Wire.Opt(4096, 0, false, [0, 10, 0, 9, 1, 2])], true },
            { "OPT owner not the root", [.. Wire.Header(0x0A0B, 0x0100, 1, 0, 0, 1), .. question, 1, (byte)'x', .. Wire.Opt(4096, 0, false)], true },
        };

        // An answer record whose name points at itself: a compression loop.
        var loop = new List<byte>(Wire.Header(0x0A0B, 0x0100, 1, 1, 0, 0));
        loop.AddRange(question);
        var at = loop.Count;
        loop.AddRange([(byte)(0xC0 | (at >> 8)), (byte)at, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 127, 0, 0, 1]);
        data.Add("compression pointer loop", [.. loop], true);
        return data;
    }

    [Theory]
    [MemberData(nameof(Malformed))]
    public async Task Malformed_queries_with_a_header_get_formerr(string what, byte[] query, bool questionEchoed)
    {
        var reply = await UdpAsync(query);

        Assert.True(reply.Id == 0x0A0B, what);
        Assert.True(reply.Qr);
        Assert.Equal(0, reply.Opcode);
        Assert.True(reply.Rd);
        Assert.False(reply.Aa);
        Assert.Equal((int)ReturnCode.FormatError, reply.HeaderRcode);
        Assert.Equal(questionEchoed ? 1 : 0, reply.QdCount);
        Assert.Equal(0, reply.AnCount + reply.NsCount);
        Assert.True(reply.Raw.Length <= query.Length + 11, "an error reply is never much larger than the query");
    }

    [Fact]
    public async Task Malformed_opt_options_get_formerr_with_an_opt_record()
    {
        // RFC 6891 section 7: a FORMERR about the OPT record carries one, so the client can tell a broken
        // option from a server without EDNS.
        var query = Wire.Query(0x0A0C, Service, TypeA, opt: Wire.Opt(4096, 0, true, [0, 10, 0, 9, 1, 2]));

        var reply = await UdpAsync(query);

        Assert.Equal((int)ReturnCode.FormatError, reply.HeaderRcode);
        Assert.Equal(1, reply.ArCount);
        Assert.Equal(DnsWire.UdpPayloadSize, reply.Message.EDnsOptions!.UdpPayloadSize);
        Assert.True(reply.Message.EDnsOptions.IsDnsSecOk);
    }

    [Theory]
    [InlineData("empty", new byte[0])]
    [InlineData("5 bytes", new byte[] { 1, 2, 3, 4, 5 })]
    [InlineData("11 bytes", new byte[] { 0xAA, 0xBB, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0 })]
    [InlineData("a response (QR set)", new byte[] { 0xAA, 0xBB, 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0, 0 })]
    public async Task Packets_without_a_query_header_are_dropped(string what, byte[] packet)
    {
        using var socket = Udp();
        await socket.SendAsync(packet);

        // A probe sent after it is the first thing that comes back: the packet got no reply. (Error
        // replies are written before the next datagram is read, so one would arrive first.)
        var probe = await ExchangeAsync(socket, Wire.Query(0x5150, Service, TypeA));
        Assert.True(probe.Id == 0x5150, what);
        var second = await ExchangeAsync(socket, Wire.Query(0x5151, Service, TypeA));
        Assert.True(second.Id == 0x5151, what);
    }

    [Fact]
    public async Task A_response_sent_as_a_query_is_dropped()
    {
        // An answer to this server's own address must not be answered: two servers would ping-pong forever.
        var response = Wire.Query(0x6160, Service, TypeA);
        response[2] |= 0x80;
        using var socket = Udp();
        await socket.SendAsync(response);

        var probe = await ExchangeAsync(socket, Wire.Query(0x6161, Service, TypeA));
        Assert.Equal(0x6161, probe.Id);
        var second = await ExchangeAsync(socket, Wire.Query(0x6162, Service, TypeA));
        Assert.Equal(0x6162, second.Id);
    }

    [Fact]
    public async Task A_query_larger_than_512_bytes_is_answered()
    {
        // EDNS padding (RFC 7830) takes a query past 512 bytes; it must not be read short.
        var query = Wire.Query(0x7170, Service, TypeA, opt: Wire.Opt(1232, 0, false, Wire.Option(12, new byte[900])));
        Assert.True(query.Length > 900);

        var reply = await UdpAsync(query);

        Assert.Equal(0, reply.HeaderRcode);
        Assert.Equal(1, reply.AnCount);
    }

    // ---- TCP ----

    [Fact]
    public async Task Tcp_malformed_and_badvers_messages_are_answered_and_the_connection_goes_on()
    {
        using var tcp = await TcpAsync();

        var formErr = await ExchangeTcpAsync(tcp, [.. Wire.Header(0x0A0B, 0x0100, 1, 0, 0, 0), 40, (byte)'a']);
        Assert.Equal(0x0A0B, formErr.Id);
        Assert.Equal((int)ReturnCode.FormatError, formErr.HeaderRcode);

        var badVers = await ExchangeTcpAsync(tcp, Wire.Query(0x0A0C, Service, TypeA, opt: Wire.Opt(4096, 1, false)));
        Assert.Equal(ReturnCode.BadVersion, badVers.Message.ReturnCode);
        Assert.Equal(0, badVers.Message.EDnsOptions!.Version);

        var notImp = await ExchangeTcpAsync(tcp, Wire.Query(0x0A0D, "cloudapp.internal", TypeSoa, opcode: 5));
        Assert.Equal((int)ReturnCode.NotImplemented, notImp.HeaderRcode);
        Assert.Equal(5, notImp.Opcode);

        var answer = await ExchangeTcpAsync(tcp, Wire.Query(0x0A0E, Service, TypeA));
        Assert.Equal(0, answer.HeaderRcode);
        Assert.Equal(1, answer.AnCount);
        Assert.True(answer.Aa);
    }

    [Fact]
    public async Task Tcp_pipelined_queries_each_get_their_answer()
    {
        using var tcp = await TcpAsync();
        var batch = new List<byte>();
        for (ushort id = 100; id < 120; id++)
        {
            batch.AddRange(Wire.Framed(Wire.Query(id, id % 2 == 0 ? Service : "nosuchservice.cloudapp.internal", TypeA)));
        }

        await tcp.SendAsync(batch.ToArray());
        var ids = new HashSet<int>();
        for (var i = 0; i < 20; i++)
        {
            var reply = await ReadTcpAsync(tcp);
            Assert.Equal(reply.Id % 2 == 0 ? 0 : (int)ReturnCode.NxDomain, reply.HeaderRcode);
            ids.Add(reply.Id);
        }

        Assert.Equal(Enumerable.Range(100, 20).ToHashSet(), ids);
    }

    [Fact]
    public async Task Tcp_connection_the_client_closes_is_closed_by_the_server()
    {
        var tcp = await TcpAsync();
        var clientPort = ((IPEndPoint)tcp.LocalEndPoint!).Port;
        Assert.Equal(0, (await ExchangeTcpAsync(tcp, Wire.Query(1, Service, TypeA))).HeaderRcode);
        tcp.Shutdown(SocketShutdown.Both);
        tcp.Dispose();

        // The server's side of that connection (local port = DNS port, remote port = ours) must go
        // away, not sit in CLOSE_WAIT holding a descriptor until a garbage collection.
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (ServerSideState(Dns.Port, clientPort) is { } state)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the server still holds the connection from port {clientPort} (TCP state {state})");
            await Task.Delay(50);
        }
    }

    // ---- robustness ----

    [Fact]
    public async Task A_zone_too_long_for_its_soa_names_fails_start_up_naming_the_option()
    {
        var zone = string.Join('.', Enumerable.Repeat(new string('z', 60), 4)) + ".ee"; // 246 characters: hostmaster.<zone> would exceed 255 octets

        var e = await Assert.ThrowsAsync<MultiVip.Model.Errors.MultiVipException>(() => ServerFixture.StartAsync(configure: o => o with { Dns = "127.67.0.1:0", DnsZone = zone }));

        Assert.Contains("--dns-zone", e.Message);
        Assert.Contains("242 characters", e.Message);
    }

    [Fact]
    public async Task Random_and_mutated_packets_never_stop_the_server()
    {
        var random = new Random(20240611);
        var seeds = new[]
        {
            Wire.Query(1, Service, TypeA),
            Wire.Query(2, Service, TypeA, opt: Wire.Opt(4096, 0, true, Wire.Option(10, new byte[8]))),
            Wire.Query(3, "cloudapp.internal", TypeSoa, opcode: 5),
        };
        using var socket = Udp();
        for (var i = 0; i < 3000; i++)
        {
            byte[] packet;
            if (i % 3 == 0)
            {
                packet = new byte[random.Next(0, 600)];
                random.NextBytes(packet);
            }
            else
            {
                packet = (byte[])seeds[i % seeds.Length].Clone();
                for (var flips = random.Next(1, 4); flips > 0; flips--)
                {
                    packet[random.Next(2, packet.Length)] = (byte)random.Next(256);
                }
            }

            if (packet.Length > 2)
            {
                packet[2] &= 0x7F; // queries, not responses: those are only dropped
            }

            await socket.SendAsync(packet);

            if (i % 100 == 99)
            {
                // Every reply must parse; the probe must be answered. Replies to earlier packets may come first.
                var probeId = (ushort)(0xF000 + i / 100);
                await socket.SendAsync(Wire.Query(probeId, Service, TypeA));
                Reply reply;
                do
                {
                    reply = await ReceiveAsync(socket);
                    Assert.True(reply.Qr);
                }
                while (reply.Id != probeId);

                Assert.Equal(1, reply.AnCount);
            }
        }

        // And over TCP, mutated messages one connection each (a dropped message closes its connection).
        for (var i = 0; i < 50; i++)
        {
            var packet = (byte[])seeds[i % seeds.Length].Clone();
            packet[random.Next(2, packet.Length)] = (byte)random.Next(256);
            packet[2] &= 0x7F;
            using var tcp = await TcpAsync();
            await tcp.SendAsync(Wire.Framed(packet));
        }

        using var last = await TcpAsync();
        Assert.Equal(1, (await ExchangeTcpAsync(last, Wire.Query(0xFFFF, Service, TypeA))).AnCount);
    }

    // ---- helpers ----

    private async Task<IPAddress> DefaultVipAsync() =>
        IPAddress.Parse((await fixture.Server.GetAsync<List<MultiVip.Model.Services.VirtualIp>>(ApiRoutes.VirtualIps("myService"))).Single(v => v.IsDnsProgrammed).Address!);

    private Socket Udp()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(Client, 0));
        socket.Connect(Dns);
        return socket;
    }

    private async Task<Reply> UdpAsync(byte[] query)
    {
        using var socket = Udp();
        return await ExchangeAsync(socket, query);
    }

    internal static async Task<Reply> ExchangeAsync(Socket socket, byte[] query)
    {
        await socket.SendAsync(query);
        return await ReceiveAsync(socket);
    }

    internal static async Task<Reply> ReceiveAsync(Socket socket)
    {
        var buffer = new byte[65_535];
        var n = await socket.ReceiveAsync(buffer.AsMemory()).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        return new Reply(buffer[..n]);
    }

    private async Task<Socket> TcpAsync()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(Client, 0));
        await socket.ConnectAsync(Dns).WaitAsync(TimeSpan.FromSeconds(10));
        return socket;
    }

    private static async Task<Reply> ExchangeTcpAsync(Socket socket, byte[] query)
    {
        await socket.SendAsync(Wire.Framed(query));
        return await ReadTcpAsync(socket);
    }

    private static async Task<Reply> ReadTcpAsync(Socket socket)
    {
        var prefix = await ReadExactlyAsync(socket, 2);
        return new Reply(await ReadExactlyAsync(socket, BinaryPrimitives.ReadUInt16BigEndian(prefix)));
    }

    private static async Task<byte[]> ReadExactlyAsync(Socket socket, int count)
    {
        var buffer = new byte[count];
        var read = 0;
        while (read < count)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read)).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.True(n > 0, $"the server closed the connection after {read} of {count} bytes");
            read += n;
        }

        return buffer;
    }

    /// <summary>The TCP state (hex, as /proc/net/tcp shows it) of the server's socket for this client, or null when there is none.</summary>
    private static string? ServerSideState(int serverPort, int clientPort)
    {
        var local = $":{serverPort:X4}";
        var remote = $":{clientPort:X4}";
        foreach (var line in File.ReadLines("/proc/net/tcp").Skip(1))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields[1].EndsWith(local, StringComparison.Ordinal) && fields[2].EndsWith(remote, StringComparison.Ordinal))
            {
                return fields[3];
            }
        }

        return null;
    }
}

/// <summary>Hand-written DNS wire format (RFC 1035 section 4.1), so tests can also write what no library would.</summary>
internal static class Wire
{
    public static byte[] Header(ushort id, ushort flags, ushort qd, ushort an, ushort ns, ushort ar)
    {
        var header = new byte[12];
        BinaryPrimitives.WriteUInt16BigEndian(header, id);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(2), flags);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(4), qd);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(6), an);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(8), ns);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(10), ar);
        return header;
    }

    public static byte[] Name(string name)
    {
        var bytes = new List<byte>();
        foreach (var label in name.TrimEnd('.').Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            bytes.Add((byte)label.Length);
            bytes.AddRange(Encoding.ASCII.GetBytes(label));
        }

        bytes.Add(0);
        return [.. bytes];
    }

    public static byte[] Query(ushort id, string name, ushort type, ushort qclass = 1, int opcode = 0, bool rd = true, bool cd = false, bool ad = false, byte[]? opt = null)
    {
        var flags = (ushort)((opcode << 11) | (rd ? 0x0100 : 0) | (ad ? 0x0020 : 0) | (cd ? 0x0010 : 0));
        var question = new byte[4];
        BinaryPrimitives.WriteUInt16BigEndian(question, type);
        BinaryPrimitives.WriteUInt16BigEndian(question.AsSpan(2), qclass);
        return [.. Header(id, flags, 1, 0, 0, (ushort)(opt is null ? 0 : 1)), .. Name(name), .. question, .. opt ?? []];
    }

    /// <summary>An OPT record (RFC 6891 section 6.1.2): root owner, type 41, class = UDP size, TTL = ext-rcode, version, DO.</summary>
    public static byte[] Opt(ushort udpSize, byte version, bool dnssecOk, byte[]? options = null)
    {
        options ??= [];
        var opt = new byte[11 + options.Length];
        BinaryPrimitives.WriteUInt16BigEndian(opt.AsSpan(1), 41);
        BinaryPrimitives.WriteUInt16BigEndian(opt.AsSpan(3), udpSize);
        opt[6] = version;
        opt[7] = (byte)(dnssecOk ? 0x80 : 0);
        BinaryPrimitives.WriteUInt16BigEndian(opt.AsSpan(9), (ushort)options.Length);
        options.CopyTo(opt, 11);
        return opt;
    }

    public static byte[] Option(ushort code, byte[] data)
    {
        var option = new byte[4 + data.Length];
        BinaryPrimitives.WriteUInt16BigEndian(option, code);
        BinaryPrimitives.WriteUInt16BigEndian(option.AsSpan(2), (ushort)data.Length);
        data.CopyTo(option, 4);
        return option;
    }

    public static byte[] Framed(byte[] message)
    {
        var framed = new byte[2 + message.Length];
        BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)message.Length);
        message.CopyTo(framed, 2);
        return framed;
    }
}

/// <summary>A reply's header read from its bytes; its sections through ARSoft.Tools.Net (<see cref="Message"/>).</summary>
internal sealed class Reply(byte[] raw)
{
    private DnsMessage? _message;

    public byte[] Raw { get; } = raw;

    private ushort Flags => BinaryPrimitives.ReadUInt16BigEndian(Raw.AsSpan(2));

    public int Id => BinaryPrimitives.ReadUInt16BigEndian(Raw);

    public bool Qr => (Flags & 0x8000) != 0;

    public int Opcode => (Flags >> 11) & 0xF;

    public bool Aa => (Flags & 0x0400) != 0;

    public bool Tc => (Flags & 0x0200) != 0;

    public bool Rd => (Flags & 0x0100) != 0;

    public bool Ra => (Flags & 0x0080) != 0;

    public bool Ad => (Flags & 0x0020) != 0;

    public bool Cd => (Flags & 0x0010) != 0;

    public int HeaderRcode => Flags & 0xF;

    public int QdCount => BinaryPrimitives.ReadUInt16BigEndian(Raw.AsSpan(4));

    public int AnCount => BinaryPrimitives.ReadUInt16BigEndian(Raw.AsSpan(6));

    public int NsCount => BinaryPrimitives.ReadUInt16BigEndian(Raw.AsSpan(8));

    public int ArCount => BinaryPrimitives.ReadUInt16BigEndian(Raw.AsSpan(10));

    /// <summary>Length of the first question (an uncompressed name, type, class).</summary>
    public int QuestionLength
    {
        get
        {
            var pos = 12;
            while (Raw[pos] != 0)
            {
                pos += Raw[pos] + 1;
            }

            return pos + 1 + 4 - 12;
        }
    }

    public DnsMessage Message => _message ??= DnsMessage.Parse(Raw);

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"id {Id} rcode {HeaderRcode} qd {QdCount} an {AnCount} ns {NsCount} ar {ArCount}");
}
