using System.Buffers.Binary;
using ARSoft.Tools.Net.Dns;

namespace MultiVip.Server.Dns;

/// <summary>What the screener decided for one incoming packet.</summary>
internal enum DnsVerdict
{
    /// <summary>No reply at all: not even a header (nothing to address a reply to), or a response (never answer those: two servers would ping-pong).</summary>
    Drop,

    /// <summary>Answered here with <see cref="DnsScreening.Reply"/> (FORMERR, NOTIMP, BADVERS): the library never sees the packet.</summary>
    Reply,

    /// <summary>A well-formed standard query: ARSoft.Tools.Net parses it and <see cref="DnsAnswerer"/> answers it.</summary>
    Answer,
}

/// <summary>The query's OPT record (RFC 6891 section 6.1.2): what the reply must echo and how large a UDP reply may be.</summary>
internal readonly record struct Edns(ushort UdpPayloadSize, byte Version, bool DnssecOk);

/// <summary>
/// The screener's result. <see cref="QuestionEnd"/> is where the first question ends (0: no usable
/// question), so replies written here can echo it verbatim (case included, for 0x20 resolvers).
/// </summary>
internal sealed record DnsScreening(DnsVerdict Verdict, string Reason, byte[]? Reply, int QuestionEnd, Edns? Edns)
{
    /// <summary>
    /// The largest UDP reply this client takes: 512 without EDNS (RFC 1035 section 4.2.1), else its
    /// advertised size capped by ours, never below 512 (RFC 6891 section 6.2.5), as NSD and Knot do.
    /// </summary>
    public int UdpLimit => Edns is { } edns ? Math.Max(DnsWire.ClassicUdpSize, Math.Min((int)edns.UdpPayloadSize, DnsWire.UdpPayloadSize)) : DnsWire.ClassicUdpSize;
}

/// <summary>
/// Reads every incoming packet before ARSoft.Tools.Net does, because the library answers nothing it
/// cannot parse (it drops the packet and raises an exception), treats a non-zero EDNS version as
/// version 0, and turns UPDATE into a different message type. Here the header is checked and every
/// section walked (names, pointers, record lengths, the OPT record); the packets that must be refused
/// get their FORMERR, NOTIMP or BADVERS reply written here: a header, the question copied from the
/// query and an OPT record, never more bytes than the query had plus 11, so an error reply cannot
/// amplify a spoofed query. Everything else, well-formed standard queries, goes to the library.
/// Pure (bytes in, bytes out), never throws.
/// </summary>
internal static class DnsWire
{
    /// <summary>
    /// Our EDNS UDP payload size: 1232 bytes fit the IPv6 minimum MTU (1280) with its headers, so
    /// no answer is fragmented (the DNS flag day 2020 value, NSD's and Knot's default).
    /// </summary>
    public const int UdpPayloadSize = 1232;

    /// <summary>The UDP size every client takes (RFC 1035 section 4.2.1).</summary>
    public const int ClassicUdpSize = 512;

    public const int HeaderSize = 12;

    private const int OptType = 41;
    private const int MaxNameLength = 255;

    public static DnsScreening Screen(ReadOnlySpan<byte> packet)
    {
        if (packet.Length < HeaderSize)
        {
            return new DnsScreening(DnsVerdict.Drop, $"{packet.Length} bytes, shorter than a DNS header", null, 0, null);
        }

        var flags = BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);
        if ((flags & 0x8000) != 0)
        {
            return new DnsScreening(DnsVerdict.Drop, "a response, not a query", null, 0, null);
        }

        var walk = Walk(packet);
        var opcode = (flags >> 11) & 0xF;
        if (opcode != (int)OperationCode.Query)
        {
            // Checked first, as NSD does: another opcode may define the rest of the packet differently.
            return Refuse(packet, ReturnCode.NotImplemented, $"opcode {opcode} is not QUERY", walk);
        }

        if (walk.Error is not null)
        {
            return Refuse(packet, ReturnCode.FormatError, walk.Error, walk);
        }

        if (walk.Edns is { Version: not 0 } edns)
        {
            // RFC 6891 section 6.1.3: BADVERS, with an OPT record of the highest version we implement (0).
            return Refuse(packet, ReturnCode.BadVersion, $"EDNS version {edns.Version}", walk);
        }

        try
        {
            // The walk accepted it; make sure the library does too, so no packet is silently lost in it.
            DnsMessage.Parse(packet.ToArray());
        }
        catch (Exception e)
        {
            // Whatever its parser hits (index, format, unsupported label...): the packet is malformed to it.
            return Refuse(packet, ReturnCode.FormatError, "not parseable: " + e.Message, walk);
        }

