using System.Net;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using MultiVip.Control.State;

namespace MultiVip.Server.Dns;

/// <summary>
/// The zone's content, computed from the current <see cref="WorldState"/> on every query: nothing is
/// cached, so an answer follows the default VIP the moment a change commits. Pure (no sockets) so the
/// rules are unit-testable; <see cref="ServiceDnsServer"/> puts it on the wire.
/// </summary>
internal sealed class DnsAnswerer
{
    /// <summary>
    /// A records are short-lived: a default VIP's address changes with a reserved IP association, and a
    /// resolver must not keep sending clients to the old address for long.
    /// </summary>
    public const int AddressTtl = 30;

    /// <summary>The apex (SOA, NS, the name server's address) never changes while the server runs.</summary>
    public const int ApexTtl = 3600;

    /// <summary>SOA minimum, the negative-caching TTL (RFC 2308): a service created just after a miss resolves within 30 s.</summary>
    public const int NegativeTtl = 30;

    private readonly DomainName _zone;
    private readonly DomainName _nameServer;
    private readonly DomainName _hostmaster;
    private readonly IPAddress _nameServerAddress;

    public DnsAnswerer(DomainName zone, IPAddress nameServerAddress)
    {
        _zone = zone;
        _nameServer = DomainName.Parse("ns1." + zone);
        _hostmaster = DomainName.Parse("hostmaster." + zone);
        _nameServerAddress = nameServerAddress;
    }

    public DomainName Zone => _zone;

    /// <summary>
    /// The answer to a standard query (the transports answer malformed, non-QUERY and EDNS-version-1
    /// packets themselves, <see cref="DnsWire.Screen"/>). Flags as NSD and Knot set them: QR, RD
    /// echoed, AA only for answers from the zone, RA, AD and CD clear (CD matters to a validating
    /// resolver, not to the server that owns the data). The OPT record comes back iff the query had
    /// one: version 0, our UDP size, DO echoed, none of the query's options (unknown ones are ignored).
    /// </summary>
    public DnsMessage Answer(DnsMessage query, WorldState world, bool udp)
    {
        var response = query.CreateResponseInstance();
        response.IsRecursionAllowed = false;
        response.IsCheckingDisabled = false;
        response.IsAuthenticData = false;
        if (response.EDnsOptions is { } opt)
        {
            opt.Version = 0;
            opt.UdpPayloadSize = DnsWire.UdpPayloadSize;
        }

        if (query.OperationCode != OperationCode.Query || query.Questions.Count != 1)
        {
            // Screened out before the library parses; kept so this class is right on its own.
            response.ReturnCode = query.OperationCode != OperationCode.Query ? ReturnCode.NotImplemented : ReturnCode.FormatError;
            return response;
        }

        var question = query.Questions[0];
        if (question.RecordClass is not (RecordClass.INet or RecordClass.Any))
        {
            // CHAOS (version.bind, id.server), HESIOD, NONE...: no data of any other class here.
            response.ReturnCode = ReturnCode.Refused;
            return response;
        }

        if (question.RecordType is RecordType.Axfr or RecordType.Ixfr)
        {
            // No zone transfers: AXFR over UDP does not exist (NOTIMP, as NSD and Knot answer), over TCP it is refused.
            response.ReturnCode = question.RecordType == RecordType.Axfr && udp ? ReturnCode.NotImplemented : ReturnCode.Refused;
            return response;
        }

        if (!question.Name.IsEqualOrSubDomainOf(_zone))
        {
            // Authoritative only: no recursion, no referral. REFUSED tells the client to ask elsewhere.
            response.ReturnCode = ReturnCode.Refused;
            return response;
        }

        response.IsAuthoritiveAnswer = true;
        var type = question.RecordType;
        var any = type == RecordType.Any;
        if (question.Name.Equals(_zone))
        {
            if (type == RecordType.Soa || any)
            {
                response.AnswerRecords.Add(Soa(world));
            }

            if (type == RecordType.Ns || any)
            {
                response.AnswerRecords.Add(new NsRecord(_zone, ApexTtl, _nameServer));
            }

            return NoDataIfEmpty(response, world);
        }

        if (question.Name.Equals(_nameServer))
        {
            // Listening on every address (0.0.0.0, ::) names no address to give: NODATA, never a bogus 0.0.0.0.
            var specific = !_nameServerAddress.Equals(IPAddress.Any) && !_nameServerAddress.Equals(IPAddress.IPv6Any);
            if (specific && (type == RecordType.A || any) && _nameServerAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
            {
                response.AnswerRecords.Add(new ARecord(_nameServer, ApexTtl, _nameServerAddress));
            }
            else if (specific && (type == RecordType.Aaaa || any) && _nameServerAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
            {
                response.AnswerRecords.Add(new AaaaRecord(_nameServer, ApexTtl, _nameServerAddress));
            }

            return NoDataIfEmpty(response, world);
        }

        // <service>.<zone>: exactly one label below the apex, the service's DNS label.
        var address = question.Name.LabelCount == _zone.LabelCount + 1 ? DefaultVipAddress(world, question.Name.Labels[0]) : null;
        if (address is null)
        {
            // Unknown service, or one without a deployment (never deployed, or deleted): the name
            // has no records of any type, which is what NXDOMAIN says.
            response.ReturnCode = ReturnCode.NxDomain;
            response.AuthorityRecords.Add(Soa(world));
            return response;
        }

        if ((type == RecordType.A || any) && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
        {
            response.AnswerRecords.Add(new ARecord(question.Name, AddressTtl, address));
        }
        else if ((type == RecordType.Aaaa || any) && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            response.AnswerRecords.Add(new AaaaRecord(question.Name, AddressTtl, address));
        }

        return NoDataIfEmpty(response, world);
    }

    /// <summary>The default VIP (IsDnsProgrammed) is what the service's DNS name means.</summary>
    private static IPAddress? DefaultVipAddress(WorldState world, string label)
    {
        if (!world.Services.TryGetValue(label, out var service) || service.Deployment is null)
        {
            return null;
        }

        foreach (var vip in service.Deployment.VirtualIps)
        {
            if (vip.IsDnsProgrammed)
            {
                return IPAddress.TryParse(vip.Address, out var address) ? address : null;
            }
        }

        return null;
    }

    /// <summary>NODATA (RFC 2308): the name exists but not with this type; the SOA tells how long to cache that.</summary>
    private DnsMessage NoDataIfEmpty(DnsMessage response, WorldState world)
    {
        if (response.AnswerRecords.Count == 0)
        {
            response.AuthorityRecords.Add(Soa(world));
        }

        return response;
    }

    /// <summary>The serial is the world's generation: it moves whenever anything that could change an answer commits.</summary>
    private SoaRecord Soa(WorldState world) =>
        new(_zone, ApexTtl, _nameServer, _hostmaster, unchecked((uint)world.Generation), 900, 300, 604_800, NegativeTtl);
}