        return new DnsScreening(DnsVerdict.Answer, "query", null, walk.QuestionEnd, walk.Edns);
    }

    /// <summary>
    /// The reply for an answer that does not fit this client's UDP limit: its header with TC set and
    /// no records, the question and the OPT record, so the client asks again over TCP (RFC 1035 4.2.1,
    /// RFC 2181 section 9).
    /// </summary>
    public static byte[] Truncated(ReadOnlySpan<byte> query, DnsScreening screening, ReadOnlySpan<byte> response)
    {
        var flags = (ushort)(BinaryPrimitives.ReadUInt16BigEndian(response[2..]) | 0x0200);
        return Write(query, BinaryPrimitives.ReadUInt16BigEndian(response), flags, 0, screening.QuestionEnd, screening.Edns);
    }

    private static DnsScreening Refuse(ReadOnlySpan<byte> query, ReturnCode rcode, string reason, WalkResult walk)
    {
        var queryFlags = BinaryPrimitives.ReadUInt16BigEndian(query[2..]);

        // QR set; the opcode and RD echoed; AA, TC, RA, AD, CD and Z clear (NSD and Knot keep only RD).
        var flags = (ushort)(0x8000 | (queryFlags & 0x7800) | (queryFlags & 0x0100) | ((int)rcode & 0xF));
        var reply = Write(query, BinaryPrimitives.ReadUInt16BigEndian(query), flags, (int)rcode >> 4, walk.QuestionEnd, walk.Edns);
        return new DnsScreening(DnsVerdict.Reply, reason, reply, walk.QuestionEnd, walk.Edns);
    }

    /// <summary>Header, the query's first question (when it had exactly one) and our OPT record (when it had one).</summary>
    private static byte[] Write(ReadOnlySpan<byte> query, ushort id, ushort flags, int extendedRcode, int questionEnd, Edns? edns)
    {
        var question = questionEnd > HeaderSize ? query[HeaderSize..questionEnd] : [];
        var reply = new byte[HeaderSize + question.Length + (edns is null ? 0 : 11)];
        var span = reply.AsSpan();
        BinaryPrimitives.WriteUInt16BigEndian(span, id);
        BinaryPrimitives.WriteUInt16BigEndian(span[2..], flags);
        BinaryPrimitives.WriteUInt16BigEndian(span[4..], (ushort)(question.IsEmpty ? 0 : 1));
        BinaryPrimitives.WriteUInt16BigEndian(span[10..], (ushort)(edns is null ? 0 : 1));
        question.CopyTo(span[HeaderSize..]);
        if (edns is { } opt)
        {
            // OPT: root owner, type 41, class = our payload size, TTL = extended RCODE, version 0, DO echoed; no options.
            var at = span[(HeaderSize + question.Length)..];
            at[0] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(at[1..], OptType);
            BinaryPrimitives.WriteUInt16BigEndian(at[3..], UdpPayloadSize);
            at[5] = (byte)extendedRcode;
            at[6] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(at[7..], (ushort)(opt.DnssecOk ? 0x8000 : 0));
            BinaryPrimitives.WriteUInt16BigEndian(at[9..], 0);
        }

        return reply;
    }

    private readonly record struct WalkResult(string? Error, int QuestionEnd, Edns? Edns);

    /// <summary>
    /// Walks the whole packet the way Knot's parser does: exactly one question with an uncompressed
    /// name, every record inside the packet, at most one OPT record and only in the additional section
    /// with the root as owner and well-formed options, nothing after the last record. The first
    /// question and the OPT record are kept even when something else is wrong, for the error reply.
    /// </summary>
    private static WalkResult Walk(ReadOnlySpan<byte> p)
    {
        var qdCount = BinaryPrimitives.ReadUInt16BigEndian(p[4..]);
        var counts = new[] { BinaryPrimitives.ReadUInt16BigEndian(p[6..]), BinaryPrimitives.ReadUInt16BigEndian(p[8..]), BinaryPrimitives.ReadUInt16BigEndian(p[10..]) };
        var pos = HeaderSize;
        var questionEnd = 0;
        string? error = qdCount switch
        {
            0 => "no question",
            1 => null,
            _ => $"{qdCount} questions (one per query)",
        };

        for (var i = 0; i < qdCount; i++)
        {
            // The first name of a message has nothing before it to point to (Knot: no compression in QNAME).
            if (!SkipName(p, ref pos, allowPointers: i > 0) || pos + 4 > p.Length)
            {
                return new WalkResult(error ?? "question is malformed", questionEnd, null);
            }

            pos += 4;
            if (i == 0 && qdCount == 1)
            {
                questionEnd = pos;
            }
        }

        Edns? edns = null;
        for (var section = 0; section < 3; section++)
        {
            for (var i = 0; i < counts[section]; i++)
            {
                var owner = pos;
                if (!SkipName(p, ref pos, allowPointers: true) || pos + 10 > p.Length)
                {
                    return new WalkResult(error ?? "record is malformed", questionEnd, edns);
                }

                var type = BinaryPrimitives.ReadUInt16BigEndian(p[pos..]);
                var rrClass = BinaryPrimitives.ReadUInt16BigEndian(p[(pos + 2)..]);
                var ttl = BinaryPrimitives.ReadUInt32BigEndian(p[(pos + 4)..]);
                var rdLength = BinaryPrimitives.ReadUInt16BigEndian(p[(pos + 8)..]);
                pos += 10;
                if (pos + rdLength > p.Length)
                {
                    return new WalkResult(error ?? "record data runs past the end of the packet", questionEnd, edns);
                }

                if (type == OptType)
                {
                    if (section != 2)
                    {
                        return new WalkResult(error ?? "OPT record outside the additional section", questionEnd, edns);
                    }

                    if (edns is not null)
                    {
                        // RFC 6891 section 6.1.1: more than one OPT record is a FORMERR.
                        return new WalkResult(error ?? "more than one OPT record", questionEnd, edns);
                    }

                    if (pos - owner != 11 || p[owner] != 0)
                    {
                        return new WalkResult(error ?? "OPT record owner is not the root", questionEnd, edns);
                    }

                    edns = new Edns(rrClass, (byte)(ttl >> 16), (ttl & 0x8000) != 0);

                    // Options of another EDNS version may be laid out differently: that query gets BADVERS, not FORMERR.
                    if (edns.Value.Version == 0 && !OptionsAreWellFormed(p.Slice(pos, rdLength)))
                    {
                        return new WalkResult(error ?? "OPT options are malformed", questionEnd, edns);
                    }
                }

                pos += rdLength;
            }
        }

        if (error is null && pos != p.Length)
        {
            error = $"{p.Length - pos} bytes after the last record";
        }

        return new WalkResult(error, questionEnd, edns);
    }

    /// <summary>Option code, length, data, repeated to exactly the end of the RDATA. Unknown codes are fine (ignored later).</summary>
    private static bool OptionsAreWellFormed(ReadOnlySpan<byte> rdata)
    {
        var pos = 0;
        while (pos < rdata.Length)
        {
            if (pos + 4 > rdata.Length)
            {
                return false;
            }

            pos += 4 + BinaryPrimitives.ReadUInt16BigEndian(rdata[(pos + 2)..]);
        }

        return pos == rdata.Length;
    }

    /// <summary>
    /// Skips one domain name: labels of at most 63 octets, at most 255 octets in all, compression
    /// pointers only past the header and each one further back than the last, so a loop is impossible.
    /// Label types 01 and 10 (RFC 6891 section 5, obsolete) are malformed.
    /// </summary>
    private static bool SkipName(ReadOnlySpan<byte> p, ref int pos, bool allowPointers)
    {
        var cursor = pos;
        var length = 0;
        var limit = pos;
        var jumped = false;
        while (cursor < p.Length)
        {
            var b = p[cursor];
            if (b == 0)
            {
                if (!jumped)
                {
                    pos = cursor + 1;
                }

                return length + 1 <= MaxNameLength;
            }

            switch (b & 0xC0)
            {
                case 0x00:
                    length += b + 1;
                    if (length > MaxNameLength || cursor + 1 + b > p.Length)
                    {
                        return false;
                    }

                    cursor += b + 1;
                    break;
                case 0xC0:
                    if (!allowPointers || cursor + 1 >= p.Length)
                    {
                        return false;
                    }

                    var target = ((b & 0x3F) << 8) | p[cursor + 1];
                    if (target < HeaderSize || target >= limit)
                    {
                        return false;
                    }

                    if (!jumped)
                    {
                        pos = cursor + 2;
                        jumped = true;
                    }

                    limit = target;
                    cursor = target;
                    break;
                default:
                    return false;
            }
        }

        return false;
    }
}

/// <summary>What the screener did with a packet, for both transports: Debug only, since any client can send any number of them.</summary>
internal static partial class DnsScreeningLog
{
    [LoggerMessage(EventId = 3010, EventName = "DnsPacketDropped", Level = LogLevel.Debug, Message = "DNS packet from {Remote} dropped: {Reason}")]
    public static partial void Dropped(ILogger logger, System.Net.IPEndPoint remote, string reason);

    [LoggerMessage(EventId = 3011, EventName = "DnsPacketRefused", Level = LogLevel.Debug, Message = "DNS packet from {Remote} answered with an error: {Reason}")]
    public static partial void Refused(ILogger logger, System.Net.IPEndPoint remote, string reason);
}
